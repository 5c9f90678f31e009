"""Fixtures of the IAM tests: the simulator, and a warehouse deployed into moto by ppdw."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import pytest

from tests.functional.iam.simulator import Simulator
from tests.functional.iam.warehouse import REGION, Deployed, deploy


@pytest.fixture(scope="session")
def simulator() -> Iterator[Simulator]:
    try:
        started = Simulator.start()
    except RuntimeError as error:
        pytest.fail(str(error))
    yield started
    started.close()


@pytest.fixture
def deployed(
    project: Path, moto_aws: None, monkeypatch: pytest.MonkeyPatch, request: pytest.FixtureRequest
) -> Deployed:
    """`bootstrap-core` + `deploy nsde rxnorm` on `--target aws`, as an admin would, in
    the region the test names (`@pytest.mark.parametrize("deployed", [...], indirect=True)`)
    or us-east-1."""
    region = getattr(request, "param", REGION)
    monkeypatch.setenv("AWS_REGION", region)
    monkeypatch.setenv("AWS_DEFAULT_REGION", region)
    return deploy(project, region)
