"""Shared fixtures: fake AWS credentials, no real profile, project copies, moto."""

from __future__ import annotations

import shutil
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

from tests.fake_athena import FakeAthena

REPO = Path(__file__).resolve().parent.parent


@pytest.fixture(autouse=True)
def _aws_env(monkeypatch: pytest.MonkeyPatch, tmp_path_factory: pytest.TempPathFactory) -> None:
    """Never reach a real account: fake credentials, fixed region, no profile."""
    for var in (
        "AWS_PROFILE",
        "AWS_DEFAULT_PROFILE",
        "AWS_ENDPOINT_URL",
        "PPDW_TARGET",
        "PPDW_PROJECT",
        "AWS_SESSION_TOKEN",
        "AWS_SECURITY_TOKEN",
    ):
        monkeypatch.delenv(var, raising=False)
    monkeypatch.setenv("AWS_ACCESS_KEY_ID", "testing")
    monkeypatch.setenv("AWS_SECRET_ACCESS_KEY", "testing")
    monkeypatch.setenv("AWS_REGION", "us-east-1")
    monkeypatch.setenv("AWS_DEFAULT_REGION", "us-east-1")
    monkeypatch.setenv("AWS_CONFIG_FILE", "/dev/null")
    monkeypatch.setenv("AWS_SHARED_CREDENTIALS_FILE", "/dev/null")
    monkeypatch.setenv("PPDW_STATE_DIR", str(tmp_path_factory.mktemp("ppdw-state")))
    monkeypatch.setenv("NO_COLOR", "1")


@pytest.fixture(autouse=True)
def fake_athena(monkeypatch: pytest.MonkeyPatch) -> FakeAthena:
    """Athena clients made through `AwsSession` answer workgroup calls from memory (moto
    cannot serve Athena to this botocore: see tests/fake_athena.py). A client a test put
    into the session itself (a Stubber's) is left alone."""
    from ppdw.aws.session import AwsSession

    fake = FakeAthena()
    original = AwsSession.client

    def client(self: AwsSession, service: str) -> Any:
        new = service not in self._clients
        made = original(self, service)
        if service == "athena" and new:
            fake.attach(made)
        return made

    monkeypatch.setattr(AwsSession, "client", client)
    return fake


@pytest.fixture
def project(tmp_path: Path) -> Path:
    """A writable copy of the repository's project files (config and dataset folders)."""
    root = tmp_path / "project"
    root.mkdir()
    shutil.copytree(REPO / "config", root / "config")
    shutil.copytree(REPO / "fda", root / "fda")
    return root


@pytest.fixture
def moto_aws() -> Iterator[None]:
    """moto in this process, the fast way (no boto3 session reset per test).

    The default boto3 session is dropped first: one made before moto was imported (a test
    that only talks to a server, say) lacks moto's handler, and its clients would go to AWS.
    """
    import boto3
    from moto import mock_aws

    boto3.DEFAULT_SESSION = None
    with mock_aws(config={"core": {"reset_boto3_session": False}}):
        yield


@pytest.fixture(params=["duckdb", "arrow"])
def duck_or_arrow(request: pytest.FixtureRequest, monkeypatch: pytest.MonkeyPatch) -> str:
    """Run a test on both paths of the runtime's DuckDB steps (`ppdw.runtime.duck`): DuckDB
    where importable, forced on for the small tables of tests too, and the Arrow path of
    Glue's environment, which has no DuckDB."""
    from ppdw.runtime import duck

    if request.param == "arrow":
        monkeypatch.setattr(duck, "module", lambda: None)
    else:
        assert duck.module() is not None, "DuckDB is a dependency of ppdw"
        monkeypatch.setattr(duck, "FROM_ROWS", 1)
    return str(request.param)
