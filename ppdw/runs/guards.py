"""Guards a run passes before it starts: its run time, and the order of runs.

The runtime enforces the same rules where it writes (fetch and silver refuse a run out of
order); these checks run first so the refusal names the way out for the flags the user
gave, and nothing is written or locked for a run that cannot apply.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import replace
from datetime import datetime, timedelta
from typing import Any

from ppdw.config.loader import Project
from ppdw.errors import DataQualityError, UsageError
from ppdw.runs.local import RunRequest
from ppdw.runtime import manifest
from ppdw.targets import TargetContext

# Clocks of the machines that start runs drift a little; a run time this far ahead of now
# is still "now". Anything later is a typo (2062 for 2026) that would lock the dataset:
# every later run would be refused as out of order.
FUTURE_SKEW = timedelta(minutes=5)


def check_not_future(
    run_time: datetime, *, force: bool, now: Callable[[], datetime] = manifest.utc_now
) -> None:
    """Refuse a run time later than now (plus `FUTURE_SKEW`) unless forced."""
    current = now()
    if force or run_time <= current + FUTURE_SKEW:
        return
    raise UsageError(
        f"--as-of {manifest.format_time(run_time)} is in the future (now "
        f"{manifest.format_time(current)}); runs after it would have to be later still",
        "check the date; --force runs at a future time anyway",
    )


def _location(target: TargetContext, project: Project, dataset: str) -> tuple[Any, str, Any]:
    names = project.warehouse.names.dataset(dataset)
    return target.aws.client("s3"), project.warehouse.names.bucket(target.account_id), names


def recorded_run_time(
    target: TargetContext, project: Project, dataset: str, run_id: str
) -> datetime | None:
    """The run time a run was started with, when the run id exists (a retry keeps it)."""
    s3, bucket, names = _location(target, project, dataset)
    record = manifest.read_run(s3, bucket, names, run_id)
    if record is None or not record.get("run_time"):
        return None
    return manifest.parse_time(str(record["run_time"]))


def check_order(
    target: TargetContext,
    project: Project,
    dataset: str,
    run_id: str,
    run_time: datetime,
    from_step: str,
) -> None:
    """Refuse a run not later than the last applied one (its own retry, and a layer of an
    applied run, which changes nothing, excepted)."""
    s3, bucket, names = _location(target, project, dataset)
    last = manifest.read_last_success(s3, bucket, names)
    last_time = manifest.out_of_order(last, run_id, run_time)
    if last is None or last_time is None:
        return
    if from_step == "raw" and manifest.read_raw_manifest(s3, bucket, names, run_id):
        return  # fetched already: the fetch refuses it, naming the way out (raw is immutable)
    if from_step != "raw" and manifest.is_applied(manifest.read_run(s3, bucket, names, run_id)):
        return  # applied already: the run changes nothing and says so (silver rule 6)
    shown_last = f"{last.get('run_id')} ({manifest.format_time(last_time)})"
    if from_step == "raw":
        hint = f"runs apply in time order: give an --as-of later than {shown_last}"
    else:
        # `--from` keeps the run's own time, so a later --as-of is no way out here.
        raw = manifest.read_raw_manifest(s3, bucket, names, run_id) or {}
        again = f"s3://{bucket}/{raw['key']}" if raw.get("key") else "SOURCE"
        hint = (
            f"only the last applied run {last.get('run_id')} can be re-run with --from; "
            f"to apply the data of {run_id} again, run it as a new run: "
            f"ppdw run {dataset} --source {again}"
        )
    raise DataQualityError(
        "out_of_order",
        f"run {run_id} has run time {manifest.format_time(run_time)}, not later than the "
        f"last applied run {shown_last}",
        hint,
    )


def checked_request(
    target: TargetContext, project: Project, request: RunRequest, *, explicit_time: bool
) -> RunRequest:
    """The request a local run executes: a retry keeps its recorded run time (unless
    --as-of is given), and a run out of order is refused before anything is locked."""
    if request.from_step == "raw" and not explicit_time:
        recorded = recorded_run_time(target, project, request.dataset, request.run_id)
        if recorded is not None:
            request = replace(request, run_time=recorded)
    check_order(
        target, project, request.dataset, request.run_id, request.run_time, request.from_step
    )
    return request
