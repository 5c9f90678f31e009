"""The reading commands through the CLI on the local target, as a user runs them after
three runs of the bundled samples (and one failed run): exit codes, JSON documents,
tables, files, and exit 2 with the available names for unknown datasets, keys and runs."""

from __future__ import annotations

import csv
import io
import json
import zipfile
from pathlib import Path
from typing import Any

import pyarrow.parquet as pq
import pytest
from typer.testing import CliRunner, Result

from ppdw.cli.app import app
from ppdw.config.loader import load_project
from tests.functional import pipeline_support as sup

TIMES = ["2026-11-01T06:00:00Z", "2026-11-02T06:00:00Z", "2026-11-03T06:00:00Z"]
RUNS = ["nsde-20261101-060000", "nsde-20261102-060000", "nsde-20261103-060000"]


def cli(project: Path, *args: str) -> Result:
    return CliRunner().invoke(app, ["--project", str(project), *args])


def as_json(result: Result) -> Any:
    assert result.exit_code == 0, result.stderr
    return json.loads(result.stdout)


@pytest.fixture
def three_runs(project: Path) -> Path:
    samples = load_project(project).dataset("nsde").source.samples
    for sample, moment in zip(samples, TIMES, strict=True):
        source = str(project / "fda" / "nsde" / sample)
        result = cli(project, "run", "nsde", "--source", source, "--as-of", moment)
        assert result.exit_code == 0, result.stderr
    return project


def test_reading_after_three_runs(three_runs: Path) -> None:
    project = load_project(three_runs)
    snapshots = [sup.read_snapshot(project, "nsde", i) for i in range(3)]
    expected = sup.expected_changes(snapshots)

    for run_id, snapshot in zip(RUNS, snapshots, strict=True):
        document = as_json(
            cli(
                three_runs,
                "query",
                "SELECT count(*) AS n FROM pp_dw_silver.nsde",
                "--as-of",
                run_id,
                "--json",
            )
        )
        assert document["rows"] == [{"n": len(snapshot.records)}]
        assert document["as_of"] == {"time": TIMES[RUNS.index(run_id)], "run_id": run_id}
        shown = as_json(cli(three_runs, "show", "nsde", "--as-of", run_id, "--json"))
        assert sorted(r["ndc11"] for r in shown["rows"]) == sorted(snapshot.records)

    for run_id, counts in zip(RUNS, expected, strict=True):
        diff = as_json(cli(three_runs, "diff", "nsde", "--run", run_id, "--json"))
        assert {k: diff["counts"][k] for k in counts} == counts
    last = as_json(cli(three_runs, "diff", "nsde", "--json"))
    assert last["run"]["run_id"] == RUNS[-1]
    assert last["from"]["run_id"] == RUNS[-2]

    updated = last["updated"][0]
    key = updated["key"]["ndc11"]
    history = as_json(cli(three_runs, "history", "nsde", f"ndc11={key}", "--json"))
    (entry,) = history["keys"]
    assert entry["key"] == {"ndc11": key}
    assert entry["versions"][-1]["run_id"] == RUNS[-1]
    assert entry["versions"][-1]["changed"] == updated["changes"]

    runs = as_json(cli(three_runs, "runs", "nsde", "--json"))["runs"]
    assert [r["run_id"] for r in runs] == RUNS[::-1]
    assert {r["status"] for r in runs} == {"succeeded"}
    assert [r["changes"]["INSERT"] for r in runs] == [c["INSERT"] for c in expected[::-1]]
    assert all(len(r["source"]["sha256"]) == 64 for r in runs)


def test_people_see_tables_with_thousands_separators(three_runs: Path) -> None:
    result = cli(three_runs, "query", "SELECT 1234567 AS big, count(*) AS n FROM pp_dw_silver.nsde")
    assert result.exit_code == 0, result.stderr
    assert "1,234,567" in result.stdout
    result = cli(three_runs, "history", "nsde", "00185605106")
    assert result.exit_code == 0, result.stderr
    assert "billing_unit" in result.stdout
    assert "EA -> ML" in result.stdout
    result = cli(three_runs, "runs", "nsde")
    assert result.exit_code == 0, result.stderr
    assert RUNS[0] in result.stdout
    assert "succeeded" in result.stdout
    result = cli(three_runs, "diff", "nsde")
    assert result.exit_code == 0, result.stderr
    header = f"nsde: run {RUNS[2]} ({TIMES[2]}) against run {RUNS[1]} ({TIMES[1]})"
    assert result.stdout.splitlines()[0] == header  # one line, not folded to the table


def test_query_writes_csv_and_parquet_and_respects_limit(three_runs: Path, tmp_path: Path) -> None:
    sql = "SELECT ndc11, change_type FROM pp_dw_silver.nsde ORDER BY ndc11, record_effective_date"
    text = cli(three_runs, "query", sql, "--format", "csv")
    assert text.exit_code == 0, text.stderr
    rows = list(csv.DictReader(io.StringIO(text.stdout)))
    parquet = tmp_path / "out.parquet"
    written = cli(three_runs, "query", sql, "--format", "parquet", "--output", str(parquet))
    assert written.exit_code == 0, written.stderr
    assert pq.read_table(parquet).to_pylist() == rows
    limited = as_json(cli(three_runs, "query", sql, "--limit", "5", "--json"))
    assert limited["row_count"] == 5
    assert limited["truncated"] is True
    assert [r["ndc11"] for r in limited["rows"]] == [r["ndc11"] for r in rows[:5]]


def test_a_failed_run_shows_its_reason_beside_the_last_change(three_runs: Path) -> None:
    broken = three_runs / "broken.zip"
    with zipfile.ZipFile(broken, "w") as archive:
        archive.writestr("x.csv", "Item Code,Proprietary Name\n0001,A\n")
    failed = cli(
        three_runs, "run", "nsde", "--source", str(broken), "--as-of", "2026-11-04T06:00:00Z"
    )
    assert failed.exit_code == 1

    runs = as_json(cli(three_runs, "runs", "nsde", "--limit", "1", "--json"))["runs"]
    (newest,) = runs
    assert newest["status"] == "failed"
    assert "ndc11" in newest["error"]
    status = as_json(cli(three_runs, "status", "nsde", "--json"))["datasets"][0]
    assert status["last_run"]["status"] == "failed"
    assert status["last_run"]["error"] == newest["error"]
    assert status["last_change_run"]["run_id"] == RUNS[-1]
    assert status["last_change_run"]["changes"] == {
        k: v
        for k, v in as_json(cli(three_runs, "diff", "nsde", "--json"))["counts"].items()
        if k != "unchanged"
    }
    table = cli(three_runs, "status", "nsde")
    assert "reason:" in table.stdout
    assert "last change" in table.stdout
    assert RUNS[-1] in table.stdout


@pytest.mark.parametrize(
    ("args", "message", "names"),
    [
        (["show", "nope"], "unknown dataset 'nope'", "nsde"),
        (["history", "nsde", "123"], "not in silver of nsde", "00003189386"),
        (["history", "nsde", "code=1"], "not a key column of nsde", "ndc11"),
        (["diff", "nsde", "--run", "nope"], "no run of nsde has that id", RUNS[-1]),
        (["show", "nsde", "--as-of", "yesterday"], "neither a run of nsde", RUNS[0]),
        (
            ["query", "SELECT * FROM pp_dw_silver.drugs"],
            "no table pp_dw_silver.drugs",
            "pp_dw_silver.nsde",
        ),
        (
            ["query", "SELECT nope FROM pp_dw_silver.nsde"],
            "query: Binder Error",
            "pp_dw_silver.nsde",
        ),
        (["query", "SELECT 1 FROM pp_dw_silver.nsde", "--engine", "athena"], "no Athena", "duckdb"),
        (["query", "SELECT 1 FROM pp_dw_silver.nsde", "--format", "parquet"], "needs --output", ""),
        (["show", "nsde", "--columns", "ndc11,colour"], "colour not in", "proprietary_name"),
    ],
)
def test_unknown_names_exit_2_with_the_available_ones(
    three_runs: Path, args: list[str], message: str, names: str
) -> None:
    result = cli(three_runs, *args)
    assert result.exit_code == 2, result.stdout
    assert message in result.stderr
    assert names in result.stderr
    assert result.stdout == ""
