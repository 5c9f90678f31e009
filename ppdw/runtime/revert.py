"""Undo the last applied run of a dataset's silver (data.md, silver rule 7).

Why it can be exact from silver alone: a run R at time T writes every version it creates
with `meta_run_id = R` (effective T), and closes current versions by setting
`record_end_date = T`, `is_current = false` and nothing else. Runs apply in strictly
increasing time, so no other run created a version of R or closed one at T. Removing R's
versions and opening again those ending at T gives back each partition exactly as it was
before R. The same step applied twice changes nothing more, which makes a retry safe.

The commit is a run's: each rewritten partition goes to a new version folder named
`{run_id}-revert`, the Glue partitions are pointed at it (a partition that only R had made
is unregistered), and only then are the superseded folders removed. The run record is
marked `reverted` before `_last_success.json` moves back, so a revert killed at any point
leaves the old catalog pointers valid until the switch, and a retry completes it.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping
from dataclasses import dataclass
from datetime import datetime
from typing import Any

import pyarrow as pa
import pyarrow.compute as pc

from ppdw.aws import catalog as glue_calls
from ppdw.contracts.run_record import RunRecord
from ppdw.errors import AwsError, UsageError
from ppdw.naming import DatasetNames
from ppdw.runtime import catalog, manifest, storage
from ppdw.runtime.catalog import Partition
from ppdw.runtime.schema import (
    EFFECTIVE_YEAR_MONTH,
    IS_CURRENT,
    META_RUN_ID,
    OPEN_END,
    RECORD_END_DATE,
    utc_ms,
)

REVERT_SUFFIX = "-revert"
Hooks = Mapping[str, Callable[[], None]]


@dataclass(frozen=True)
class Undone:
    """One partition with a run taken out, and what that took."""

    table: pa.Table
    removed: int  # versions the run had created
    reopened: int  # versions the run had closed, open again


def undo(table: pa.Table, run_id: str, run_time: datetime) -> Undone:
    """`table` (silver rows) as it was before run `run_id` at `run_time`. Pure."""
    created = pc.fill_null(pc.equal(table.column(META_RUN_ID), run_id), False)
    kept = table.filter(pc.invert(created))
    end_type = kept.schema.field(RECORD_END_DATE).type
    ends = kept.column(RECORD_END_DATE)
    closed = pc.fill_null(pc.equal(ends, pa.scalar(utc_ms(run_time), end_type)), False)
    reopened = int(pc.sum(closed.cast(pa.int64())).as_py() or 0)
    if reopened:
        open_end = pa.scalar(OPEN_END, end_type)
        kept = kept.set_column(
            kept.schema.get_field_index(RECORD_END_DATE),
            kept.schema.field(RECORD_END_DATE),
            pc.if_else(closed, open_end, ends),
        )
        flags = kept.column(IS_CURRENT)
        kept = kept.set_column(
            kept.schema.get_field_index(IS_CURRENT),
            kept.schema.field(IS_CURRENT),
            pc.if_else(closed, pa.scalar(True), flags),
        )
    return Undone(kept, table.num_rows - kept.num_rows, reopened)


# ------------------------------------------------------------------------------ the plan


@dataclass(frozen=True)
class Silver:
    """Where one dataset's silver lives."""

    s3: Any
    glue: Any
    bucket: str
    names: DatasetNames
    database: str

    def locations(self) -> dict[str, str]:
        """Registered partitions (ym -> key prefix ending in `/`)."""
        found = catalog.partition_locations(self.glue, self.database, self.names.table)
        return {ym: _folder(storage.key_of(uri, self.bucket)) for ym, uri in found.items()}


@dataclass(frozen=True)
class Reverting:
    """The run a revert undoes, and the applied run silver goes back to."""

    run_id: str
    run_time: datetime
    partitions: tuple[str, ...]
    previous: RunRecord | None  # the previous applied run's record; None: empty silver
    resuming: bool  # the run record already says reverted: only the pointer is left

    @property
    def revert_id(self) -> str:
        return f"{self.run_id}{REVERT_SUFFIX}"

    def folder(self, names: DatasetNames, ym: str) -> str:
        return names.silver_version_prefix(ym, self.revert_id)


@dataclass(frozen=True)
class PartitionChange:
    year_month: str
    removed: int
    reopened: int
    rows_after: int  # 0: the partition is unregistered (only the run had made it)

    def to_json(self) -> dict[str, Any]:
        return {
            "partition": self.year_month,
            "removed": self.removed,
            "reopened": self.reopened,
            "rows_after": self.rows_after,
        }


def _folder(key: str) -> str:
    return key if key.endswith("/") else f"{key}/"


def find_reverting(silver: Silver) -> Reverting:
    """The last applied run (`_last_success.json`) and the one before it (run records)."""
    s3, bucket, names = silver.s3, silver.bucket, silver.names
    last = manifest.read_last_success(s3, bucket, names)
    if last is None:
        raise UsageError(
            f"nothing to revert: {names.dataset} has no applied run",
            f"see the runs with `ppdw runs {names.dataset}`",
        )
    run_id = str(last["run_id"])
    record = manifest.read_run(s3, bucket, names, run_id) or {}
    run_time = manifest.parse_time(str(last["run_time"]))
    records = manifest.list_runs(s3, bucket, names)
    # Applied: status succeeded, as `ppdw runs` counts them (list_runs is in time order).
    earlier = [
        r
        for r in records
        if r.get("status") == "succeeded"
        and r.get("run_id") != run_id
        and manifest.parse_time(str(r["run_time"])) < run_time
    ]
    stats = ((record.get("steps") or {}).get("silver") or {}).get("stats") or {}
    recorded = stats.get("partitions")
    # A record without the list (written before it was kept) means every partition: the
    # undo is exact on any partition, it only costs more to look at them all.
    partitions = (
        tuple(str(ym) for ym in recorded)
        if isinstance(recorded, list)
        else tuple(sorted(silver.locations()))
    )
    return Reverting(
        run_id=run_id,
        run_time=run_time,
        partitions=partitions,
        previous=earlier[-1] if earlier else None,
        resuming=record.get("status") == "reverted",
    )


def _undo_partition(
    silver: Silver, reverting: Reverting, ym: str, location: str | None
) -> Undone | None:
    """The partition without the run; None when it needs no rewrite (unregistered, or a
    killed attempt already pointed it at the revert folder)."""
    if location is None or location == reverting.folder(silver.names, ym):
        return None
    table = storage.read_parquet_prefix(silver.s3, silver.bucket, location)
    if table is None:
        raise AwsError(
            f"silver partition {ym} of {silver.names.dataset} is registered at "
            f"s3://{silver.bucket}/{location} but holds no parquet file",
            "inspect the Glue partition and the bucket before reverting",
        )
    if EFFECTIVE_YEAR_MONTH in table.schema.names:
        table = table.drop_columns([EFFECTIVE_YEAR_MONTH])  # the partition key, not a column
    return undo(table, reverting.run_id, reverting.run_time)


def preview(silver: Silver, reverting: Reverting) -> list[PartitionChange]:
    """What a revert would change per partition, reading only (`--dry-run`)."""
    locations = silver.locations()
    changes: list[PartitionChange] = []
    for ym in reverting.partitions:
        done = _undo_partition(silver, reverting, ym, locations.get(ym))
        if done is not None:
            changes.append(PartitionChange(ym, done.removed, done.reopened, done.table.num_rows))
    return changes


# ---------------------------------------------------------------------------- the commit


def commit(
    silver: Silver, reverting: Reverting, hooks: Hooks | None = None
) -> list[PartitionChange]:
    """Write, switch, clean up, mark the record, move the pointer: in that order."""
    hooks = hooks or {}
    changes: list[PartitionChange] = []
    if not reverting.resuming:
        locations = silver.locations()
        keep: list[Partition] = []
        drop: list[str] = []
        for ym in reverting.partitions:
            done = _undo_partition(silver, reverting, ym, locations.get(ym))
            if done is None:
                continue
            changes.append(PartitionChange(ym, done.removed, done.reopened, done.table.num_rows))
            if done.table.num_rows == 0:
                drop.append(ym)
                continue
            folder = reverting.folder(silver.names, ym)
            storage.replace_folder(silver.s3, silver.bucket, folder, done.table)
            keep.append(Partition(ym, storage.s3_uri(silver.bucket, folder)))
        manifest.record_revert(
            silver.s3,
            silver.bucket,
            silver.names,
            reverting.run_id,
            {
                "revert_id": reverting.revert_id,
                "previous_run_id": _previous_id(reverting),
                "partitions": [c.to_json() for c in changes],
            },
        )
        _hook(hooks, "before_switch")
        if keep:
            catalog.register_partitions(silver.glue, silver.database, silver.names.table, keep)
        _unregister(silver, drop)
        _hook(hooks, "after_switch")
        manifest.mark_reverted(silver.s3, silver.bucket, silver.names, reverting.run_id)
    _remove_superseded(silver, reverting)
    _hook(hooks, "before_pointer")
    _move_pointer(silver, reverting)
    return changes


def _hook(hooks: Hooks, name: str) -> None:
    if name in hooks:
        hooks[name]()


def _previous_id(reverting: Reverting) -> str | None:
    return str(reverting.previous["run_id"]) if reverting.previous else None


def _unregister(silver: Silver, values: list[str]) -> None:
    """Remove Glue partitions (at most 25 per BatchDeletePartition); every error raised."""
    for start in range(0, len(values), 25):
        chunk = values[start : start + 25]
        errors = glue_calls.batch_delete_partitions(
            silver.glue, silver.database, silver.names.table, chunk
        )
        for error in errors:
            detail = error.get("ErrorDetail", {})
            if detail.get("ErrorCode") == "EntityNotFoundException":
                continue  # gone already: an earlier attempt removed it
            raise AwsError(
                f"removing partition {','.join(error.get('PartitionValues', []))} of "
                f"{silver.database}.{silver.names.table} failed: "
                f"{detail.get('ErrorCode', 'Error')}: {detail.get('ErrorMessage', '')}"
            )


def _remove_superseded(silver: Silver, reverting: Reverting) -> None:
    """Folders of the touched partitions that the catalog no longer points at."""
    locations = silver.locations()
    for ym in reverting.partitions:
        live = locations.get(ym)
        stale = [
            key
            for key in storage.list_keys(
                silver.s3, silver.bucket, silver.names.silver_partition_prefix(ym)
            )
            if live is None or not key.startswith(live)
        ]
        storage.delete_keys(silver.s3, silver.bucket, stale)


def _move_pointer(silver: Silver, reverting: Reverting) -> None:
    s3, bucket, names = silver.s3, silver.bucket, silver.names
    previous = reverting.previous
    if previous is None:
        storage.delete_keys(s3, bucket, [names.last_success_key])
        return
    run_id = str(previous["run_id"])
    raw = manifest.read_raw_manifest(s3, bucket, names, run_id) or {}
    manifest.write_last_success(
        s3, bucket, names, run_id, str(previous["run_time"]), raw.get("sha256")
    )
