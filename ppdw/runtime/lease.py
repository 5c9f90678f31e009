"""The dataset's run lease: one run of a dataset at a time, on every target (data.md, Run).

Rule: standard library and boto3 through `ppdw.aws.objects` (the fetch Lambda imports it).

The lease is the object `silver/_runs/{dataset}/_lock`:

    {"run_id", "holder": {...}, "lease_seconds", "acquired_at", "renewed_at"}

It is created with `If-None-Match: *`, and renewed, taken over and released with
`If-Match: <its ETag>`: of two writers racing for it, exactly one wins. The holder renews
it while the run works (`heartbeat`, every quarter of `lease_seconds`) and once more right
before each write that commits the run (`check`, the fence): a holder whose lease was
taken over is refused there and commits nothing.

It is taken over only when its holder is known dead (`holders.judge`), or, when the
holder's liveness cannot be known here, once it has not been renewed for `lease_seconds`
by S3's clock (the object's LastModified against the response's Date). A live holder is
never taken over, expired or not. The lease of a run killed while committing silver is
reserved for that run's own retry, which finishes the commit: no other run may merge over
half-switched partitions.
"""

from __future__ import annotations

import json
import logging
import threading
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from typing import Any

from ppdw.aws import objects
from ppdw.errors import LeaseLostError, LockedError
from ppdw.naming import DatasetNames
from ppdw.runtime import holders, manifest
from ppdw.runtime.holders import ExecutionStatus, Holder

log = logging.getLogger(__name__)

#: A local runner's lease: renewed every 15 s by its heartbeat, so a runner whose
#: process cannot be checked (another machine) is taken over a minute after it stopped.
PROCESS_LEASE_SECONDS = 60
#: An execution's lease also spans the gaps between its steps, when no code of it runs:
#: Glue start-up plus Step Functions' retries of a busy job (31 min at most).
EXECUTION_LEASE_SECONDS = 3600
#: A lock without a readable holder (written by an earlier ppdw) expires like the longest.
UNKNOWN_LEASE_SECONDS = EXECUTION_LEASE_SECONDS
_TAKE_ATTEMPTS = 3

_held: set[str] = set()
_held_guard = threading.Lock()


def held_here(token: str) -> bool:
    """Does a `Lease` object of this process hold the lease with this token right now?"""
    with _held_guard:
        return token in _held


def _hold(token: str, held: bool) -> None:
    with _held_guard:
        if held:
            _held.add(token)
        else:
            _held.discard(token)


def lock_key(names: DatasetNames) -> str:
    return f"{names.runs_prefix}_lock"


@dataclass(frozen=True)
class Found:
    """The lease as read from S3."""

    run_id: str
    holder: Holder | None
    lease_seconds: int
    age_seconds: float
    etag: str

    @property
    def expired(self) -> bool:
        return self.age_seconds > self.lease_seconds

    def holder_text(self) -> str:
        who = self.holder.describe() if self.holder else "holder unknown"
        return f"{who}, lease renewed {self.age_seconds:.0f}s ago"


def read(s3: Any, bucket: str, names: DatasetNames) -> Found | None:
    got = objects.get_versioned(s3, bucket, lock_key(names))
    if got is None:
        return None
    try:
        document = json.loads(got.data)
    except ValueError:
        document = {}
    if not isinstance(document, dict):
        document = {}
    holder = Holder.from_json(document.get("holder"))
    seconds = document.get("lease_seconds")
    if holder is None or not isinstance(seconds, int):
        seconds = UNKNOWN_LEASE_SECONDS
    return Found(
        run_id=str(document.get("run_id") or "unknown"),
        holder=holder,
        lease_seconds=seconds,
        age_seconds=max(0.0, (got.server_time - got.last_modified).total_seconds()),
        etag=got.etag,
    )


class Lease:
    """A lease this process holds; `check` before committing, `release` when done."""

    def __init__(
        self, s3: Any, bucket: str, names: DatasetNames, holder: Holder, seconds: int, etag: str
    ) -> None:
        self.s3, self.bucket, self.names = s3, bucket, names
        self.holder, self.seconds, self.etag = holder, seconds, etag
        self.acquired_at = manifest.format_time(manifest.utc_now())
        self.lost: str | None = None
        self._guard = threading.Lock()
        self._released = False

    def _start(self, etag: str) -> None:
        self.etag = etag
        _hold(self.holder.token, True)

    @property
    def key(self) -> str:
        return lock_key(self.names)

    def document(self) -> bytes:
        return objects.dumps(
            {
                "run_id": self.holder.run_id,
                "holder": self.holder.as_json(),
                "lease_seconds": self.seconds,
                "acquired_at": self.acquired_at,
                "renewed_at": manifest.format_time(manifest.utc_now()),
            }
        )

    def renew(self) -> None:
        """Extend the lease if it is still ours; `LeaseLostError` if it was taken over."""
        with self._guard:
            if self.lost is None and not self._released:
                etag = objects.put_if_match(
                    self.s3, self.bucket, self.key, self.document(), self.etag
                )
                if etag is None:
                    self.lost = self._taker()
                else:
                    self.etag = etag
            if self.lost is not None:
                raise LeaseLostError(
                    f"run {self.holder.run_id} of {self.names.dataset} lost its lock "
                    f"({self.lost}); it committed nothing more",
                    f"see `ppdw status {self.names.dataset}`: the run holding the lock now "
                    "carries on",
                )

    def check(self) -> None:
        """The fence before a write that commits the run: renew, or refuse to go on."""
        self.renew()

    def _taker(self) -> str:
        found = read(self.s3, self.bucket, self.names)
        if found is None:
            return "the lock was released"
        return f"now held by run {found.run_id}: {found.holder_text()}"

    def release(self) -> bool:
        """Delete the lease if it is still ours; True if it was."""
        with self._guard:
            try:
                if self._released or self.lost is not None:
                    return False
                return objects.delete_if_match(self.s3, self.bucket, self.key, self.etag)
            finally:
                self._released = True
                _hold(self.holder.token, False)

    def leave(self) -> None:
        """Stop holding it without deleting it: it stays for the run's retry to take over
        (this process no longer counts as its live holder)."""
        with self._guard:
            self._released = True
            _hold(self.holder.token, False)

    @contextmanager
    def heartbeat(self, interval: float | None = None) -> Iterator[None]:
        """Renew the lease in a background thread while the block runs."""
        stop = threading.Event()
        beat = self.seconds / 4 if interval is None else interval
        thread = threading.Thread(
            target=self._beat, args=(stop, beat), name=f"lease-{self.names.dataset}", daemon=True
        )
        thread.start()
        try:
            yield
        finally:
            stop.set()
            thread.join(timeout=10)

    def _beat(self, stop: threading.Event, interval: float) -> None:
        while not stop.wait(interval):
            try:
                self.renew()
            except LeaseLostError as error:
                log.warning("%s", error.message)
                return
            except Exception as error:  # noqa: BLE001 - a beat that fails is retried at the
                # next one; the fence before each commit decides whether the run goes on
                log.warning("renewing the lock of %s failed: %s", self.names.dataset, error)


def acquire(
    s3: Any,
    bucket: str,
    names: DatasetNames,
    holder: Holder,
    *,
    seconds: int,
    executions: ExecutionStatus | None = None,
    say: Callable[[str], None] = lambda _: None,
) -> Lease:
    """Take the dataset's lease for `holder`, or raise `LockedError` naming its holder."""
    key = lock_key(names)
    for _ in range(_TAKE_ATTEMPTS):
        lease = Lease(s3, bucket, names, holder, seconds, etag="")
        etag = objects.put_if_absent(s3, bucket, key, lease.document())
        if etag is None:
            found = read(s3, bucket, names)
            etag = None if found is None else _take(lease, found, executions, say)
        if etag is not None:
            lease._start(etag)
            return lease
        # The lease changed between reading and writing it (released, renewed or taken
        # by another run): look again.
    raise LockedError(
        f"another run of {names.dataset} took the lock just now", "try again in a moment"
    )


def _take(
    lease: Lease, found: Found, executions: ExecutionStatus | None, say: Callable[[str], None]
) -> str | None:
    """Take over `found` if its holder is dead or expired; the new ETag, or None if it
    changed meanwhile. Raises `LockedError` when it may not be taken."""
    names, holder = lease.names, lease.holder
    if found.holder is not None and found.holder.same_as(holder):
        # The next step of the same execution (or its retry): the lease is already ours.
        return _replace(lease, found)
    verdict, reason = ("unknown", "")
    if found.holder is not None:
        verdict, reason = holders.judge(found.holder, held_here=held_here, executions=executions)
    if verdict == "alive" or (verdict == "unknown" and not found.expired):
        raise LockedError(
            f"run {found.run_id} of {names.dataset} is in progress ({found.holder_text()})",
            _wait_hint(found, verdict),
        )
    if found.run_id != holder.run_id and _commit_pending(lease, found.run_id):
        raise LockedError(
            f"run {found.run_id} of {names.dataset} was interrupted while committing silver",
            f"finish it first: ppdw run {names.dataset} --from silver --run-id {found.run_id}",
        )
    if verdict != "dead":
        reason = f"its lease expired (not renewed for {found.age_seconds:.0f}s, lease "
        reason += f"{found.lease_seconds}s)"
    say(f"Taking over the lock of run {found.run_id} of {names.dataset}: {reason}.")
    return _replace(lease, found)


def _replace(lease: Lease, found: Found) -> str | None:
    return objects.put_if_match(lease.s3, lease.bucket, lease.key, lease.document(), found.etag)


def _commit_pending(lease: Lease, run_id: str) -> bool:
    record = manifest.read_run(lease.s3, lease.bucket, lease.names, run_id)
    return manifest.step_status(record, "silver") == manifest.COMMITTING


def _wait_hint(found: Found, verdict: str) -> str:
    if found.holder is not None and found.holder.kind == "execution":
        return (
            "wait for the execution to finish (or stop it in Step Functions); an execution "
            "that ended is taken over at once"
        )
    if verdict == "alive":
        return (
            "wait for it to finish; if its process ends without releasing the lock, the "
            "next run takes it over at once"
        )
    return (
        f"wait for it to finish; if it died, its lock is taken over once it has not been "
        f"renewed for {found.lease_seconds}s"
    )


def release_after(lease: Lease, *, failed: bool) -> None:
    """At the end of a run, or of a failed step: release the lease, but leave it for the
    run's retry when its silver step is committing (see the module docstring).

    After a failure, a release that fails too is logged, not raised: the run's own error
    is the one to report, and the lease then expires or its holder reads as dead."""
    try:
        record = manifest.read_run(lease.s3, lease.bucket, lease.names, lease.holder.run_id)
        if manifest.step_status(record, "silver") == manifest.COMMITTING:
            lease.leave()
        else:
            lease.release()
    except Exception as error:
        lease.leave()
        if not failed:
            raise
        log.warning("releasing the lock of %s failed: %s", lease.names.dataset, error)
