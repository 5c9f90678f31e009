"""Two identical `ppdw run` commands started as real processes a moment apart (issue 10,
defect 1): against the embedded local state and against `ppdw local serve`.

Identical commands (same source, same --as-of) share their run id. Whatever the
interleaving, exactly one of them applies the run; the other waits and is then refused
because the run id already fetched its source (embedded state: the state lock serializes
commands; raw is immutable), or is refused because the run is in progress (`local serve`:
the dataset's lease), or refused as already fetched if it started after the first one
finished. Silver must hold each run exactly once: one new version of
the changed key per run, one current version per key, every closed version kept.

The offsets (0 to 0.6 s) move the second command across the first one's whole run; the
assertions hold for every interleaving, so timing decides only which allowed outcome
each pair shows.
"""

from __future__ import annotations

import os
import subprocess
import sys
from collections.abc import Iterator
from itertools import pairwise
from pathlib import Path
from typing import Any

import pytest

from ppdw.config.loader import load_project
from ppdw.targets import open_target
from tests.data.bad import make_bad
from tests.functional._reliability import Warehouse

OFFSETS = (0.0, 0.3, 0.6)
TIMEOUT = 300
KEY = make_bad.nsde_row(1)[1]


def ppdw(project: Path, *args: str) -> list[str]:
    return [sys.executable, "-m", "ppdw", "--project", str(project), *args]


def call(project: Path, *args: str) -> subprocess.CompletedProcess[str]:
    done = subprocess.run(
        ppdw(project, *args), capture_output=True, text=True, timeout=TIMEOUT, env=_env()
    )
    assert done.returncode == 0, f"{args}: exit {done.returncode}\n{done.stderr}"
    return done


def _env() -> dict[str, str]:
    # The embedded state's second command waits for the first instead of giving up after
    # the default 5 s: both commands must get to the dataset's run lock.
    return {**os.environ, "PPDW_LOCK_TIMEOUT": str(TIMEOUT)}


def snapshot(tmp_path: Path, version: int) -> Path:
    """The base NSDE rows with row 1 renamed for each run: every run is one UPDATE."""
    rows = make_bad.nsde_rows()
    rows[0][2] = f"PRODUCT 1 V{version}"
    path = tmp_path / f"snapshot-{version}" / make_bad.BASE_FILE_NAMES["nsde"]
    path.parent.mkdir(parents=True)
    path.write_bytes(make_bad.nsde_zip(make_bad.nsde_bytes(rows)))
    return path


def as_of(version: int) -> str:
    return f"2026-11-{version + 1:02d}T06:00:00Z"


def run_pair(project: Path, source: Path, when: str, offset: float) -> list[tuple[int, str]]:
    """Start the same command twice, `offset` seconds apart; (exit code, stderr) of each."""
    command = ppdw(project, "run", "nsde", "--source", str(source), "--as-of", when)
    first = subprocess.Popen(command, stderr=subprocess.PIPE, text=True, env=_env())
    if offset:
        # Popen returns once the child started; the second child starts `offset` later.
        subprocess.run([sys.executable, "-c", f"import time; time.sleep({offset})"], check=True)
    second = subprocess.Popen(command, stderr=subprocess.PIPE, text=True, env=_env())
    outcomes = []
    for process in (first, second):
        _, stderr = process.communicate(timeout=TIMEOUT)
        outcomes.append((process.returncode, stderr))
    return outcomes


def outcome(code: int, stderr: str, run_id: str) -> str:
    """What a user reads from one command of a pair."""
    assert "Traceback" not in stderr, stderr
    assert "Taking over" not in stderr, stderr  # the other holder was alive throughout
    if code == 2 and f"run {run_id} of nsde already fetched its source" in stderr:
        return "already fetched"  # raw is immutable: the run id fetched once, by the other
    if code == 0 and f"Run {run_id} succeeded" in stderr:
        return "applied"
    if code == 1 and f"Error: run {run_id} of nsde is in progress (pid " in stderr:
        return "refused"
    raise AssertionError(f"unexpected outcome: exit {code}\n{stderr}")


@pytest.fixture
def served(project: Path) -> Iterator[None]:
    """`ppdw local serve` for the project; every command of the test goes through it."""
    process = subprocess.Popen(
        ppdw(project, "local", "serve", "--port", "0"),
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
    )
    assert process.stdout is not None
    first = process.stdout.readline()
    assert first.startswith("Serving the local warehouse"), first
    yield
    process.terminate()
    process.communicate(timeout=60)


def silver_rows(project: Path) -> list[dict[str, Any]]:
    """Silver as a reader sees it, through the local target (embedded or served)."""
    loaded = load_project(project)
    target = open_target(loaded.warehouse, "local", loaded.root)
    try:
        wh = Warehouse(project)
        return wh.reader_rows(wh.silver_db, "nsde")
    finally:
        target.close(False)


def check_identical_commands(project: Path, tmp_path: Path, allowed: set[str]) -> None:
    call(project, "bootstrap-core")
    call(project, "deploy", "nsde")
    call(project, "run", "nsde", "--source", str(snapshot(tmp_path, 0)), "--as-of", as_of(0))
    for version, offset in enumerate(OFFSETS, start=1):
        when = as_of(version)
        run_id = f"nsde-{when[:10].replace('-', '')}-060000"
        pair = run_pair(project, snapshot(tmp_path, version), when, offset)
        outcomes = [outcome(code, stderr, run_id) for code, stderr in pair]
        assert outcomes.count("applied") == 1, (offset, pair)
        assert set(outcomes) - {"applied"} <= allowed, (offset, pair)

    rows = silver_rows(project)
    runs = len(OFFSETS) + 1
    assert len(rows) == make_bad.BASE_ROWS + len(OFFSETS)  # one new version per run, once
    current = [r["ndc11"] for r in rows if r["is_current"]]
    assert sorted(current) == sorted({r["ndc11"] for r in rows})  # one current per key
    assert len(current) == make_bad.BASE_ROWS
    versions = sorted(
        (r for r in rows if r["ndc11"] == KEY), key=lambda r: r["record_effective_date"]
    )
    assert [v["proprietary_name"] for v in versions] == [f"PRODUCT 1 V{i}" for i in range(runs)]
    assert [v["change_type"] for v in versions] == ["INSERT"] + ["UPDATE"] * len(OFFSETS)
    for older, newer in pairwise(versions):  # closed versions chain
        assert not older["is_current"]
        assert older["record_end_date"] == newer["record_effective_date"]


def test_identical_commands_on_the_embedded_state_run_one_after_the_other(
    project: Path, tmp_path: Path
) -> None:
    check_identical_commands(project, tmp_path, allowed={"already fetched"})


@pytest.mark.usefixtures("served")
def test_identical_commands_through_local_serve_apply_the_run_once(
    project: Path, tmp_path: Path
) -> None:
    check_identical_commands(project, tmp_path, allowed={"already fetched", "refused"})
