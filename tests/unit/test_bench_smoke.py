"""The benchmark runs end to end at a tiny size, measures everything, and its checks bite.

Not a timing test: no assertion here is about speed. It proves that `python -m bench`
runs ppdw through its CLI and the DuckDB pipeline on the same zips, that ppdw's warehouse
equals the pipeline's at every snapshot, that every goal of issue 14 is computed, and that
the measuring and comparing code can fail.
"""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path
from typing import Any

import pytest

from bench import gen
from bench.checks import rows_equal
from bench.control import classify
from bench.e2e import REPO, parse_ppdw

ROWS = 2000
COMPARED = ("first_load", "churn", "no_change")
EXPECTED_GOALS = {
    "first load: ppdw / DuckDB pipeline",
    "churn: ppdw / DuckDB pipeline",
    "no change (new file, same rows): ppdw / its first load",
    "churn peak RSS / Arrow size of current silver + snapshot",
    "first load: bytes written / bytes the run keeps",
    "churn: bytes written / bytes the run keeps",
    "live view: churn run on a terminal / with plain output",
    "2nd bootstrap-core + deploy --all: mutating calls",
    "ppdw --help minus python -c pass",
    "fetch of a large file: peak RSS",
}


@pytest.fixture(scope="module")
def bench_run(tmp_path_factory: pytest.TempPathFactory) -> tuple[dict[str, Any], Path]:
    work = tmp_path_factory.mktemp("bench")
    results = work / "RESULTS.md"
    command = [sys.executable, "-m", "bench", "--rows", str(ROWS), "--repeat", "1"]
    command += ["--fetch-mb", "4", "--json", "--workdir", str(work / "data")]
    command += ["--results", str(results)]
    done = subprocess.run(command, cwd=REPO, capture_output=True, text=True, timeout=1800)
    assert done.stdout, done.stderr[-3000:]
    return json.loads(done.stdout), results


def _runs(report: dict[str, Any], tool: str, run: str, tty: bool = False) -> list[dict[str, Any]]:
    return [r for r in report["runs"] if (r["tool"], r["run"], r["tty"]) == (tool, run, tty)]


def test_every_run_is_measured(bench_run: tuple[dict[str, Any], Path]) -> None:
    report, _ = bench_run
    wanted = [("ppdw", run, False) for run in (*COMPARED, "same_file")]
    wanted += [("duckdb", run, False) for run in COMPARED]
    wanted += [("ppdw-aws", run, False) for run in (*COMPARED, "same_file")]
    wanted += [("ppdw-view", "churn", False), ("ppdw-view", "churn", True)]
    for tool, run, tty in wanted:
        found = _runs(report, tool, run, tty)
        assert len(found) == 1, (tool, run, tty)
        measured = found[0]
        assert measured["exit"] == 0
        assert measured["seconds"] > 0
        # Peak RSS of the command itself: at least an interpreter, far below the machine.
        assert 20e6 < measured["peak_rss_bytes"] < 4e9
        assert measured["write_bytes"] is not None
        assert measured["load1"] >= 0


def test_ppdw_phases_and_counts_are_read_from_its_output(
    bench_run: tuple[dict[str, Any], Path],
) -> None:
    report, _ = bench_run
    churn = _runs(report, "ppdw", "churn")[0]
    assert set(churn["phases"]) == {"state_load", "fetch", "bronze", "silver", "state_save"}
    assert churn["counts"]["INSERT"] > 0
    assert churn["counts"]["UPDATE"] > 0
    assert churn["counts"]["DELETE"] > 0
    peer = _runs(report, "duckdb", "churn")[0]
    assert {k: churn["counts"][k] for k in ("INSERT", "UPDATE", "DELETE")} == {
        k: peer["counts"][k] for k in ("INSERT", "UPDATE", "DELETE")
    }
    assert _runs(report, "ppdw", "same_file")[0]["status"] == "unchanged"


def test_ppdw_equals_the_duckdb_pipeline_at_every_snapshot(
    bench_run: tuple[dict[str, Any], Path],
) -> None:
    report, _ = bench_run
    checks = report["checks"]
    for run in ("first load", "churn"):
        for what in ("INSERT/UPDATE/DELETE/rejected counts", "bronze rows", "silver rows"):
            prefix = f"2,000 rows, {run}: {what}"
            assert any(name.startswith(prefix) for name in checks), prefix
    # a new zip of the same rows, and that zip again: ppdw stops after the fetch
    for run in ("no change", "same file"):
        for what in ("stops after fetch as unchanged", "silver rows"):
            prefix = f"2,000 rows, {run}: {what}"
            assert any(name.startswith(prefix) for name in checks), prefix
    assert any("AWS-shaped" in name for name in checks)
    assert all(problem is None for problem in checks.values()), checks


def test_every_goal_is_computed_and_written(bench_run: tuple[dict[str, Any], Path]) -> None:
    report, results = bench_run
    assert {goal["name"] for goal in report["goals"]} >= EXPECTED_GOALS
    text = results.read_text()
    for heading in (
        "## Goals (issue 14)",
        "## End to end, medians",
        "## Where the time goes, 2,000 rows",
        "## AWS-shaped run",
        "## Live view",
        "## Correctness checks",
        "## Every run",
    ):
        assert heading in text
    assert "load average" in text


def test_the_row_comparison_reports_a_difference(tmp_path: Path) -> None:
    import pyarrow as pa
    import pyarrow.parquet as pq

    left, right = tmp_path / "l.parquet", tmp_path / "r.parquet"
    pq.write_table(pa.table({"k": ["a", "b"], "v": ["1", "2"]}), left)
    pq.write_table(pa.table({"k": ["a", "b"], "v": ["1", "3"]}), right)
    assert rows_equal([left], [left], ["k", "v"]) is None
    problem = rows_equal([left], [right], ["k", "v"])
    assert problem is not None
    assert problem.startswith("1 rows only in ppdw, 1 only in the DuckDB pipeline")
    assert rows_equal([left], [], ["k", "v"]) is not None


def test_the_child_measures_peak_memory_and_bytes_written(tmp_path: Path) -> None:
    target = tmp_path / "out.bin"
    code = (
        "import os; block = bytearray(200_000_000); block[::4096] = b'x' * len(block[::4096]);"
        f"open({str(target)!r}, 'wb').write(os.urandom(30_000_000))"
    )
    report = tmp_path / "report.json"
    command = [sys.executable, "-m", "bench.child", str(report), "--", sys.executable, "-c", code]
    subprocess.run(command, cwd=REPO, check=True, timeout=120)
    measured = json.loads(report.read_text())
    assert measured["exit"] == 0
    assert measured["peak_rss_bytes"] >= 200_000_000
    assert measured["write_bytes"] >= 30_000_000


def test_ppdw_output_is_parsed_even_when_the_summary_wraps() -> None:
    stderr = "\n".join(
        [
            "INFO ppdw.targets.local: local state loaded in 0.125 s",
            "fetch: succeeded  1.3s",
            "bronze: succeeded  1m05s  1998 rows -> partition 2026-11-02-060000",
            "silver: succeeded  0.9s  INSERT 10 UPDATE 16 DELETE 13, unchanged 1971",
            "Run nsde-20261102-060000 succeeded: bronze 1,998 rows; silver INSERT 10, UPDATE ",
            "16, DELETE 13, unchanged 1,971; 2 rows rejected, 1 duplicate row dropped",
            "INFO ppdw.targets.local: local state saved in 0.050 s (99805 bytes of metadata)",
        ]
    )
    phases, counts, status = parse_ppdw(stderr)
    assert phases == {
        "state_load": 0.125,
        "state_save": 0.05,
        "fetch": 1.3,
        "bronze": 65.0,
        "silver": 0.9,
    }
    assert counts == {
        "bronze_rows": 1998,
        "INSERT": 10,
        "UPDATE": 16,
        "DELETE": 13,
        "unchanged": 1971,
        "rejected": 2,
    }
    assert status == "succeeded"


def test_generator_is_deterministic_and_shaped_like_nsde(tmp_path: Path) -> None:
    first = gen.generate(tmp_path / "a", 3000, seed=5)
    again = gen.generate(tmp_path / "b", 3000, seed=5)
    other = gen.generate(tmp_path / "c", 3000, seed=6)
    assert first.day1.read_bytes() == again.day1.read_bytes()
    assert first.day2.read_bytes() == again.day2.read_bytes()
    assert first.day1.read_bytes() != other.day1.read_bytes()
    text = first.day1.read_text(encoding="utf-8")
    assert text.startswith("\ufeffItem Code,NDC11,Proprietary Name,Dosage Form,")
    assert '"INJECTION, SOLUTION"' in text or '"TABLET, FILM COATED"' in text
    assert ",0" in text  # some NDC11 keys start with a zero
    assert first.updated > 0
    assert first.deleted > 0
    assert first.inserted == 15


def test_calls_are_classified_by_protocol() -> None:
    glue = {"method": "POST", "headers": {"X-Amz-Target": "AWSGlue.GetJob"}, "url": "/"}
    iam = {"method": "POST", "headers": {}, "url": "/", "body": "Action=CreateRole&Version=1"}
    s3_put = {"method": "PUT", "headers": {}, "url": "http://h/bucket/key"}
    s3_head = {"method": "HEAD", "headers": {}, "url": "http://h/bucket/key"}
    assert (classify(glue).operation, classify(glue).mutating) == ("GetJob", False)
    assert (classify(iam).operation, classify(iam).mutating) == ("CreateRole", True)
    assert classify(s3_put).mutating
    assert not classify(s3_head).mutating
