"""Config drift before a run: local redeploys and says so; AWS targets refuse (exit 2)."""

from __future__ import annotations

import json
from collections.abc import Callable
from pathlib import Path
from typing import Any

import pytest
from typer.testing import CliRunner

from ppdw.cli.app import app
from tests.cli.warehouse_snapshot import snapshot
from tests.functional import pipeline_support as sup

NSDE_2 = "fda/nsde/sample/2026-11-02/Comprehensive_NDC_SPL_Data_Elements_File.zip"
DEPLOYED_CONFIG = "scripts/nsde/dataset.json"


def invoke(project: Path, *args: str) -> tuple[int, str, str]:
    result = CliRunner().invoke(app, ["--project", str(project), *args])
    return result.exit_code, result.stdout, result.stderr


def edit_json(path: Path, key: str, value: object) -> None:
    data = json.loads(path.read_text())
    data[key] = value
    path.write_text(json.dumps(data, indent=2))


def test_local_run_redeploys_a_changed_config_and_says_so(
    project: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.chdir(project)
    code, _, err = invoke(project, "run", "nsde", "--as-of", "2026-11-01T06:00:00Z")
    assert code == 0, err
    assert "redeployed" not in err
    config = project / "fda/nsde/config/dataset.json"
    edit_json(config, "business_key", ["ndc11", "item_code"])

    code, _, err = invoke(
        project, "run", "nsde", "--as-of", "2026-11-02T06:00:00Z", "--source", NSDE_2
    )
    assert "nsde: config changed (business_key), redeployed" in err
    deployed = snapshot(project)["objects"][DEPLOYED_CONFIG]
    assert json.loads(deployed)["business_key"] == ["ndc11", "item_code"]

    code, _, err = invoke(project, "plan", "nsde")
    assert code == 0, err  # nothing left to deploy


@pytest.mark.usefixtures("moto_aws")
def test_aws_run_refuses_a_drifted_stack_unless_told(project: Path) -> None:
    aws = ("--target", "aws")
    assert invoke(project, *aws, "bootstrap-core", "--yes")[0] == 0
    code, _, err = invoke(project, *aws, "deploy", "nsde", "--yes")
    assert code == 0, err
    edit_json(project / "fda/nsde/config/dataset.json", "business_key", ["item_code"])
    target = sup.aws_target()
    s3 = target.aws.client("s3")
    bucket = sup.load(project).warehouse.names.bucket(target.account_id)
    before = s3.get_object(Bucket=bucket, Key=DEPLOYED_CONFIG)["Body"].read()
    source = ("--source", "https://example.org/nsde.zip", "--as-of", "2026-11-01T06:00:00Z")

    for runner in ("stepfunctions", "local"):
        code, _, err = invoke(project, *aws, "run", "nsde", "--runner", runner, *source)
        assert code == 2, err
        assert "nsde: config changed (business_key) on target aws" in err
        assert "ppdw plan nsde" in err
        assert "ppdw deploy nsde" in err
        assert "--ignore-drift" in err
    assert s3.get_object(Bucket=bucket, Key=DEPLOYED_CONFIG)["Body"].read() == before
    assert "Contents" not in s3.list_objects_v2(Bucket=bucket, Prefix="silver/_runs/nsde/")

    code, out, err = invoke(project, *aws, "run", "nsde", "--no-wait", "--ignore-drift", *source)
    assert code == 0, err
    assert out.strip().endswith(":nsde-20261101-060000")
    assert s3.get_object(Bucket=bucket, Key=DEPLOYED_CONFIG)["Body"].read() == before


NSDE_3 = "fda/nsde/sample/2026-11-03/Comprehensive_NDC_SPL_Data_Elements_File.zip"


def test_local_runs_from_unchanged_inputs_skip_the_stack_checks(
    project: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """The first run checks the stack and leaves a receipt of its inputs; the next run with
    the same inputs trusts it; an edit makes the run check (and redeploy) again."""
    from ppdw.runs import drift, local

    monkeypatch.chdir(project)
    checks: list[str] = []

    def counted(name: str, function: Callable[..., Any]) -> Callable[..., Any]:
        def call(*args: Any, **kwargs: Any) -> Any:
            checks.append(name)
            return function(*args, **kwargs)

        return call

    monkeypatch.setattr(
        local, "prepare_local_target", counted("prepare", local.prepare_local_target)
    )
    monkeypatch.setattr(drift, "guard_drift", counted("drift", drift.guard_drift))

    code, _, err = invoke(project, "run", "nsde", "--as-of", "2026-11-01T06:00:00Z")
    assert code == 0, err
    assert checks == ["prepare"]  # deployed on the way: already exactly the config's
    receipt = snapshot(project)["objects"]["scripts/nsde/local-deploy-receipt.json"]
    assert len(json.loads(receipt)["inputs_sha256"]) == 64

    code, _, err = invoke(
        project, "run", "nsde", "--as-of", "2026-11-02T06:00:00Z", "--source", NSDE_2
    )
    assert code == 0, err
    assert checks == ["prepare"]  # same inputs: no second look at the stack

    edit_json(project / "fda/nsde/config/dataset.json", "business_key", ["ndc11", "item_code"])
    code, _, err = invoke(
        project, "run", "nsde", "--as-of", "2026-11-03T06:00:00Z", "--source", NSDE_3
    )
    assert checks == ["prepare", "prepare", "drift"]
    assert "nsde: config changed (business_key), redeployed" in err


def test_serving_the_local_state_forgets_the_receipts(project: Path) -> None:
    """While served, other clients may change a stack: the next run checks it again."""
    import threading

    from ppdw.targets.local import serve_state, state_dir

    code, _, err = invoke(project, "run", "nsde", "--as-of", "2026-11-01T06:00:00Z")
    assert code == 0, err
    assert "scripts/nsde/local-deploy-receipt.json" in snapshot(project)["objects"]
    stop = threading.Event()
    warehouse = sup.load(project).warehouse
    serve_state(
        warehouse, state_dir(project), "127.0.0.1", 0, ready=lambda *_: stop.set(), stop=stop
    )
    assert "scripts/nsde/local-deploy-receipt.json" not in snapshot(project)["objects"]
