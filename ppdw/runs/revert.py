"""`ppdw revert`: undo the last applied run of a dataset, in this process, on any target.

Rule: what is reverted is decided twice: once to show it (and ask), once again under the
dataset's run lock, so a run that finished in between is never reverted unseen (the
command then stops and asks to look again).
"""

from __future__ import annotations

from collections.abc import Callable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from typing import Any

from ppdw.aws.objects import bucket_state
from ppdw.config.loader import Project
from ppdw.contracts.run_record import RunRecord
from ppdw.errors import LockedError, UsageError
from ppdw.runs.local import take_lease
from ppdw.runtime import manifest
from ppdw.runtime import revert as undo
from ppdw.runtime.lease import Lease, release_after
from ppdw.targets import TargetContext


@dataclass(frozen=True)
class RevertPlan:
    reverting: undo.Reverting
    changes: list[undo.PartitionChange]

    def to_json(self) -> dict[str, Any]:
        previous = self.reverting.previous
        return {
            "run_id": self.reverting.run_id,
            "run_time": manifest.format_time(self.reverting.run_time),
            "revert_id": self.reverting.revert_id,
            "previous_run": None
            if previous is None
            else {"run_id": previous.get("run_id"), "run_time": previous.get("run_time")},
            "resuming": self.reverting.resuming,
            "partitions": [change.to_json() for change in self.changes],
        }


def open_silver(target: TargetContext, project: Project, dataset: str) -> undo.Silver:
    warehouse = project.warehouse
    names = warehouse.names.dataset(dataset)
    bucket = warehouse.names.bucket(target.account_id)
    s3 = target.aws.client("s3")
    # Missing or not ours alike: there is no run of ours to revert.
    if bucket_state(s3, bucket) != "exists":
        raise UsageError(
            f"nothing to revert: {dataset} has no applied run (bucket {bucket} not found)",
            "a revert undoes a run: run the dataset first (ppdw run DATASET)",
        )
    return undo.Silver(
        s3=s3,
        glue=target.aws.client("glue"),
        bucket=bucket,
        names=names,
        database=warehouse.database("silver"),
    )


def plan(silver: undo.Silver) -> RevertPlan:
    """What `ppdw revert` would do now; reads only."""
    reverting = undo.find_reverting(silver)
    changes = [] if reverting.resuming else undo.preview(silver, reverting)
    return RevertPlan(reverting, changes)


@contextmanager
def _run_lock(
    target: TargetContext,
    project: Project,
    silver: undo.Silver,
    holder: str,
    say: Callable[[str], None],
) -> Iterator[Lease]:
    """The dataset's run lease: a revert and a run never write silver at the same time."""
    held = take_lease(target, project, holder, silver.names.dataset, say)
    try:
        with held.heartbeat():
            yield held
    except BaseException:
        release_after(held, failed=True)
        raise
    release_after(held, failed=False)


def _fenced(hooks: undo.Hooks | None, fence: Callable[[], None]) -> undo.Hooks:
    """The caller's hooks, with the lease's check before each write that commits."""
    given = dict(hooks or {})

    def before(name: str) -> Callable[[], None]:
        def check() -> None:
            fence()
            if name in given:
                given[name]()

        return check

    return {
        **given,
        "before_switch": before("before_switch"),
        "before_pointer": before("before_pointer"),
    }


def apply(
    target: TargetContext,
    project: Project,
    silver: undo.Silver,
    shown: RevertPlan,
    *,
    say: Callable[[str], None],
    hooks: undo.Hooks | None = None,
) -> RunRecord:
    """Revert the run `shown` named, under the lock; returns its run record."""
    with _run_lock(target, project, silver, shown.reverting.revert_id, say) as held:
        reverting = undo.find_reverting(silver)
        if reverting.run_id != shown.reverting.run_id:
            raise LockedError(
                f"the last applied run of {silver.names.dataset} is now {reverting.run_id}, "
                f"not {shown.reverting.run_id}: nothing reverted",
                f"look again: ppdw revert {silver.names.dataset} --dry-run",
            )
        if reverting.resuming:
            say(f"Completing the revert of run {reverting.run_id} that was interrupted.")
        undo.commit(silver, reverting, _fenced(hooks, held.check))
    return manifest.read_run(silver.s3, silver.bucket, silver.names, reverting.run_id) or {}
