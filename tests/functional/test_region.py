"""The region is given to the jobs and the fetch Lambda explicitly, never guessed."""

from __future__ import annotations

from pathlib import Path

import boto3
import pytest

from ppdw.contracts.job_args import JobArgs
from ppdw.errors import ConfigError
from ppdw.runtime import jobs
from ppdw.runtime.fetch import lambda_handler

REPO = Path(__file__).resolve().parents[2]
ARGS = [
    "--dataset", "nsde", "--bucket", "b", "--bronze_database", "pp_dw_bronze",
    "--silver_database", "pp_dw_silver", "--config_key", "scripts/nsde/dataset.json",
    "--run_id", "nsde-20261101-060000", "--run_time", "2026-11-01T06:00:00Z",
]  # fmt: skip


def test_the_region_argument_is_parsed() -> None:
    assert JobArgs.from_argv([*ARGS, "--aws_region", "eu-central-1"]).region == ("eu-central-1")
    assert JobArgs.from_argv(ARGS).region is None


def test_a_job_in_glue_without_its_region_argument_refuses_to_guess(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    # AWS_REGION in the environment is not enough: the deployed argument decides
    monkeypatch.setenv("AWS_REGION", "us-east-1")
    with pytest.raises(ConfigError) as caught:
        jobs.build_context(ARGS)
    assert caught.value.message == "job argument missing: --aws_region"
    assert "ppdw deploy nsde" in (caught.value.hint or "")


def test_a_job_builds_its_clients_in_the_region_argument(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    seen: list[str | None] = []

    def fake_load(s3: object, bucket: str, key: str, expected: str) -> object:
        seen.append(s3.meta.region_name)  # type: ignore[attr-defined]
        raise ConfigError("stop here")

    monkeypatch.setattr(jobs, "load_dataset_config", fake_load)
    monkeypatch.setenv("AWS_REGION", "us-east-1")
    with pytest.raises(ConfigError, match="stop here"):
        jobs.build_context([*ARGS, "--aws_region", "eu-central-1"])
    assert seen == ["eu-central-1"]


def test_the_fetch_lambda_needs_aws_region_and_uses_it(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("PPDW_BUCKET", "b")
    monkeypatch.setenv("PPDW_DATASET_CONFIG", str(REPO / "fda/nsde/config/dataset.json"))
    monkeypatch.delenv("AWS_REGION")
    event = {"run_id": "r1", "run_time": "2026-11-01T06:00:00Z", "source": None}
    with pytest.raises(ConfigError, match="AWS_REGION is not set"):
        lambda_handler(event, None)

    made: list[str] = []
    real = boto3.session.Session

    def session(**kwargs: str) -> boto3.session.Session:
        made.append(kwargs.get("region_name", ""))
        raise ConfigError("stop here")

    monkeypatch.setenv("AWS_REGION", "ap-southeast-2")
    monkeypatch.setattr(boto3.session, "Session", session)
    with pytest.raises(ConfigError, match="stop here"):
        lambda_handler(event, None)
    monkeypatch.setattr(boto3.session, "Session", real)
    assert made == ["ap-southeast-2"]
