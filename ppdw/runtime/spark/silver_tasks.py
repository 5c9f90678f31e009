"""The Spark tasks of silver: Arrow batches in, the Arrow engine's rules applied, rows out.

Rule: what runs inside a Spark task (`mapInArrow`) is here, and nothing in it talks to
Spark: each task reads its files from the store, holds all rows of its business keys, and
applies `ppdw.runtime.silver` to them. Pass 1 (`merge_task`) prepares and merges, giving
the changed versions, the rejects and a report the driver judges; pass 2
(`rewrite_task`) applies the changes to the partitions' versions and writes its files.
The driver's side (`spark.silver`) plans the passes and judges the reports.
"""

from __future__ import annotations

import json
from collections.abc import Iterator, Mapping, Sequence
from dataclasses import asdict, dataclass
from datetime import datetime
from typing import TYPE_CHECKING, Any

import pyarrow as pa
import pyarrow.compute as pc

from ppdw.errors import DataQualityError
from ppdw.runtime.schema import EFFECTIVE_YEAR_MONTH, IS_CURRENT, conform
from ppdw.runtime.silver.changes import merge
from ppdw.runtime.silver.result import MergeResult, MergeStats, rehashed_versions
from ppdw.runtime.silver.snapshot import bad_key_mask, key_conflicts, prepare_snapshot
from ppdw.runtime.silver.versions import apply_to_partition
from ppdw.runtime.spark import frames
from ppdw.runtime.spark.store import Store, write_table

if TYPE_CHECKING:
    from ppdw.config.models import Dataset

SNAPSHOT, CURRENT, NEW, CLOSED, REJECT, REPORT, EXISTING, REHASHED = range(8)
ROLE, ORD, YM, REPORT_JSON = "__role", "__ord", "__ym", "__report"
#: Rows per task: the Arrow transforms hold a task's rows (about 1 KB each) in memory.
DEFAULT_ROWS_PER_TASK = 500_000
_FILE_SHIFT = 40  # source order: (file << 40) | row
WRITTEN = "ym STRING, key STRING, rows BIGINT, bytes BIGINT, arrow_schema BINARY"


@dataclass(frozen=True)
class Request:
    dataset: Dataset
    run_id: str
    run_time: datetime
    force: bool
    bronze_keys: tuple[str, ...]  # the bronze partition's files, in source order
    locations: Mapping[str, str]  # registered silver partitions: ym -> folder
    version_folder: Mapping[str, str]  # ym -> this run's new folder (any month)
    rejects_folder: str
    rows_per_task: int = DEFAULT_ROWS_PER_TASK
    #: Look for old-form record_hashes among unchanged current versions (`hash_upgrade`).
    upgrade_hashes: bool = True


@dataclass(frozen=True)
class Inputs:
    bronze_schema: pa.Schema
    bronze_rows: int
    current_files: tuple[tuple[str, str], ...]  # (ym, key) of files with a live version
    current_schema: pa.Schema | None  # None: no silver yet
    live_rows: int


def with_month(table: pa.Table, ym: str) -> pa.Table:
    if EFFECTIVE_YEAR_MONTH in table.column_names:
        table = table.drop_columns([EFFECTIVE_YEAR_MONTH])
    return table.append_column(EFFECTIVE_YEAR_MONTH, pa.repeat(pa.scalar(ym), table.num_rows))


def key_fields(keys: Sequence[str]) -> list[pa.Field]:
    return [pa.field(f"__k{index}", pa.string()) for index in range(len(keys))]


def key_arrays(table: pa.Table, keys: Sequence[str]) -> list[pa.Array]:
    return [table.column(key).combine_chunks().cast(pa.string()) for key in keys]


# ------------------------------------------------------------------------- pass 1


def read_input(
    store: Store, row: dict[str, Any], keys: list[str], inputs: Inputs, schema: pa.Schema
) -> Iterator[pa.RecordBatch]:
    table = store.open_parquet(row["key"]).read()
    role = row["role"]
    if role == CURRENT:
        table = table.filter(pc.fill_null(table.column(IS_CURRENT), False))
        table = with_month(table, row["ym"])
    n = table.num_rows
    order = pa.array([(row["seq"] << _FILE_SHIFT) + i for i in range(n)], pa.int64())
    columns: list[pa.Array] = [pa.repeat(pa.scalar(role, pa.int8()), n), order]
    columns += key_arrays(table, keys)
    if role == SNAPSHOT:
        columns += frames.to_wire(table, "s", inputs.bronze_schema)
        if inputs.current_schema is not None:
            columns += frames.nulls("c", inputs.current_schema, n)
    else:
        assert inputs.current_schema is not None
        columns += frames.nulls("s", inputs.bronze_schema, n)
        columns += frames.to_wire(table, "c", inputs.current_schema)
    yield from pa.Table.from_arrays(columns, schema=schema).to_batches(max_chunksize=65536)


def _relaxed(dataset: Dataset) -> Dataset:
    """The dataset for one task: whole-snapshot thresholds are judged on the driver."""
    quality = dataset.quality.model_copy(update={"max_reject_ratio": 1.0})
    return dataset.model_copy(update={"quality": quality})


def merge_task(
    batches: list[pa.RecordBatch],
    request: Request,
    inputs: Inputs,
    result: pa.Schema | None,
    out_schema: pa.Schema,
) -> Iterator[pa.RecordBatch]:
    if not batches:
        return
    keys = list(request.dataset.business_key)
    snap_rows, snapshot, current = _task_tables(batches, inputs)
    dataset = _relaxed(request.dataset)
    bad = bad_key_mask(snapshot, keys)
    report = _first_report(snapshot, current, bad)
    out: list[pa.Table] = []
    try:
        prepared, rejected, prep_stats = prepare_snapshot(snapshot, dataset)
    except DataQualityError as error:
        if error.rule != "duplicate_key":
            raise
        clean = snapshot.filter(pc.invert(bad))
        report["conflicts"] = key_conflicts(clean, keys).to_pylist()
        yield _report_batch(report, keys, out_schema)
        return
    report["stats"] = asdict(prep_stats)
    if rejected.num_rows:
        reject_order = snap_rows.filter(bad).column(ORD)
        out.append(_rows(REJECT, rejected, reject_order, "s", inputs.bronze_schema, keys))
    if result is not None:
        out += _merge_rows(current, prepared, prep_stats, dataset, request, result, report)
    for part in out:
        yield from conform(part, out_schema).to_batches(max_chunksize=65536)
    yield _report_batch(report, keys, out_schema)


def _task_tables(
    batches: list[pa.RecordBatch], inputs: Inputs
) -> tuple[pa.Table, pa.Table, pa.Table]:
    """(the snapshot's rows as they travelled, in source order; the snapshot; the current
    versions). The task's whole table is let go on return: only these are kept."""
    table = pa.Table.from_batches(batches)
    roles = table.column(ROLE)
    snap_rows = table.filter(pc.equal(roles, SNAPSHOT)).sort_by(ORD)
    snapshot = frames.from_wire(snap_rows, "s", inputs.bronze_schema)
    current: pa.Table = pa.table({})
    if inputs.current_schema is not None:
        current_rows = table.filter(pc.equal(roles, CURRENT))
        current = frames.from_wire(current_rows, "c", inputs.current_schema)
    return snap_rows, snapshot, current


def _first_report(snapshot: pa.Table, current: pa.Table, bad: pa.Array) -> dict[str, Any]:
    """The task's report before rules 1-3 ran: counts the driver needs in any case."""
    return {
        "live": current.num_rows,
        "conflicts": [],
        "error": None,
        "stats": {"rows_read": snapshot.num_rows, "rejected": pc.sum(bad.cast(pa.int64())).as_py()},
    }


def _merge_rows(
    current: pa.Table,
    prepared: pa.Table,
    prep_stats: MergeStats,
    dataset: Dataset,
    request: Request,
    result: pa.Schema,
    report: dict[str, Any],
) -> list[pa.Table]:
    """Rule 3 on the task's keys: the new, closed and rehashed versions as rows. The report
    gets the merge's stats and the months to rewrite, or its error (judged on the driver)."""
    keys = list(dataset.business_key)
    try:
        merged = merge(
            current,
            prepared,
            dataset,
            run_id=request.run_id,
            run_time=request.run_time,
            force=True,  # the delete guard is judged over all keys, on the driver
            base_stats=prep_stats,
            upgrade_hashes=request.upgrade_hashes,
        )
    except DataQualityError as error:
        report["error"] = {"rule": error.rule, "message": str(error), "hint": error.hint}
        return []
    report["stats"] = asdict(merged.stats)
    rehashed = rehashed_versions(merged)
    report["months"] = _rewritten_months(merged, rehashed)
    report["changed"] = merged.new_versions.num_rows + merged.closed.num_rows + rehashed.num_rows
    out = [
        _rows(NEW, merged.new_versions, None, "n", result, keys),
        _rows(CLOSED, merged.closed, None, "n", result, keys),
    ]
    if rehashed.num_rows:
        out.append(_rows(REHASHED, rehashed, None, "n", result, keys))
    return out


def _rewritten_months(merged: MergeResult, rehashed: pa.Table) -> list[str]:
    """The months of closed and rehashed versions: they are rewritten (rule 4, hash_upgrade)."""
    months = pc.unique(
        pa.concat_arrays(
            [
                merged.closed.column(EFFECTIVE_YEAR_MONTH).combine_chunks(),
                rehashed.column(EFFECTIVE_YEAR_MONTH).combine_chunks(),
            ]
        )
    )
    return [m for m in months.to_pylist() if m is not None]


def _rows(
    role: int,
    table: pa.Table,
    order: pa.ChunkedArray | None,
    group: str,
    schema: pa.Schema,
    keys: list[str],
) -> pa.Table:
    n = table.num_rows
    columns: dict[str, Any] = {
        ROLE: pa.repeat(pa.scalar(role, pa.int8()), n),
        ORD: order if order is not None else pa.repeat(pa.scalar(0, pa.int64()), n),
    }
    for item, array in zip(key_fields(keys), key_arrays(table, keys), strict=True):
        columns[item.name] = array
    wire = frames.to_wire(table, group, schema)
    for item, array in zip(frames.fields(group, schema), wire, strict=True):
        columns[item.name] = array
    return pa.table(columns)


def _report_batch(report: dict[str, Any], keys: list[str], schema: pa.Schema) -> pa.RecordBatch:
    row = pa.table(
        {
            ROLE: pa.array([REPORT], pa.int8()),
            REPORT_JSON: pa.array([json.dumps(report, default=str)], pa.string()),
        }
    )
    return conform(row, schema).to_batches()[0]


# ------------------------------------------------------------------------- pass 2


@dataclass(frozen=True)
class Rewrite:
    """What a pass-2 task needs besides its rows."""

    targets: tuple[str, ...]
    folders: Mapping[str, str]  # ym -> this run's folder
    previous: Mapping[str, pa.Schema]  # ym -> schema of its registered files (as read)
    existing: pa.Schema  # all previous schemas unified: the wire layout of their rows
    result: pa.Schema
    keys: tuple[str, ...]
    tracked: tuple[str, ...]


def read_existing(
    store: Store, row: dict[str, Any], job: Rewrite, layout: pa.Schema
) -> Iterator[pa.RecordBatch]:
    ym = row["ym"]
    table = with_month(store.open_parquet(row["key"]).read(), ym)
    n = table.num_rows
    columns: list[pa.Array] = [pa.repeat(pa.scalar(EXISTING, pa.int8()), n)]
    columns += key_arrays(table, job.keys)
    columns.append(pa.repeat(pa.scalar(ym), n))
    columns += frames.to_wire(table, "e", job.existing)
    columns += frames.nulls("n", job.result, n)
    yield from pa.Table.from_arrays(columns, schema=layout).to_batches(max_chunksize=65536)


def rewrite_task(
    batches: list[pa.RecordBatch], store: Store, job: Rewrite
) -> Iterator[pa.RecordBatch]:
    from pyspark import TaskContext

    if not batches:
        return
    context = TaskContext.get()
    task = context.partitionId() if context is not None else 0
    table = pa.Table.from_batches(batches)
    roles = table.column(ROLE)
    new = frames.from_wire(table.filter(pc.equal(roles, NEW)), "n", job.result)
    closed = frames.from_wire(table.filter(pc.equal(roles, CLOSED)), "n", job.result)
    rehashed = frames.from_wire(table.filter(pc.equal(roles, REHASHED)), "n", job.result)
    merged = MergeResult(new, closed, MergeStats(), job.keys, job.tracked, rehashed)
    old = table.filter(pc.equal(roles, EXISTING))
    del table, roles
    for ym in job.targets:
        mine = old.filter(pc.equal(old.column(YM), ym))
        touched = any(
            pc.any(pc.equal(part.column(EFFECTIVE_YEAR_MONTH), ym)).as_py()
            for part in (new, closed, rehashed)
        )
        if not mine.num_rows and not touched:
            continue
        existing: pa.Table = pa.table({})
        if ym in job.previous:
            existing = conform(frames.from_wire(mine, "e", job.existing), job.previous[ym])
        content = apply_to_partition(existing, merged, ym)
        if EFFECTIVE_YEAR_MONTH in content.column_names:
            content = content.drop_columns([EFFECTIVE_YEAR_MONTH])
        key = f"{job.folders[ym]}part-{task:05d}.parquet"
        size = write_table(store, key, content)
        yield _written(ym, key, content, size)


def _written(ym: str, key: str, content: pa.Table, size: int) -> pa.RecordBatch:
    return pa.RecordBatch.from_pylist(
        [
            {
                "ym": ym,
                "key": key,
                "rows": content.num_rows,
                "bytes": size,
                "arrow_schema": content.schema.serialize().to_pybytes(),
            }
        ],
        schema=pa.schema(
            [
                ("ym", pa.string()),
                ("key", pa.string()),
                ("rows", pa.int64()),
                ("bytes", pa.int64()),
                ("arrow_schema", pa.binary()),
            ]
        ),
    )
