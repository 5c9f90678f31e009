"""Run records: the run manifest, the last-success pointer and raw's `_manifest.json`.

Rule: standard library and `ppdw.aws.objects` only (the fetch Lambda imports it). One JSON
object per run at `silver/_runs/{dataset}/{run_id}.json`:

    {"dataset", "run_id", "run_time",
     "status": running|succeeded|failed|unchanged|reverted,
     "started_at", "finished_at", "source", "steps": {"fetch": {...}, ...}, "error",
     "reverted_at", "revert": {...}}   # the last two once `ppdw revert` undid the run

Times are ISO-8601 UTC with a `Z` (`2026-11-01T06:00:00Z`). Each step writes its own part
(`update_step`); steps run one after another, so read-modify-write is safe.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping
from datetime import datetime
from typing import Any, cast

from ppdw.aws import objects
from ppdw.contracts.run_record import RUN_STATUSES as RUN_STATUSES
from ppdw.contracts.run_record import STEPS as STEPS
from ppdw.contracts.run_record import LastSuccess, RevertRecord, RunRecord, StepRecord
from ppdw.contracts.run_record import RunStatus as RunStatus
from ppdw.contracts.times import format_time as format_time
from ppdw.contracts.times import parse_time as parse_time
from ppdw.contracts.times import utc_now as utc_now
from ppdw.errors import PpdwError
from ppdw.naming import DatasetNames

# The record's shape and time form (above) are owned by `ppdw.contracts`; the record's
# readers keep finding them here.

#: The silver step's status from the moment it starts switching partitions until the
#: last-success pointer names the run: an attempt killed in between left it so, and only
#: that run's retry may go on (it finishes the commit instead of merging again).
COMMITTING = "committing"

Clock = Callable[[], datetime]


def _time_text(value: datetime | str) -> str:
    return format_time(parse_time(value) if isinstance(value, str) else value)


def read_run(s3: Any, bucket: str, names: DatasetNames, run_id: str) -> RunRecord | None:
    record = objects.get_json(s3, bucket, names.run_manifest_key(run_id))
    return cast(RunRecord, record) if isinstance(record, dict) else None


def step_status(record: RunRecord | None, step: str) -> str | None:
    steps = (record or {}).get("steps") or {}
    return (steps.get(step) or {}).get("status")


def is_applied(record: RunRecord | None) -> bool:
    """Did the run's silver step succeed (and was the run not reverted since)? Then
    applying it again changes nothing (data.md, silver rule 6)."""
    if record is None or record.get("status") == "reverted":
        return False
    return step_status(record, "silver") == "succeeded"


def _write_run(s3: Any, bucket: str, names: DatasetNames, record: RunRecord) -> None:
    objects.put_json(s3, bucket, names.run_manifest_key(str(record["run_id"])), record)


def start_run(
    s3: Any,
    bucket: str,
    names: DatasetNames,
    run_id: str,
    run_time: datetime | str,
    *,
    source: str | None = None,
    now: Clock = utc_now,
) -> RunRecord:
    """Create the record, or mark an existing one running again (a retry or `--from`).

    A restarted run keeps the steps already recorded (re-running bronze keeps fetch's
    record) and clears the previous error.
    """
    record = read_run(s3, bucket, names, run_id) or {
        "dataset": names.dataset,
        "run_id": run_id,
        "steps": {},
    }
    record.update(
        {
            "run_time": _time_text(run_time),
            "status": "running",
            "started_at": format_time(now()),
            "finished_at": None,
            "error": None,
        }
    )
    if source is not None or "source" not in record:
        record["source"] = source
    _write_run(s3, bucket, names, record)
    return record


def _require(s3: Any, bucket: str, names: DatasetNames, run_id: str) -> RunRecord:
    record = read_run(s3, bucket, names, run_id)
    if record is None:
        raise PpdwError(
            f"run {run_id} of {names.dataset} has no run record at "
            f"s3://{bucket}/{names.run_manifest_key(run_id)}",
            "start the run first (fetch creates the record)",
        )
    return record


def update_step(
    s3: Any, bucket: str, names: DatasetNames, run_id: str, step: str, data: Mapping[str, Any]
) -> RunRecord:
    """Merge `data` into `steps[step]` of the run record (keys of `data` win)."""
    record = _require(s3, bucket, names, run_id)
    steps = record.setdefault("steps", {})
    steps[step] = cast(StepRecord, {**steps.get(step, {}), **data})
    _write_run(s3, bucket, names, record)
    return record


def finish_run(
    s3: Any,
    bucket: str,
    names: DatasetNames,
    run_id: str,
    status: RunStatus,
    error: str | None = None,
    *,
    now: Clock = utc_now,
) -> RunRecord:
    if status not in RUN_STATUSES or status in ("running", "reverted"):
        raise ValueError(f"a run finishes as succeeded, failed or unchanged, not {status!r}")
    record = _require(s3, bucket, names, run_id)
    record.update({"status": status, "finished_at": format_time(now()), "error": error})
    _write_run(s3, bucket, names, record)
    return record


def record_revert(
    s3: Any, bucket: str, names: DatasetNames, run_id: str, revert: RevertRecord
) -> RunRecord:
    """Keep what a revert of the run is about to commit (`revert`, status committing).

    A retry of a killed revert keeps the first attempt's entry: the counts it recorded
    are those of the data before anything was switched.
    """
    record = _require(s3, bucket, names, run_id)
    entry = record.get("revert") or {}
    if entry.get("status") != "committing" or entry.get("revert_id") != revert["revert_id"]:
        record["revert"] = {**revert, "status": "committing"}
        _write_run(s3, bucket, names, record)
    return record


def mark_reverted(
    s3: Any, bucket: str, names: DatasetNames, run_id: str, *, now: Clock = utc_now
) -> RunRecord:
    """The run's versions are out of silver: its record says `reverted`, and when."""
    record = _require(s3, bucket, names, run_id)
    when = format_time(now())
    record.update({"status": "reverted", "reverted_at": when})
    record["revert"] = {**(record.get("revert") or {}), "status": "done", "finished_at": when}
    _write_run(s3, bucket, names, record)
    return record


def list_runs(s3: Any, bucket: str, names: DatasetNames) -> list[RunRecord]:
    """Every run record of the dataset, oldest run time first."""
    records: list[RunRecord] = []
    for key in objects.list_keys(s3, bucket, names.runs_prefix):
        name = key[len(names.runs_prefix) :]
        if "/" in name or name.startswith("_") or not name.endswith(".json"):
            continue
        record = objects.get_json(s3, bucket, key)
        if isinstance(record, dict):
            records.append(cast(RunRecord, record))
    return sorted(records, key=lambda r: (str(r.get("run_time", "")), str(r.get("run_id", ""))))


def read_last_success(s3: Any, bucket: str, names: DatasetNames) -> LastSuccess | None:
    """`{"run_id", "run_time", "source_sha256"}` of the last fully successful run, if any."""
    pointer = objects.get_json(s3, bucket, names.last_success_key)
    return cast(LastSuccess, pointer) if isinstance(pointer, dict) else None


def out_of_order(
    last: Mapping[str, Any] | None, run_id: str, run_time: datetime
) -> datetime | None:
    """The run-order rule (data.md): a run applies only later than the last applied run
    of its dataset. Returns that run's time when `run_time` is not later than it, so the
    run is out of order; None when the run may go (no run applied yet, or `last` is this
    very run, whose retry or re-apply is not a new run). Every place that enforces the
    order (the CLI's guard, the fetch, the silver step, a resumed commit) asks here and
    words the refusal for its own situation."""
    if last is None or last.get("run_id") == run_id:
        return None
    last_time = parse_time(str(last["run_time"]))
    return last_time if run_time <= last_time else None


def write_last_success(
    s3: Any,
    bucket: str,
    names: DatasetNames,
    run_id: str,
    run_time: datetime | str,
    source_sha256: str | None,
) -> LastSuccess:
    pointer: LastSuccess = {
        "run_id": run_id,
        "run_time": _time_text(run_time),
        "source_sha256": source_sha256,
    }
    objects.put_json(s3, bucket, names.last_success_key, pointer)
    return pointer


def read_raw_manifest(
    s3: Any, bucket: str, names: DatasetNames, run_id: str
) -> dict[str, Any] | None:
    """Raw's `_manifest.json` of a run; None means the run's fetch never completed."""
    manifest = objects.get_json(s3, bucket, names.raw_manifest_key(run_id))
    return manifest if isinstance(manifest, dict) else None


def write_raw_manifest(
    s3: Any, bucket: str, names: DatasetNames, run_id: str, manifest: dict[str, Any]
) -> None:
    objects.put_json(s3, bucket, names.raw_manifest_key(run_id), manifest)
