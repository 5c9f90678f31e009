"""The dataset's run lease against moto's S3 (which enforces If-None-Match and If-Match on
PutObject and DeleteObject, as S3 does): who may take it, and when.

Holders that live elsewhere are written as S3 objects the way their process would write
them; a dead holder on this machine is a real process that has exited.
"""

from __future__ import annotations

import os
import subprocess
import sys
import time
from dataclasses import replace
from typing import Any

import boto3
import pytest

from ppdw.aws import objects
from ppdw.errors import LeaseLostError, LockedError
from ppdw.naming import CoreNames, DatasetNames
from ppdw.runtime import holders, lease, manifest
from ppdw.runtime.holders import Holder

BUCKET = "pp-dw-123456789012"
NAMES: DatasetNames = CoreNames(prefix="pp-dw").dataset("nsde")
KEY = "silver/_runs/nsde/_lock"


@pytest.fixture
def s3(moto_aws: None) -> Any:
    client = boto3.client("s3", region_name="us-east-1")
    client.create_bucket(Bucket=BUCKET)
    return client


def put_lease(s3: Any, holder: Holder, seconds: int) -> None:
    """A lease as its holder's process wrote it."""
    document = {
        "run_id": holder.run_id,
        "holder": holder.as_json(),
        "lease_seconds": seconds,
        "acquired_at": manifest.format_time(manifest.utc_now()),
        "renewed_at": manifest.format_time(manifest.utc_now()),
    }
    s3.put_object(Bucket=BUCKET, Key=KEY, Body=objects.dumps(document))


def holder_run_id(s3: Any) -> str:
    found = lease.read(s3, BUCKET, NAMES)
    assert found is not None
    return found.run_id


def take(s3: Any, run_id: str, said: list[str] | None = None, **kw: Any) -> lease.Lease:
    return lease.acquire(
        s3,
        BUCKET,
        NAMES,
        holders.this_process(run_id),
        seconds=kw.pop("seconds", 60),
        say=(said if said is not None else []).append,
        **kw,
    )


@pytest.fixture
def exited_process() -> Holder:
    """The holder a local runner on this machine wrote before its process was killed."""
    child = subprocess.Popen(
        [sys.executable, "-c", "import sys; sys.stdin.read()"], stdin=subprocess.PIPE
    )
    holder = replace(
        holders.this_process("nsde-killed"), pid=child.pid, start=holders.process_start(child.pid)
    )
    assert holders.process_alive(child.pid, holder.start)
    child.kill()  # a kill -9: no cleanup
    deadline = time.monotonic() + 10
    # Killed but not reaped yet (a zombie) already counts as dead.
    while holders.process_alive(child.pid, holder.start):
        assert time.monotonic() < deadline, "the killed process still runs"
        time.sleep(0.01)
    child.wait()
    return holder


def test_a_live_holder_is_never_taken_over_even_by_the_same_run(s3: Any) -> None:
    first = take(s3, "nsde-20261101-060000")
    with pytest.raises(LockedError) as refused:
        take(s3, "nsde-20261101-060000")
    assert refused.value.message.startswith("run nsde-20261101-060000 of nsde is in progress (pid ")
    assert "if its process ends without releasing the lock" in str(refused.value.hint)
    assert first.release()
    assert objects.get_bytes(s3, BUCKET, KEY) is None


def test_a_dead_processes_lease_is_taken_over_at_once_by_any_run(
    s3: Any, exited_process: Holder
) -> None:
    put_lease(s3, exited_process, seconds=3600)
    said: list[str] = []
    taken = take(s3, "nsde-other", said)
    assert holder_run_id(s3) == "nsde-other"
    assert said == [
        f"Taking over the lock of run nsde-killed of nsde: its process (pid "
        f"{exited_process.pid} on host {exited_process.host}) is gone."
    ]
    assert taken.release()


def test_a_reused_pid_does_not_keep_a_dead_holder_alive(s3: Any) -> None:
    # A live pid (this test's parent), but started at another time: the holder was
    # another process, which has ended.
    reused = replace(holders.this_process("nsde-old"), pid=os.getppid(), start="1")
    put_lease(s3, reused, seconds=3600)
    take(s3, "nsde-new").release()


def test_a_lease_left_by_an_earlier_attempt_in_this_process_is_dead(s3: Any) -> None:
    left = take(s3, "nsde-1")
    left.leave()  # as after a failure the run could not clean up
    said: list[str] = []
    take(s3, "nsde-1", said).release()
    assert len(said) == 1
    assert "its process" in said[0]


def test_a_lease_from_another_machine_is_taken_over_only_once_it_expired(s3: Any) -> None:
    elsewhere = replace(holders.this_process("nsde-remote"), machine="other-host/boot/pid:[1]")
    put_lease(s3, elsewhere, seconds=60)
    with pytest.raises(LockedError, match="run nsde-remote of nsde is in progress") as refused:
        take(s3, "nsde-remote")  # not even the same run id takes a live-looking lease
    assert "once it has not been renewed for 60s" in str(refused.value.hint)

    put_lease(s3, elsewhere, seconds=1)
    time.sleep(2.2)  # S3 keeps LastModified in whole seconds
    said: list[str] = []
    take(s3, "nsde-local", said).release()
    assert said[0].startswith("Taking over the lock of run nsde-remote of nsde: its lease expired")


def test_a_lock_without_a_holder_counts_as_the_longest_lease(s3: Any) -> None:
    """A lock written by an earlier ppdw (run id and start time only)."""
    s3.put_object(Bucket=BUCKET, Key=KEY, Body=b'{"run_id": "nsde-old", "started_at": "x"}')
    with pytest.raises(LockedError, match=r"holder unknown") as refused:
        take(s3, "nsde-new")
    assert f"renewed for {lease.UNKNOWN_LEASE_SECONDS}s" in str(refused.value.hint)


def test_the_heartbeat_keeps_a_lease_from_expiring(s3: Any) -> None:
    # A holder whose liveness cannot be checked from here: only renewals keep it.
    remote = replace(holders.this_process("nsde-a"), machine="other-host/boot/pid:[1]")
    held = lease.acquire(s3, BUCKET, NAMES, remote, seconds=2)
    with held.heartbeat(interval=0.3):
        time.sleep(3.5)
        with pytest.raises(LockedError, match="nsde-a of nsde is in progress"):
            take(s3, "nsde-b")
    time.sleep(3.2)  # no heartbeat any more: it expires
    take(s3, "nsde-b").release()
    with pytest.raises(LeaseLostError, match="lost its lock"):
        held.check()


def test_a_holder_that_lost_its_lease_is_fenced_and_cannot_release_it(s3: Any) -> None:
    held = take(s3, "nsde-a")
    other = replace(holders.this_process("nsde-b"), machine="other-host/boot/pid:[1]")
    put_lease(s3, other, seconds=60)  # taken over (its holder was judged dead elsewhere)
    with pytest.raises(LeaseLostError) as lost:
        held.check()
    assert lost.value.message.startswith(
        "run nsde-a of nsde lost its lock (now held by run nsde-b: pid "
    )
    assert not held.release()
    assert holder_run_id(s3) == "nsde-b"


def test_two_takers_of_an_expired_lease_cannot_both_win(s3: Any) -> None:
    """Takeover is a conditional write on the ETag that was read."""
    elsewhere = replace(holders.this_process("nsde-gone"), machine="other-host/boot/pid:[1]")
    put_lease(s3, elsewhere, seconds=1)
    time.sleep(2.2)
    found = lease.read(s3, BUCKET, NAMES)
    assert found is not None
    assert found.expired
    winner = take(s3, "nsde-a")
    # The second taker read the same expired lease; its write names the old ETag.
    loser = lease.Lease(s3, BUCKET, NAMES, holders.this_process("nsde-b"), 60, etag="")
    assert objects.put_if_match(s3, BUCKET, KEY, loser.document(), found.etag) is None
    assert holder_run_id(s3) == "nsde-a"
    winner.release()


def _status(answer: str | None) -> holders.ExecutionStatus:
    return lambda machine, name: answer


def test_an_execution_holds_its_lease_while_it_runs(s3: Any) -> None:
    execution = holders.execution("nsde-sfn", "pp-dw-pipeline-nsde")
    put_lease(s3, execution, seconds=lease.EXECUTION_LEASE_SECONDS)
    with pytest.raises(LockedError) as refused:
        take(s3, "nsde-local", executions=_status("RUNNING"))
    assert "Step Functions execution nsde-sfn of pp-dw-pipeline-nsde" in refused.value.message
    with pytest.raises(LockedError):
        take(s3, "nsde-local", executions=_status(None))  # cannot tell: the lease decides
    said: list[str] = []
    take(s3, "nsde-local", said, executions=_status("FAILED")).release()
    assert said[0].endswith("its execution ended (FAILED).")


def test_the_steps_of_one_execution_share_its_lease(s3: Any) -> None:
    execution = holders.execution("nsde-sfn", "pp-dw-pipeline-nsde")
    fetch = lease.acquire(s3, BUCKET, NAMES, execution, seconds=3600)
    fetch.leave()
    bronze = lease.acquire(s3, BUCKET, NAMES, execution, seconds=3600)
    assert holder_run_id(s3) == "nsde-sfn"
    with pytest.raises(LockedError):
        lease.acquire(s3, BUCKET, NAMES, holders.execution("nsde-other", "m"), seconds=3600)
    assert bronze.release()


def test_the_lease_of_a_run_killed_while_committing_is_kept_for_its_retry(
    s3: Any, exited_process: Holder
) -> None:
    manifest.start_run(s3, BUCKET, NAMES, "nsde-killed", "2026-11-01T06:00:00Z")
    manifest.update_step(s3, BUCKET, NAMES, "nsde-killed", "silver", {"status": "committing"})
    put_lease(s3, exited_process, seconds=60)
    with pytest.raises(LockedError, match="interrupted while committing silver") as refused:
        take(s3, "nsde-other")
    assert refused.value.hint == (
        "finish it first: ppdw run nsde --from silver --run-id nsde-killed"
    )
    retry = take(s3, "nsde-killed")
    lease.release_after(retry, failed=True)  # still committing: kept for the next retry
    assert holder_run_id(s3) == "nsde-killed"


def test_conditional_writes_with_a_stale_etag_change_nothing(s3: Any) -> None:
    """What the lease relies on S3 (and moto) to enforce: If-Match on put and delete."""
    first = objects.put_if_absent(s3, BUCKET, KEY, b"one")
    assert first is not None
    assert objects.put_if_absent(s3, BUCKET, KEY, b"two") is None
    second = objects.put_if_match(s3, BUCKET, KEY, b"two", first)
    assert second is not None
    assert objects.put_if_match(s3, BUCKET, KEY, b"three", first) is None
    assert not objects.delete_if_match(s3, BUCKET, KEY, first)
    assert objects.get_bytes(s3, BUCKET, KEY) == b"two"
    assert objects.delete_if_match(s3, BUCKET, KEY, second)
    assert objects.put_if_match(s3, BUCKET, KEY, b"four", second) is None  # gone: 404
    assert not objects.delete_if_match(s3, BUCKET, KEY, second)
    assert objects.get_bytes(s3, BUCKET, KEY) is None
