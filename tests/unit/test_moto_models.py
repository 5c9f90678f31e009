"""The embedded target makes moto read its service models through one loader
(targets/moto_models.py): moto built a new loader, which lists botocore's data folders
again, for every model it read."""

from __future__ import annotations

import pytest
from moto.core import loaders, utils

from ppdw.targets import local, moto_models

_MOTO_OWN = utils._load_service_model  # moto's function, as this module is first imported


def _loaders_built(monkeypatch: pytest.MonkeyPatch) -> list[object]:
    built: list[object] = []
    original = loaders.Loader.__init__

    def counting(self: loaders.Loader, *args: object, **kwargs: object) -> None:
        built.append(self)
        original(self, *args, **kwargs)

    monkeypatch.setattr(loaders.Loader, "__init__", counting)
    return built


def test_models_are_read_by_one_loader_and_are_moto_s_own(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    moto_models.install()
    built = _loaders_built(monkeypatch)
    models = {
        name: utils._load_service_model(name, "service-2")
        for name in ("s3", "glue", "lambda", "stepfunctions")
    }
    utils._load_service_model("glue", "paginators-1")
    assert built == []  # the one loader was built at install
    for name, model in models.items():
        assert model == loaders.create_loader().load_service_model(name, "service-2"), name


def test_the_embedded_target_installs_it(monkeypatch: pytest.MonkeyPatch) -> None:
    # As in a fresh process, whatever an earlier test of this worker installed.
    monkeypatch.setattr(moto_models, "_installed", False)
    monkeypatch.setattr(utils, "_load_service_model", _MOTO_OWN)
    stop = local.start_moto()
    try:
        assert utils._load_service_model.__module__ == moto_models.__name__
    finally:
        stop()
