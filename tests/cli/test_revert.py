"""`ppdw revert` on the local target: the way back from a mistyped --as-of, and its errors."""

from __future__ import annotations

import json
from pathlib import Path

import pytest
from typer.testing import CliRunner

from ppdw.cli.app import app

SAMPLE = "fda/nsde/sample/{day}/Comprehensive_NDC_SPL_Data_Elements_File.zip"


def invoke(project: Path, *args: str) -> tuple[int, str, str]:
    result = CliRunner().invoke(app, ["--project", str(project), *args])
    return result.exit_code, result.stdout, result.stderr


def run(project: Path, day: str, as_of: str, *extra: str) -> tuple[int, str, str]:
    return invoke(
        project, "run", "nsde", "--source", SAMPLE.format(day=day), "--as-of", as_of, *extra
    )


def test_a_mistyped_run_time_is_reverted_and_the_next_run_is_accepted(
    project: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.chdir(project)
    assert run(project, "2026-11-01", "2026-11-01T06:00:00Z")[0] == 0
    code, _, err = run(project, "2026-11-02", "2062-11-04T06:00:00Z", "--force")  # 2062: a typo
    assert code == 0, err
    code, _, err = run(project, "2026-11-02", "2026-11-02T06:00:00Z")
    assert code != 0
    assert "out_of_order" in err

    code, _, err = invoke(project, "revert", "nsde")  # no terminal here, and no --yes
    assert code == 2
    assert "needs approval" in err

    code, _, err = invoke(project, "revert", "nsde", "--yes")
    assert code == 0, err
    assert "Reverted run nsde-20621104-060000 of nsde" in err
    assert "the last applied run is now nsde-20261101-060000" in err

    code, _, err = run(project, "2026-11-02", "2026-11-02T06:00:00Z")
    assert code == 0, err
    runs = json.loads(invoke(project, "runs", "nsde", "--json")[1])["runs"]
    statuses = {r["run_id"]: r["status"] for r in runs}
    assert statuses == {
        "nsde-20261101-060000": "succeeded",
        "nsde-20621104-060000": "reverted",
        "nsde-20261102-060000": "succeeded",
    }
    status = json.loads(invoke(project, "status", "nsde", "--json")[1])["datasets"][0]
    assert status["last_run"]["run_id"] == "nsde-20261102-060000"
    assert status["last_change_run"]["run_id"] == "nsde-20261102-060000"


def test_nothing_to_revert_and_an_unknown_dataset_exit_2(
    project: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.chdir(project)
    code, _, err = invoke(project, "revert", "nsde", "--yes")
    assert code == 2
    assert "nothing to revert: nsde has no applied run" in err

    assert run(project, "2026-11-01", "2026-11-01T06:00:00Z")[0] == 0
    assert invoke(project, "revert", "nsde", "--yes")[0] == 0
    code, _, err = invoke(project, "revert", "nsde", "--yes")
    assert code == 2
    assert "nothing to revert: nsde has no applied run" in err
    assert "Traceback" not in err

    code, _, err = invoke(project, "revert", "nsdee", "--yes")
    assert code == 2
    assert "did you mean 'nsde'?" in err
