"""Stacks whose dataset folder was deleted: `plan` and `status` list them, `destroy` removes
them (`--target aws` on moto)."""

from __future__ import annotations

import json
import shutil
from pathlib import Path

import pytest
from typer.testing import CliRunner

from ppdw.cli.app import app
from tests.functional import pipeline_support as sup

pytestmark = pytest.mark.usefixtures("moto_aws")

STACK = {
    ("rule", "pp-dw-schedule-rxnorm"),
    ("state_machine", "pp-dw-pipeline-rxnorm"),
    ("crawler", "pp-dw-bronze-rxnorm-crawler"),
    ("crawler", "pp-dw-silver-rxnorm-crawler"),
    ("job", "pp-dw-bronze-rxnorm"),
    ("job", "pp-dw-silver-rxnorm"),
    ("function", "pp-dw-raw-fetch-rxnorm"),
    ("log_group", "/aws/lambda/pp-dw-raw-fetch-rxnorm"),
    ("prefix", "scripts/rxnorm/"),
}


def invoke(project: Path, *args: str) -> tuple[int, str, str]:
    result = CliRunner().invoke(app, ["--target", "aws", "--project", str(project), *args])
    return result.exit_code, result.stdout, result.stderr


@pytest.fixture
def orphaned(project: Path) -> Path:
    """nsde and rxnorm deployed, then the folder fda/rxnorm/ deleted."""
    assert invoke(project, "bootstrap-core", "--yes")[0] == 0
    code, _, err = invoke(project, "deploy", "nsde", "rxnorm", "--yes")
    assert code == 0, err
    assert invoke(project, "plan")[0] == 0
    shutil.rmtree(project / "fda/rxnorm")
    return project


def test_plan_shows_the_orphaned_stack_to_destroy(orphaned: Path) -> None:
    code, out, err = invoke(orphaned, "plan")
    assert code == 2, err
    assert (
        "rxnorm: fda/rxnorm/ is gone but its stack is deployed (to destroy: ppdw destroy rxnorm)"
        in err
    )
    for kind, name in STACK:
        assert f"- {kind.replace('_', ' ')} {name}\n" in out, name
    assert "pp-dw-raw-fetch-nsde" not in out  # nsde is up to date

    code, out, _ = invoke(orphaned, "plan", "--json")
    assert code == 2
    deletes = {
        (a["resource_type"], a["name"]) for a in json.loads(out)["actions"] if a["kind"] == "delete"
    }
    assert deletes == STACK


def test_status_lists_the_orphaned_stack(orphaned: Path) -> None:
    code, out, err = invoke(orphaned, "status")
    assert code == 0, err
    assert "Orphaned stacks (dataset folder gone, resources still deployed):" in out
    assert "function pp-dw-raw-fetch-rxnorm" in out
    assert "remove with: ppdw destroy rxnorm" in out

    code, out, err = invoke(orphaned, "status", "--json")
    assert code == 0, err
    document = json.loads(out)
    assert [d["dataset"] for d in document["datasets"]] == ["nsde"]
    (orphan,) = document["orphans"]
    assert orphan["dataset"] == "rxnorm"
    assert orphan["command"] == "ppdw destroy rxnorm"
    assert {(r["type"], r["name"]) for r in orphan["resources"]} == STACK


def test_destroy_removes_an_orphaned_stack(orphaned: Path) -> None:
    code, _, err = invoke(orphaned, "destroy", "rxnorm", "--yes")
    assert code == 0, err
    assert "Destroyed on target aws: 9 resources" in err
    target = sup.aws_target()
    names = [f["FunctionName"] for f in target.aws.client("lambda").list_functions()["Functions"]]
    assert names == ["pp-dw-raw-fetch-nsde"]
    assert invoke(orphaned, "plan")[0] == 0
    code, out, _ = invoke(orphaned, "status", "--json")
    assert json.loads(out)["orphans"] == []


def test_destroy_of_a_name_never_deployed_is_still_unknown(orphaned: Path) -> None:
    code, _, err = invoke(orphaned, "destroy", "rxnrom", "--yes")
    assert code == 2
    assert "unknown dataset" in err
    assert "pp-dw-raw-fetch-rxnorm" in {
        f["FunctionName"]
        for f in sup.aws_target().aws.client("lambda").list_functions()["Functions"]
    }
