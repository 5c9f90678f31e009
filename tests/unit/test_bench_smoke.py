"""The benchmark runs end to end at a tiny size, measures everything, and its checks bite.

Not a timing test: no assertion here is about speed. It proves that `python -m bench`
produces every measurement of issue 5, that ppdw's bronze and silver outputs compare equal
with the DuckDB peers, and that the comparison and the call counting can fail.
"""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

import pytest

from bench import gen
from bench.baselines import parquet_tables_equal
from bench.control import classify
from bench.measure import REPO

ROWS = 2000

EXPECTED_STEPS = {
    "imports",
    f"{ROWS}.bronze.floor",
    f"{ROWS}.bronze.duckdb",
    f"{ROWS}.bronze.ppdw",
    f"{ROWS}.silver.first_load.ppdw",
    f"{ROWS}.silver.first_load.duckdb",
    f"{ROWS}.silver.apply.ppdw",
    f"{ROWS}.silver.apply.duckdb",
    f"{ROWS}.silver.no_change.ppdw",
    "fetch.ppdw",
    "startup.ppdw_help",
    "startup.python_pass",
}
EXPECTED_GOALS = {
    "bronze / floor",
    "bronze / DuckDB",
    "silver apply / DuckDB",
    "silver no-change / first load",
    "silver no-change data files written",
    "bronze peak RSS / Arrow size of bronze",
    "silver peak RSS / Arrow size (current + snapshot)",
    "fetch peak RSS",
    "2nd bootstrap-core + deploy --all: mutating calls",
    "ppdw --help minus python -c pass",
}


@pytest.fixture(scope="module")
def bench_run(tmp_path_factory: pytest.TempPathFactory) -> tuple[dict[str, object], Path]:
    work = tmp_path_factory.mktemp("bench")
    results = work / "RESULTS.md"
    done = subprocess.run(
        [
            sys.executable,
            "-m",
            "bench",
            "--rows",
            str(ROWS),
            "--repeat",
            "1",
            "--fetch-mb",
            "4",
            "--json",
            "--workdir",
            str(work / "data"),
            "--results",
            str(results),
        ],
        cwd=REPO,
        capture_output=True,
        text=True,
        timeout=600,
    )
    assert done.stdout, done.stderr[-3000:]
    return json.loads(done.stdout), results


def test_bench_measures_every_step_and_goal(bench_run: tuple[dict[str, object], Path]) -> None:
    report, _ = bench_run
    measured = report["measured"]
    assert isinstance(measured, dict)
    assert set(measured) >= EXPECTED_STEPS
    for name in EXPECTED_STEPS:
        assert measured[name]["median"] >= 0
        assert len(measured[name]["runs"]) >= 1
    goals = {goal["name"] for goal in report["goals"]}  # type: ignore[union-attr]
    assert goals >= EXPECTED_GOALS
    # Peak RSS comes from fresh processes: at least the interpreter, far below the machine.
    for name in (f"{ROWS}.bronze.ppdw", f"{ROWS}.silver.apply.ppdw", "fetch.ppdw"):
        assert 20e6 < measured[name]["peak_rss_bytes"] < 4e9


def test_ppdw_outputs_equal_the_duckdb_peers(bench_run: tuple[dict[str, object], Path]) -> None:
    report, _ = bench_run
    checks = report["checks"]
    assert isinstance(checks, dict)
    assert set(checks) == {
        f"{ROWS}.bronze ppdw == duckdb",
        f"{ROWS}.silver first load ppdw == duckdb",
        f"{ROWS}.silver apply ppdw == duckdb",
        f"{ROWS}.silver no change leaves silver identical",
    }
    assert all(problem is None for problem in checks.values()), checks
    apply = report["measured"][f"{ROWS}.silver.apply.ppdw"]["detail"]  # type: ignore[index]
    peer = report["measured"][f"{ROWS}.silver.apply.duckdb"]["detail"]  # type: ignore[index]
    for change in ("INSERT", "UPDATE", "DELETE"):
        assert apply[change] == peer[change] > 0
    no_change = report["measured"][f"{ROWS}.silver.no_change.ppdw"]["detail"]  # type: ignore[index]
    assert no_change["data_files_written"] == 0


def test_second_deploy_is_counted_by_the_server(bench_run: tuple[dict[str, object], Path]) -> None:
    report, results = bench_run
    control = report["info"]["control_plane"]  # type: ignore[index]
    # The first pass creates everything: the server saw those writes, so it can count them.
    assert control["first_pass_mutating"] > 10
    assert control["second_pass_calls"] > 0
    text = results.read_text()
    for heading in ("## Goals (issue 5)", "## Correctness checks", "## Scaling", "## Control"):
        assert heading in text


def test_equality_check_reports_a_difference(tmp_path: Path) -> None:
    import pyarrow as pa
    import pyarrow.parquet as pq

    left, right = tmp_path / "l.parquet", tmp_path / "r.parquet"
    pq.write_table(pa.table({"k": ["a", "b"], "v": ["1", "2"]}), left)
    pq.write_table(pa.table({"k": ["a", "b"], "v": ["1", "3"]}), right)
    assert parquet_tables_equal([left], [left], ["k", "v"]) is None
    problem = parquet_tables_equal([left], [right], ["k", "v"])
    assert problem is not None
    assert problem.startswith("1 rows only in the first, 1 only in the second")


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
