"""`ppdw status` before anything ran: every dataset, honest zeros, both output forms."""

from __future__ import annotations

import json
from pathlib import Path

from typer.testing import CliRunner

from ppdw.cli.app import app


def test_status_json_on_a_fresh_local_target(project: Path) -> None:
    result = CliRunner().invoke(app, ["--project", str(project), "status", "--json"])
    assert result.exit_code == 0, result.stderr
    document = json.loads(result.stdout)
    assert document["target"] == "local"
    assert [d["dataset"] for d in document["datasets"]] == ["nsde", "rxnorm"]
    for item in document["datasets"]:
        assert item == {
            "dataset": item["dataset"],
            "deployed": False,
            "last_run": None,
            "last_change_run": None,
            "raw": {"runs": 0, "latest_run_id": None},
            "bronze": {"partitions": 0, "latest_partition": None, "latest_rows": 0},
            "silver": {
                "rows": 0,
                "current_rows": 0,
                "last_changes": {"INSERT": 0, "UPDATE": 0, "DELETE": 0},
            },
        }


def test_status_table_for_people(project: Path) -> None:
    result = CliRunner().invoke(app, ["--project", str(project), "status", "rxnorm"])
    assert result.exit_code == 0, result.stderr
    assert "rxnorm" in result.stdout
    assert "nsde" not in result.stdout
    assert "deployed" in result.stdout
    assert "0 partitions" in result.stdout


def test_status_of_unknown_dataset_exits_2(project: Path) -> None:
    result = CliRunner().invoke(app, ["--project", str(project), "status", "nope"])
    assert result.exit_code == 2
    assert "unknown dataset 'nope'" in result.stderr


def test_a_command_leaves_nothing_frozen_for_the_collector(project: Path) -> None:
    """The CLI freezes the objects alive while a command works (cli/context.open_target);
    a process running many commands must get them back to the collector afterwards, or
    each command's garbage cycles would pile up for good."""
    import gc

    assert gc.get_freeze_count() == 0
    for _ in range(2):
        result = CliRunner().invoke(app, ["--project", str(project), "status", "--json"])
        assert result.exit_code == 0, result.stderr
        assert gc.get_freeze_count() == 0
