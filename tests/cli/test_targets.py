"""Choosing a target: named targets with an account guard, bad bucket patterns, credentials."""

from __future__ import annotations

import json
from pathlib import Path

import boto3
import pytest
from typer.testing import CliRunner

from ppdw.cli.app import app


def invoke(project: Path, *args: str) -> tuple[int, str]:
    result = CliRunner().invoke(app, ["--project", str(project), *args])
    return result.exit_code, result.stderr


def set_warehouse(project: Path, **values: object) -> None:
    path = project / "config" / "warehouse.json"
    data = json.loads(path.read_text())
    data.update(values)
    path.write_text(json.dumps(data, indent=2))


def buckets() -> list[str]:
    return [b["Name"] for b in boto3.client("s3").list_buckets()["Buckets"]]


@pytest.mark.usefixtures("moto_aws")
def test_a_named_target_refuses_another_account_and_changes_nothing(project: Path) -> None:
    set_warehouse(project, targets={"prod": {"kind": "aws", "account_id": "999999999999"}})
    code, err = invoke(project, "--target", "prod", "bootstrap-core", "--yes")
    assert code == 2
    assert "target 'prod' expects account 999999999999" in err
    assert "answer for account 123456789012" in err
    assert "Traceback" not in err
    assert buckets() == []


@pytest.mark.usefixtures("moto_aws")
def test_a_named_target_with_the_right_account_acts(project: Path) -> None:
    prod = {"kind": "aws", "account_id": "123456789012", "region": "us-east-1"}
    set_warehouse(project, targets={"prod": prod})
    code, err = invoke(project, "--target", "prod", "bootstrap-core", "--yes")
    assert code == 0, err
    assert buckets() == ["pp-dw-123456789012"]


@pytest.mark.usefixtures("moto_aws")
def test_ppdw_target_env_chooses_the_target(project: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    set_warehouse(project, targets={"prod": {"kind": "aws", "account_id": "999999999999"}})
    monkeypatch.setenv("PPDW_TARGET", "prod")
    code, err = invoke(project, "plan", "--core")
    assert code == 2
    assert "expects account 999999999999" in err


@pytest.mark.usefixtures("moto_aws")
def test_an_invalid_bucket_name_is_refused_before_any_call(project: Path) -> None:
    set_warehouse(project, bucket="{prefix}_{account}_Data")
    code, err = invoke(project, "--target", "aws", "bootstrap-core", "--yes")
    assert code == 2
    assert "bucket: 'pp-dw_123456789012_Data' is not a valid S3 bucket name" in err
    assert buckets() == []


def test_an_unknown_target_exits_2_naming_the_known_ones(project: Path) -> None:
    code, err = invoke(project, "--target", "staging", "status")
    assert code == 2
    assert "unknown target 'staging' (known: aws, local)" in err


def test_no_credentials_exit_2_with_a_hint(project: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    for var in ("AWS_ACCESS_KEY_ID", "AWS_SECRET_ACCESS_KEY"):
        monkeypatch.delenv(var, raising=False)
    # No endpoint is reachable either: nothing may leave the machine in this test.
    monkeypatch.setenv("AWS_ENDPOINT_URL", "http://127.0.0.1:9")
    monkeypatch.setenv("AWS_EC2_METADATA_DISABLED", "true")
    code, err = invoke(project, "--target", "aws", "plan", "--core")
    assert code == 2
    assert "no AWS credentials found" in err
    assert "Hint:" in err
