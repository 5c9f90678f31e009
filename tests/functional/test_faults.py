"""A run killed at every step boundary leaves silver readable and consistent, and the
retry gives exactly what a run that never failed gives.

Step boundaries are found, not guessed: a clean run records every mutating S3 and Glue
call it makes (file writes, catalog updates, cleanup deletes, run records); then, for each
call in turn, a fresh warehouse replays the same run with a fault injected just before
that call (and once just after the last one). Injecting at the botocore client means no
code path of the pipeline, whatever module it lives in, escapes the test.

Two kinds of fault: `killed` (once it fired, every later S3/Glue write of that process
fails too, so nothing cleans up after it: no lock release, no failed-run record, as after
a kill -9) and `error` (one call fails, the process lives on and cleans up). After each:
the run exits non-zero; every registered silver and bronze partition
holds either exactly its rows from before the run or exactly its rows from the clean run
(never a mix, never missing files); the retry (same run id, same `--as-of`) exits 0 and
leaves the same rows, the same files and the same change counts as the clean run.
"""

from __future__ import annotations

import hashlib
import json
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path
from typing import Any
from unittest import mock

import pytest
from botocore.client import BaseClient

from ppdw.aws.session import is_mutating
from ppdw.config.loader import load_project
from tests.data.bad import make_bad
from tests.functional._reliability import SourceServer, Warehouse, describe, error_text
from tests.functional.pipeline_support import aws_target, make_core

pytestmark = pytest.mark.usefixtures("moto_aws")

FIRST_AS_OF = "2026-10-15T06:00:00Z"
SECOND_AS_OF = "2026-11-02T06:00:00Z"  # another month: closing versions rewrites 2026-10
SECOND_RUN_ID = "nsde-second"
WATCHED = ("s3", "glue")


class InjectedFault(RuntimeError):
    """Stands for the process dying at this point (every later write fails as well)."""


@dataclass
class Injector:
    fail_at: int | None = None
    after: bool = False
    killed: bool = True
    trace: list[str] | None = None
    fired: bool = False

    def __post_init__(self) -> None:
        self.trace = []


@contextmanager
def inject(
    fail_at: int | None = None, *, after: bool = False, killed: bool = True
) -> Iterator[Injector]:
    """Count mutating S3/Glue calls; raise `InjectedFault` at call `fail_at` (and, when
    `killed`, at every later one)."""
    injector = Injector(fail_at, after, killed)
    original = BaseClient._make_api_call

    def call(client: BaseClient, operation: str, params: dict[str, Any]) -> Any:
        service = client.meta.service_model.service_name
        if service not in WATCHED or not is_mutating(operation):
            return original(client, operation, params)
        assert injector.trace is not None
        if injector.fired and injector.killed:
            # The process is dead: nothing after the fault is written (no cleanup, no lock
            # release, no failed-run record), exactly as after a kill -9.
            raise InjectedFault(f"dead before {service}.{operation}")
        index = len(injector.trace)
        target = params.get("Key") or params.get("TableName") or params.get("Name") or ""
        injector.trace.append(f"{service}.{operation} {target}")
        if index == injector.fail_at and not after:
            injector.fired = True
            raise InjectedFault(f"before {injector.trace[-1]}")
        result = original(client, operation, params)
        if index == injector.fail_at and after:
            injector.fired = True
            raise InjectedFault(f"after {injector.trace[-1]}")
        return result

    with mock.patch.object(BaseClient, "_make_api_call", call):
        yield injector


def _second_snapshot() -> bytes:
    """One UPDATE (row 1), one DELETE (row 2), one INSERT (row 201)."""
    rows = make_bad.nsde_rows(make_bad.BASE_ROWS + 1)
    rows[0][2] = "PRODUCT 1 NEW NAME"
    del rows[1]
    return make_bad.nsde_zip(make_bad.nsde_bytes(rows))


@dataclass(frozen=True)
class View:
    """What readers see, per layer and partition, plus the files and change counts."""

    silver: dict[tuple[str, ...], list[dict[str, Any]]]
    bronze: dict[tuple[str, ...], list[dict[str, Any]]]
    files: list[str]


def _by_partition(rows: list[dict[str, Any]]) -> dict[tuple[str, ...], list[dict[str, Any]]]:
    parts: dict[tuple[str, ...], list[dict[str, Any]]] = {}
    for row in rows:
        parts.setdefault(tuple(row["__partition__"]), []).append(row)
    return parts


def _view(wh: Warehouse) -> View:
    return View(
        silver=_by_partition(wh.reader_rows(wh.silver_db, "nsde")),
        bronze=_by_partition(wh.reader_rows(wh.bronze_db, "nsde")),
        files=wh.keys("silver/silver_nsde/") + wh.keys("bronze/bronze_nsde/"),
    )


def _fresh(project: Path, sources: Path) -> tuple[Warehouse, Path]:
    from moto.moto_api._internal.models import moto_api_backend

    moto_api_backend.reset()
    wh = Warehouse(project)
    # The minimal core the local runner needs (deploying Lambda, jobs and the state
    # machine 50 times would only slow this test down).
    make_core(aws_target(), load_project(project), ["nsde"])
    base = make_bad.build_base("nsde", sources)
    first = wh.run("nsde", base, FIRST_AS_OF, "nsde-first")
    assert first.exit_code == 0, describe(first)
    second = sources / "second" / make_bad.BASE_FILE_NAMES["nsde"]
    second.parent.mkdir(parents=True, exist_ok=True)
    second.write_bytes(_second_snapshot())
    return wh, second


def _partition_problems(
    label: str,
    seen: dict[tuple[str, ...], list[dict[str, Any]]],
    before: dict[tuple[str, ...], list[dict[str, Any]]],
    clean: dict[tuple[str, ...], list[dict[str, Any]]],
) -> list[str]:
    problems = []
    for values in sorted(set(seen) | set(before)):
        rows = seen.get(values)
        if rows is None:
            problems.append(f"{label} partition {values} vanished")
        elif rows != before.get(values) and rows != clean.get(values):
            problems.append(f"{label} partition {values} is neither the old nor the new one")
    return problems


@pytest.mark.parametrize("killed", [True, False], ids=["killed", "error"])
def test_a_fault_at_every_step_boundary_leaves_silver_consistent_and_the_retry_completes(
    project: Path, tmp_path: Path, killed: bool
) -> None:
    wh, second = _fresh(project, tmp_path / "clean")
    before = _view(wh)
    with inject() as clean_run:
        result = wh.run("nsde", second, SECOND_AS_OF, SECOND_RUN_ID)
    assert result.exit_code == 0, describe(result)
    clean = _view(wh)
    clean_changes = wh.status("nsde")["silver"]["last_changes"]
    assert clean_changes == {"INSERT": 1, "UPDATE": 1, "DELETE": 1}
    assert clean_run.trace, "the run made no mutating call"
    boundaries = [(i, False) for i in range(len(clean_run.trace))]
    boundaries.append((len(clean_run.trace) - 1, True))

    problems: list[str] = []
    for index, after in boundaries:
        where = f"{'after' if after else 'before'} call {index} ({clean_run.trace[index]})"
        wh, second = _fresh(project, tmp_path / f"fault-{index}-{after}")
        with inject(index, after=after, killed=killed) as faulty:
            failed = wh.run("nsde", second, SECOND_AS_OF, SECOND_RUN_ID)
        if not faulty.fired:
            problems.append(f"{where}: the run took another path: {faulty.trace}")
            continue
        if failed.exit_code == 0:
            problems.append(f"{where}: the run exited 0 although it died")
        seen = _view(wh)
        problems += [
            f"{where}: {p}"
            for p in _partition_problems("silver", seen.silver, before.silver, clean.silver)
        ]
        problems += [
            f"{where}: {p}"
            for p in _partition_problems("bronze", seen.bronze, before.bronze, clean.bronze)
        ]
        last = wh.status("nsde")["last_run"] or {}
        finished = last.get("run_id") == SECOND_RUN_ID and last.get("status") == "succeeded"
        retry = wh.run("nsde", second, SECOND_AS_OF, SECOND_RUN_ID)
        if finished:
            # Died after its record said succeeded (releasing the lock): the run is done,
            # and a run id whose fetch succeeded never fetches again (data.md, Run).
            if retry.exit_code != 2 or "--from bronze" not in retry.stderr:
                problems.append(f"{where}: a retry of the finished run: {describe(retry)}")
        elif retry.exit_code != 0:
            problems.append(f"{where}: the retry failed: {describe(retry)}")
            continue
        again = _view(wh)
        if again.silver != clean.silver or again.bronze != clean.bronze:
            problems.append(f"{where}: the retry's rows differ from the clean run's")
        if again.files != clean.files:
            extra = sorted(set(again.files) ^ set(clean.files))
            problems.append(f"{where}: the retry left other files than the clean run: {extra}")
        changes = wh.status("nsde")["silver"]["last_changes"]
        if changes != clean_changes:
            problems.append(f"{where}: the retry reports {changes}, the clean run {clean_changes}")
    assert not problems, "\n".join(problems)


# ---------------------------------------------------------------------- the download


def test_a_download_cut_short_is_retried_and_the_complete_file_is_kept(
    project: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setattr("ppdw.runtime.download.BACKOFF_BASE_SECONDS", 0)
    body = make_bad.nsde_base()
    wh = Warehouse(project)
    wh.boot("nsde")
    with SourceServer(body, truncate=2) as server:
        result = wh.run("nsde", server.url, FIRST_AS_OF, "nsde-cut")
    assert result.exit_code == 0, describe(result)
    assert len(server.queries) == 3  # two cut answers, then the whole file
    manifest = json.loads(wh.body("raw/nsde/run_id=nsde-cut/_manifest.json"))
    assert manifest["sha256"] == hashlib.sha256(body).hexdigest()
    assert manifest["bytes"] == len(body)
    assert len(wh.current("nsde")) == make_bad.BASE_ROWS


def test_a_download_that_never_completes_is_never_marked_complete(
    project: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setattr("ppdw.runtime.download.BACKOFF_BASE_SECONDS", 0)
    wh = Warehouse(project)
    wh.boot("nsde")
    first = wh.run("nsde", make_bad.build_base("nsde", project.parent), FIRST_AS_OF, "nsde-1")
    assert first.exit_code == 0, describe(first)
    before = wh.silver_snapshot("nsde")
    with SourceServer(_second_snapshot(), truncate=100) as server:
        result = wh.run("nsde", server.url, SECOND_AS_OF, "nsde-cut")
    assert result.exit_code == 1, describe(result)
    assert "connection closed" in error_text(result), describe(result)
    assert len(server.queries) > 1, "a cut download was not retried"
    assert wh.keys("raw/nsde/run_id=nsde-cut/") == []  # no partial file, no manifest
    assert wh.silver_snapshot("nsde") == before
    assert wh.status("nsde")["last_run"]["status"] == "failed"
