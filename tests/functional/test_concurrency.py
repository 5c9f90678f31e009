"""Two runs at once: one dataset (the second is refused, neither corrupts the other) and
two datasets side by side (both complete).

The overlap is made deterministic: run A is paused (in its own thread) at its first write
into a layer, i.e. while it must hold the dataset's run lock; run B starts and ends while A
waits; then A is released and finishes.
"""

from __future__ import annotations

import json
import subprocess
import sys
import threading
import time
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import replace
from pathlib import Path
from typing import Any
from unittest import mock

import boto3
import pytest
from botocore.client import BaseClient
from typer.testing import Result

from ppdw.config.loader import load_project
from ppdw.runtime import holders, lease
from tests.data.bad import make_bad
from tests.functional._reliability import ACCOUNT, Warehouse, describe, error_text

pytestmark = pytest.mark.usefixtures("moto_aws")

FIRST_AS_OF = "2026-11-01T06:00:00Z"
SECOND_AS_OF = "2026-11-02T06:00:00Z"
WAIT_SECONDS = 60
LOCK_KEY = "silver/_runs/nsde/_lock"


@contextmanager
def paused_in_layer_write(dataset: str) -> Iterator[tuple[threading.Event, threading.Event]]:
    """Pause the thread named `run-a` at its first S3 write under bronze/ or silver/ tables."""
    reached, release = threading.Event(), threading.Event()
    original = BaseClient._make_api_call
    layers = (f"bronze/bronze_{dataset}/", f"silver/silver_{dataset}/")

    def call(client: BaseClient, operation: str, params: dict[str, Any]) -> Any:
        key = str(params.get("Key", ""))
        if (
            threading.current_thread().name == "run-a"
            and operation in ("PutObject", "CreateMultipartUpload", "CopyObject")
            and key.startswith(layers)
            and not reached.is_set()
        ):
            reached.set()
            assert release.wait(WAIT_SECONDS), "run A was never released"
        return original(client, operation, params)

    with mock.patch.object(BaseClient, "_make_api_call", call):
        yield reached, release


def _in_thread(target: Any) -> tuple[threading.Thread, list[Result]]:
    results: list[Result] = []
    thread = threading.Thread(target=lambda: results.append(target()), name="run-a", daemon=True)
    thread.start()
    return thread, results


def _next(tmp_path: Path, dataset: make_bad.Dataset) -> Path:
    folder = tmp_path / "sources" / dataset / "next"
    folder.mkdir(parents=True, exist_ok=True)
    path = folder / make_bad.BASE_FILE_NAMES[dataset]
    path.write_bytes(make_bad.NEXT[dataset]())
    return path


def _base(tmp_path: Path, dataset: make_bad.Dataset) -> Path:
    return make_bad.build_base(dataset, tmp_path / "sources")


def test_a_second_run_of_the_same_dataset_is_refused_while_the_first_runs(
    project: Path, tmp_path: Path
) -> None:
    wh = Warehouse(project)
    wh.boot("nsde")
    first = wh.run("nsde", _base(tmp_path, "nsde"), FIRST_AS_OF, "nsde-first")
    assert first.exit_code == 0, describe(first)
    source = _next(tmp_path, "nsde")

    with paused_in_layer_write("nsde") as (reached, release):
        thread, results = _in_thread(lambda: wh.run("nsde", source, SECOND_AS_OF, "nsde-a"))
        try:
            assert reached.wait(WAIT_SECONDS), "run A never reached a layer write"
            second = wh.run("nsde", source, SECOND_AS_OF, "nsde-b")
            written_by_b = [k for k in wh.keys("") if "nsde-b" in k and "_runs/" not in k]
        finally:
            release.set()
            thread.join(WAIT_SECONDS)

    assert second.exit_code == 1, describe(second)
    message = error_text(second).lower()
    assert "nsde-a" in message or "lock" in message or "running" in message, describe(second)
    assert written_by_b == [], f"the refused run wrote {written_by_b}"
    (a_result,) = results
    assert a_result.exit_code == 0, describe(a_result)
    status = wh.status("nsde")
    assert status["last_run"]["run_id"] == "nsde-a", status
    assert status["silver"]["last_changes"] == {"INSERT": 0, "UPDATE": 1, "DELETE": 0}
    current = wh.current("nsde")
    assert len(current) == make_bad.BASE_ROWS
    assert current[make_bad.nsde_row(1)[1]]["proprietary_name"] == "PRODUCT 1 NEW NAME"


def test_the_lock_is_released_after_a_failed_run(project: Path, tmp_path: Path) -> None:
    wh = Warehouse(project)
    wh.boot("nsde")
    first = wh.run("nsde", _base(tmp_path, "nsde"), FIRST_AS_OF, "nsde-first")
    assert first.exit_code == 0, describe(first)
    broken = make_bad.build(make_bad.CASES_BY_NAME["too_many_fields"], tmp_path / "bad")
    failed = wh.run("nsde", broken, SECOND_AS_OF, "nsde-broken")
    assert failed.exit_code == 1, describe(failed)
    good = wh.run("nsde", _next(tmp_path, "nsde"), SECOND_AS_OF, "nsde-good")
    assert good.exit_code == 0, describe(good)


def test_two_datasets_run_side_by_side(project: Path, tmp_path: Path) -> None:
    wh = Warehouse(project)
    wh.boot("nsde", "rxnorm")
    nsde_base, rxnorm_base = _base(tmp_path, "nsde"), _base(tmp_path, "rxnorm")

    with paused_in_layer_write("nsde") as (reached, release):
        thread, results = _in_thread(lambda: wh.run("nsde", nsde_base, FIRST_AS_OF, "nsde-1"))
        try:
            assert reached.wait(WAIT_SECONDS), "the nsde run never reached a layer write"
            rxnorm = wh.run("rxnorm", rxnorm_base, FIRST_AS_OF, "rxnorm-1")
        finally:
            release.set()
            thread.join(WAIT_SECONDS)

    assert rxnorm.exit_code == 0, describe(rxnorm)
    (nsde,) = results
    assert nsde.exit_code == 0, describe(nsde)
    assert len(wh.current("nsde")) == make_bad.BASE_ROWS
    assert len(wh.current("rxnorm")) == make_bad.BASE_ROWS
    for dataset in ("nsde", "rxnorm"):
        changes = wh.status(dataset)["silver"]["last_changes"]
        assert changes == {"INSERT": make_bad.BASE_ROWS, "UPDATE": 0, "DELETE": 0}


def test_an_identical_command_is_refused_while_the_first_runs(
    project: Path, tmp_path: Path
) -> None:
    """Same source, same --as-of, so the same run id: the second command is refused, not
    handed the first one's lock (issue 10, defect 1)."""
    wh = Warehouse(project)
    wh.boot("nsde")
    first = wh.run("nsde", _base(tmp_path, "nsde"), FIRST_AS_OF, "nsde-first")
    assert first.exit_code == 0, describe(first)
    source = _next(tmp_path, "nsde")
    before = {k: wh.body(k) for k in wh.keys("") if not k.endswith("/_lock")}

    with paused_in_layer_write("nsde") as (reached, release):
        thread, results = _in_thread(lambda: wh.run("nsde", source, SECOND_AS_OF, "nsde-2"))
        try:
            assert reached.wait(WAIT_SECONDS), "run A never reached a layer write"
            second = wh.run("nsde", source, SECOND_AS_OF, "nsde-2")
            during = {k: wh.body(k) for k in wh.keys("") if not k.endswith("/_lock")}
        finally:
            release.set()
            thread.join(WAIT_SECONDS)

    assert second.exit_code == 1, describe(second)
    assert error_text(second).startswith("Error: run nsde-2 of nsde is in progress (pid ")
    assert "Taking over" not in second.stderr
    written = {k for k in during if during[k] != before.get(k)}
    assert all(
        k.startswith(("raw/nsde/run_id=nsde-2/", "silver/_runs/nsde/nsde-2")) for k in written
    )
    (a_result,) = results
    assert a_result.exit_code == 0, describe(a_result)
    assert wh.status("nsde")["silver"]["last_changes"] == {"INSERT": 0, "UPDATE": 1, "DELETE": 0}
    rows = wh.reader_rows(wh.silver_db, "nsde")
    assert len(rows) == make_bad.BASE_ROWS + 1  # one UPDATE: one new version, once
    assert len(wh.current("nsde")) == make_bad.BASE_ROWS


def _dead_process_holder(run_id: str) -> dict[str, Any]:
    """The lock a local runner on this machine left when it was killed."""
    child = subprocess.Popen([sys.executable, "-c", "pass"])
    holder = replace(
        holders.this_process(run_id), pid=child.pid, start=holders.process_start(child.pid)
    )
    child.wait()
    return {"run_id": run_id, "holder": holder.as_json(), "lease_seconds": 60}


def test_a_killed_runs_lock_is_taken_over_at_once_by_the_next_run(
    project: Path, tmp_path: Path
) -> None:
    wh = Warehouse(project)
    wh.boot("nsde")
    first = wh.run("nsde", _base(tmp_path, "nsde"), FIRST_AS_OF, "nsde-first")
    assert first.exit_code == 0, describe(first)
    lock = _dead_process_holder("nsde-dead")
    wh.s3.put_object(Bucket=wh.bucket, Key=LOCK_KEY, Body=json.dumps(lock))

    other = wh.run("nsde", _next(tmp_path, "nsde"), SECOND_AS_OF, "nsde-other")

    assert other.exit_code == 0, describe(other)
    pid = lock["holder"]["pid"]
    assert f"Taking over the lock of run nsde-dead of nsde: its process (pid {pid} " in other.stderr
    assert wh.keys(LOCK_KEY) == []
    assert wh.status("nsde")["silver"]["last_changes"] == {"INSERT": 0, "UPDATE": 1, "DELETE": 0}


def test_a_lock_held_on_another_machine_is_refused_until_its_lease_expires(
    project: Path, tmp_path: Path
) -> None:
    """Its holder's process cannot be checked from here: only the lease's expiry frees it,
    whatever the run id (a retry with the holder's own run id is refused too)."""
    wh = Warehouse(project)
    wh.boot("nsde")
    first = wh.run("nsde", _base(tmp_path, "nsde"), FIRST_AS_OF, "nsde-first")
    assert first.exit_code == 0, describe(first)
    remote = replace(holders.this_process("nsde-2"), host="ci-7", machine="ci-7/boot/pid:[1]")
    lock = {"run_id": "nsde-2", "holder": remote.as_json(), "lease_seconds": 60}
    wh.s3.put_object(Bucket=wh.bucket, Key=LOCK_KEY, Body=json.dumps(lock))
    source = _next(tmp_path, "nsde")

    same = wh.run("nsde", source, SECOND_AS_OF, "nsde-2")
    assert same.exit_code == 1, describe(same)
    assert error_text(same).startswith(
        f"Error: run nsde-2 of nsde is in progress (pid {remote.pid} on host ci-7, lease renewed"
    )
    assert "not been renewed for 60s" in error_text(same)
    assert wh.keys("raw/nsde/run_id=nsde-2/") == []

    lock["lease_seconds"] = 1
    wh.s3.put_object(Bucket=wh.bucket, Key=LOCK_KEY, Body=json.dumps(lock))
    time.sleep(2.2)  # S3's LastModified has whole seconds
    retry = wh.run("nsde", source, SECOND_AS_OF, "nsde-2")
    assert retry.exit_code == 0, describe(retry)
    assert "Taking over the lock of run nsde-2 of nsde: its lease expired" in retry.stderr
    assert wh.keys(LOCK_KEY) == []


def test_a_local_run_waits_for_a_running_execution_of_the_dataset(
    project: Path, tmp_path: Path
) -> None:
    """The execution's Lambda took the lease; the local runner asks Step Functions whether
    the execution still runs: refused while it does, taken over once it ended."""
    wh = Warehouse(project)
    wh.boot("nsde")
    names = load_project(project).warehouse.names.dataset("nsde")
    sfn = boto3.client("stepfunctions", region_name="us-east-1")
    machine = f"arn:aws:states:us-east-1:{ACCOUNT}:stateMachine:{names.state_machine}"
    execution = sfn.start_execution(stateMachineArn=machine, name="nsde-sfn", input="{}")
    held = lease.acquire(
        wh.s3, wh.bucket, names, holders.execution("nsde-sfn", names.state_machine), seconds=3600
    )
    held.leave()  # the Lambda has returned; the execution goes on
    source = _base(tmp_path, "nsde")

    refused = wh.run("nsde", source, FIRST_AS_OF, "nsde-local")
    assert refused.exit_code == 1, describe(refused)
    assert "Step Functions execution nsde-sfn of pp-dw-pipeline-nsde" in error_text(refused)
    assert wh.keys("raw/nsde/run_id=nsde-local/") == []

    sfn.stop_execution(executionArn=execution["executionArn"])
    taken = wh.run("nsde", source, FIRST_AS_OF, "nsde-local")
    assert taken.exit_code == 0, describe(taken)
    assert "its execution ended (ABORTED)" in taken.stderr


def test_a_run_whose_lease_was_taken_over_commits_nothing(project: Path, tmp_path: Path) -> None:
    """Fencing: run A's lease is taken over while A works (as after A's heartbeat stalled
    past the lease on another machine); A must not register a partition nor move the
    last-success pointer, and leaves the lock to its new holder."""
    wh = Warehouse(project)
    wh.boot("nsde")
    first = wh.run("nsde", _base(tmp_path, "nsde"), FIRST_AS_OF, "nsde-first")
    assert first.exit_code == 0, describe(first)
    silver_before = wh.silver_snapshot("nsde")
    bronze_before = wh.partitions(wh.bronze_db, "bronze_nsde")
    pointer = wh.body("silver/_runs/nsde/_last_success.json")
    source = _next(tmp_path, "nsde")
    taker = replace(holders.this_process("nsde-b"), host="ci-7", machine="ci-7/boot/pid:[1]")

    with paused_in_layer_write("nsde") as (reached, release):
        thread, results = _in_thread(lambda: wh.run("nsde", source, SECOND_AS_OF, "nsde-a"))
        try:
            assert reached.wait(WAIT_SECONDS), "run A never reached a layer write"
            lock = {"run_id": "nsde-b", "holder": taker.as_json(), "lease_seconds": 60}
            wh.s3.put_object(Bucket=wh.bucket, Key=LOCK_KEY, Body=json.dumps(lock))
        finally:
            release.set()
            thread.join(WAIT_SECONDS)

    (a_result,) = results
    assert a_result.exit_code == 1, describe(a_result)
    assert error_text(a_result).startswith(
        "Error: run nsde-a of nsde lost its lock (now held by run nsde-b: pid "
    )
    assert wh.partitions(wh.bronze_db, "bronze_nsde") == bronze_before
    assert wh.silver_snapshot("nsde") == silver_before
    assert wh.body("silver/_runs/nsde/_last_success.json") == pointer
    assert json.loads(wh.body(LOCK_KEY))["run_id"] == "nsde-b"
