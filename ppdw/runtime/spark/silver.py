"""Bronze snapshot + current silver -> this run's silver partitions, on Spark.

Rule: every SCD2 decision is the Arrow engine's (`ppdw.runtime.silver`), taken by Spark
tasks on batches that hold all rows of their keys (the Arrow transforms are defined for
exactly such batches). Spark's part is the shuffle: rows go to the task of their business
key's hash. Two passes:

1. snapshot rows and current versions, by key -> `prepare_snapshot` (rules 1-2) and
   `merge` (rule 3) in each task. What must be judged over the whole snapshot is judged
   on the driver from the tasks' counts, in the Arrow engine's order and with its
   functions: the reject threshold, duplicate-key conflicts, the delete guard (rule 5).
   Nothing is written before these pass.
2. the versions of the partitions to rewrite (rule 4) and pass 1's new and closed
   versions, by key -> `apply_to_partition` in each task, written to the run's new
   version folder as `part-{task:05d}.parquet`.

The caller commits the folders through the catalog (`job.py`), as the Arrow engine does.
"""

from __future__ import annotations

import json
import math
from collections.abc import Iterable, Iterator, Mapping, Sequence
from dataclasses import asdict, dataclass, field
from datetime import datetime
from typing import TYPE_CHECKING, Any

import pyarrow as pa
import pyarrow.compute as pc

from ppdw.errors import DataQualityError
from ppdw.runtime.hash_upgrade import FORM_KEY as _FORM
from ppdw.runtime.schema import (
    EFFECTIVE_YEAR_MONTH,
    IS_CURRENT,
    align_schema,
    conform,
    silver_schema,
)
from ppdw.runtime.silver.changes import guard_deletes, merge
from ppdw.runtime.silver.result import MergeResult, MergeStats, rehashed_versions
from ppdw.runtime.silver.snapshot import (
    bad_key_mask,
    check_reject_ratio,
    duplicate_key_error,
    key_conflicts,
    prepare_snapshot,
)
from ppdw.runtime.silver.versions import apply_to_partition, partitions_to_rewrite
from ppdw.runtime.spark import frames
from ppdw.runtime.spark.store import Store, parquet_keys, write_table
from ppdw.runtime.storage import PART_FILE

if TYPE_CHECKING:
    from pyspark.sql import DataFrame, SparkSession

    from ppdw.config.models import Dataset

SNAPSHOT, CURRENT, NEW, CLOSED, REJECT, REPORT, EXISTING, REHASHED = range(8)
_ROLE, _ORD, _YM, _REPORT = "__role", "__ord", "__ym", "__report"
#: Rows per task: the Arrow transforms hold a task's rows (about 1 KB each) in memory.
DEFAULT_ROWS_PER_TASK = 500_000
_FILE_SHIFT = 40  # source order: (file << 40) | row
_WRITTEN = "ym STRING, key STRING, rows BIGINT, bytes BIGINT, arrow_schema BINARY"


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


@dataclass
class Outcome:
    """Statistics (as the Arrow engine reports them) and what was written."""

    stats: dict[str, Any]
    targets: list[str]
    schema: pa.Schema | None  # the silver table's schema, when partitions were written
    files: int = 0
    bytes: int = 0
    written: dict[str, list[str]] = field(default_factory=dict)


@dataclass(frozen=True)
class _Inputs:
    bronze_schema: pa.Schema
    bronze_rows: int
    current_files: tuple[tuple[str, str], ...]  # (ym, key) of files with a live version
    current_schema: pa.Schema | None  # None: no silver yet
    live_rows: int


def apply(spark: SparkSession, store: Store, request: Request) -> Outcome:
    """Rules 1-5 for one run; writes the new version folders (not yet committed)."""
    keys = list(request.dataset.business_key)
    inputs = _scan(store, request)
    silver_schema(inputs.bronze_schema, keys)  # a key column missing from the source fails here
    result_schema, align_error = _result_schema(inputs, request.dataset)
    width = _width(spark, inputs.bronze_rows + inputs.live_rows, request.rows_per_task)
    first = _first_pass(spark, store, request, inputs, result_schema, width)
    first.persist()
    try:
        report = _gather(first)
        stats = _check_snapshot(report, inputs, request)
        # As in the Arrow engine, the rejects are written once rules 1-2 pass, before
        # the merge's own checks.
        files, size = _write_rejects(store, request, first, inputs.bronze_schema, stats)
        _check_merge(report, request, align_error)
        targets = _targets(report, request)
        outcome = Outcome(stats=stats, targets=targets, schema=None, files=files, bytes=size)
        if targets:
            _second_pass(spark, store, request, first, result_schema, outcome)
    finally:
        first.unpersist()
    outcome.stats.update(
        partitions=outcome.targets, files_written=outcome.files, bytes_written=outcome.bytes
    )
    return outcome


# ------------------------------------------------------------------------- the inputs


def _scan(store: Store, request: Request) -> _Inputs:
    """Schemas and row counts from the files' footers; live files by their `is_current`."""
    footers = [store.open_parquet(key) for key in request.bronze_keys]
    bronze = pa.unify_schemas([f.schema_arrow for f in footers], promote_options="default")
    rows = sum(f.metadata.num_rows for f in footers)
    files: list[tuple[str, str]] = []
    schemas: list[pa.Schema] = []
    live = 0
    for ym, folder in sorted(request.locations.items()):
        for key in parquet_keys(store, folder):
            parquet = store.open_parquet(key)
            count = pc.sum(parquet.read(columns=[IS_CURRENT]).column(IS_CURRENT).cast(pa.int64()))
            if not count.as_py():
                continue
            live += int(count.as_py())
            files.append((ym, key))
            schemas.append(_with_month_field(parquet.schema_arrow))
    current = pa.unify_schemas(schemas, promote_options="default") if schemas else None
    return _Inputs(bronze, rows, tuple(files), current, live)


def _with_month_field(schema: pa.Schema) -> pa.Schema:
    """A silver file's schema as the job reads it: the partition value as the last column."""
    if EFFECTIVE_YEAR_MONTH in schema.names:
        schema = schema.remove(schema.get_field_index(EFFECTIVE_YEAR_MONTH))
    return schema.append(pa.field(EFFECTIVE_YEAR_MONTH, pa.string()))


def _with_month(table: pa.Table, ym: str) -> pa.Table:
    if EFFECTIVE_YEAR_MONTH in table.column_names:
        table = table.drop_columns([EFFECTIVE_YEAR_MONTH])
    return table.append_column(EFFECTIVE_YEAR_MONTH, pa.repeat(pa.scalar(ym), table.num_rows))


def _result_schema(
    inputs: _Inputs, dataset: Dataset
) -> tuple[pa.Schema | None, DataQualityError | None]:
    """The schema `merge` gives its results (the aligned silver schema), or its error."""
    keys = dataset.business_key
    current = inputs.current_schema or silver_schema(inputs.bronze_schema, keys)
    try:
        aligned = align_schema(current.empty_table(), inputs.bronze_schema.empty_table(), dataset)
    except DataQualityError as error:
        return None, error
    return aligned.current.schema, None


def _width(spark: SparkSession, rows: int, rows_per_task: int) -> int:
    configured = int(spark.conf.get("spark.sql.shuffle.partitions") or 2)
    return max(configured, math.ceil(rows / max(rows_per_task, 1)))


def _key_fields(keys: Sequence[str]) -> list[pa.Field]:
    return [pa.field(f"__k{index}", pa.string()) for index in range(len(keys))]


def _key_arrays(table: pa.Table, keys: Sequence[str]) -> list[pa.Array]:
    return [table.column(key).combine_chunks().cast(pa.string()) for key in keys]


def _descriptors(spark: SparkSession, rows: list[tuple[int, int, str, str]]) -> DataFrame:
    width = max(1, len(rows))
    return spark.sparkContext.parallelize(rows, width).toDF(
        "role INT, seq INT, ym STRING, key STRING"
    )


# ------------------------------------------------------------------------- pass 1


def _first_schema(
    keys: Sequence[str], inputs: _Inputs, result: pa.Schema | None
) -> tuple[pa.Schema, pa.Schema]:
    """(rows read: snapshot + current, rows pass 1 gives: changes + rejects + reports)."""
    head = [pa.field(_ROLE, pa.int8()), pa.field(_ORD, pa.int64()), *_key_fields(keys)]
    current = frames.fields("c", inputs.current_schema) if inputs.current_schema else []
    read = pa.schema([*head, *frames.fields("s", inputs.bronze_schema), *current])
    changes = frames.fields("n", result) if result is not None else []
    out = pa.schema(
        [
            *head,
            pa.field(_REPORT, pa.string()),
            *frames.fields("s", inputs.bronze_schema),
            *changes,
        ]
    )
    return read, out


def _first_pass(
    spark: SparkSession,
    store: Store,
    request: Request,
    inputs: _Inputs,
    result: pa.Schema | None,
    width: int,
) -> DataFrame:
    keys = list(request.dataset.business_key)
    read_schema, out_schema = _first_schema(keys, inputs, result)
    rows = [(SNAPSHOT, seq, "", key) for seq, key in enumerate(request.bronze_keys)]
    rows += [(CURRENT, seq, ym, key) for seq, (ym, key) in enumerate(inputs.current_files)]

    def read(batches: Iterable[pa.RecordBatch]) -> Iterator[pa.RecordBatch]:
        for batch in batches:
            for row in batch.to_pylist():
                yield from _read_input(store, row, keys, inputs, read_schema)

    def merge_keys(batches: Iterable[pa.RecordBatch]) -> Iterator[pa.RecordBatch]:
        yield from _merge_task(list(batches), request, inputs, result, out_schema)

    frame = _descriptors(spark, rows).mapInArrow(read, frames.struct(read_schema))
    shuffled = frame.repartition(width, *[f.name for f in _key_fields(keys)])
    return shuffled.mapInArrow(merge_keys, frames.struct(out_schema))


def _read_input(
    store: Store, row: dict[str, Any], keys: list[str], inputs: _Inputs, schema: pa.Schema
) -> Iterator[pa.RecordBatch]:
    table = store.open_parquet(row["key"]).read()
    role = row["role"]
    if role == CURRENT:
        table = table.filter(pc.fill_null(table.column(IS_CURRENT), False))
        table = _with_month(table, row["ym"])
    n = table.num_rows
    order = pa.array([(row["seq"] << _FILE_SHIFT) + i for i in range(n)], pa.int64())
    columns: list[pa.Array] = [pa.repeat(pa.scalar(role, pa.int8()), n), order]
    columns += _key_arrays(table, keys)
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


def _merge_task(
    batches: list[pa.RecordBatch],
    request: Request,
    inputs: _Inputs,
    result: pa.Schema | None,
    out_schema: pa.Schema,
) -> Iterator[pa.RecordBatch]:
    if not batches:
        return
    keys = list(request.dataset.business_key)
    table = pa.Table.from_batches(batches)
    roles = table.column(_ROLE)
    snap_rows = table.filter(pc.equal(roles, SNAPSHOT)).sort_by(_ORD)
    snapshot = frames.from_wire(snap_rows, "s", inputs.bronze_schema)
    current: pa.Table = pa.table({})
    if inputs.current_schema is not None:
        current_rows = table.filter(pc.equal(roles, CURRENT))
        current = frames.from_wire(current_rows, "c", inputs.current_schema)
    del table, roles
    dataset = _relaxed(request.dataset)
    bad = bad_key_mask(snapshot, keys)
    report: dict[str, Any] = {
        "live": current.num_rows,
        "conflicts": [],
        "error": None,
        "stats": {"rows_read": snapshot.num_rows, "rejected": pc.sum(bad.cast(pa.int64())).as_py()},
    }
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
        reject_order = snap_rows.filter(bad).column(_ORD)
        out.append(_rows(REJECT, rejected, reject_order, "s", inputs.bronze_schema, keys))
    if result is not None:
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
        else:
            report["stats"] = asdict(merged.stats)
            rehashed = rehashed_versions(merged)
            # the months of closed and rehashed versions are rewritten (rule 4, hash_upgrade)
            months = pc.unique(
                pa.concat_arrays(
                    [
                        merged.closed.column(EFFECTIVE_YEAR_MONTH).combine_chunks(),
                        rehashed.column(EFFECTIVE_YEAR_MONTH).combine_chunks(),
                    ]
                )
            )
            report["months"] = [m for m in months.to_pylist() if m is not None]
            report["changed"] = (
                merged.new_versions.num_rows + merged.closed.num_rows + rehashed.num_rows
            )
            out.append(_rows(NEW, merged.new_versions, None, "n", result, keys))
            out.append(_rows(CLOSED, merged.closed, None, "n", result, keys))
            if rehashed.num_rows:
                out.append(_rows(REHASHED, rehashed, None, "n", result, keys))
    for part in out:
        yield from conform(part, out_schema).to_batches(max_chunksize=65536)
    yield _report_batch(report, keys, out_schema)


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
        _ROLE: pa.repeat(pa.scalar(role, pa.int8()), n),
        _ORD: order if order is not None else pa.repeat(pa.scalar(0, pa.int64()), n),
    }
    for item, array in zip(_key_fields(keys), _key_arrays(table, keys), strict=True):
        columns[item.name] = array
    wire = frames.to_wire(table, group, schema)
    for item, array in zip(frames.fields(group, schema), wire, strict=True):
        columns[item.name] = array
    return pa.table(columns)


def _report_batch(report: dict[str, Any], keys: list[str], schema: pa.Schema) -> pa.RecordBatch:
    row = pa.table(
        {
            _ROLE: pa.array([REPORT], pa.int8()),
            _REPORT: pa.array([json.dumps(report, default=str)], pa.string()),
        }
    )
    return conform(row, schema).to_batches()[0]


# ------------------------------------------------------------------ driver: the checks


@dataclass
class _Report:
    stats: dict[str, int]
    live: int
    conflicts: list[dict[str, Any]]
    errors: list[dict[str, Any]]
    months: list[str]  # partitions holding a version closed by this run
    changed: bool


def _gather(first: DataFrame) -> _Report:
    from pyspark.sql import functions as F

    reports = [
        json.loads(row[_REPORT])
        for row in first.filter(F.col(_ROLE) == REPORT).select(_REPORT).collect()
    ]
    totals: dict[str, int] = {}
    for report in reports:
        for name, value in (report.get("stats") or {}).items():
            if name != _FORM:  # a property of the run, not a count: set on the driver
                totals[name] = totals.get(name, 0) + int(value)
    return _Report(
        stats=totals,
        live=sum(int(r.get("live", 0)) for r in reports),
        conflicts=[c for r in reports for c in r.get("conflicts") or []],
        errors=[r["error"] for r in reports if r.get("error")],
        months=sorted({m for r in reports for m in r.get("months") or []}),
        changed=any(r.get("changed") for r in reports),
    )


def _check_snapshot(report: _Report, inputs: _Inputs, request: Request) -> dict[str, Any]:
    """Rules 1-2 over the whole snapshot (reject threshold, duplicate-key conflicts), then
    the run's statistics."""
    dataset = request.dataset
    base = report.stats
    check_reject_ratio(base.get("rejected", 0), base.get("rows_read", 0), dataset)
    if report.conflicts:
        keys = list(dataset.business_key)
        table = (
            pa.Table.from_pylist(report.conflicts)
            .select(keys)
            .sort_by([(k, "ascending") for k in keys])
        )
        raise duplicate_key_error(table)
    stats: dict[str, Any] = {"bronze_rows": inputs.bronze_rows}
    for name in ("rows_read", "rejected", "duplicates", "inserts", "updates", "deletes"):
        stats[name] = base.get(name, 0)
    stats["unchanged"] = base.get("unchanged", 0)
    stats["rehashed"] = base.get("rehashed", 0)
    stats[_FORM] = MergeStats().record_hash_form
    stats["changes"] = {
        "INSERT": stats["inserts"],
        "UPDATE": stats["updates"],
        "DELETE": stats["deletes"],
        "unchanged": stats["unchanged"],
    }
    return stats


def _check_merge(report: _Report, request: Request, align_error: DataQualityError | None) -> None:
    """The merge's whole-run rules, in the Arrow engine's order: run order and schema
    changes (the same in every task), then the delete guard over all current keys."""
    if report.errors:
        # Every task judges the same schemas, so a schema error is the same everywhere;
        # of the run-order errors, the one naming the latest applied run is the truth.
        worst = max(report.errors, key=lambda e: str(e["message"]))
        message = str(worst["message"]).removeprefix(f"{worst['rule']}: ")
        raise DataQualityError(str(worst["rule"]), message, worst.get("hint"))
    if align_error is not None:
        raise align_error
    deletes = report.stats.get("deletes", 0)
    guard_deletes(deletes, report.live, request.dataset, request.force)


def _targets(report: _Report, request: Request) -> list[str]:
    """Rule 4, by `partitions_to_rewrite` itself: closed months plus T's when anything new."""
    if not report.changed:
        return []  # a no-change run writes no data file at all
    closed = pa.table({EFFECTIVE_YEAR_MONTH: pa.array(report.months, pa.string())})
    created = sum(report.stats.get(name, 0) for name in ("inserts", "updates", "deletes"))
    new = pa.table({"rows": pa.array([1] if created else [], pa.int8())})
    summary = MergeResult(new_versions=new, closed=closed, stats=MergeStats())
    return sorted(partitions_to_rewrite(summary, request.run_time))


def _write_rejects(
    store: Store, request: Request, first: DataFrame, bronze: pa.Schema, stats: dict[str, Any]
) -> tuple[int, int]:
    """The rejected rows in source order, one file, as the Arrow engine writes them."""
    if not stats.get("rejected"):
        return 0, 0
    from pyspark.sql import functions as F

    columns = [_ORD, *frames.names("s", bronze)]
    wire = frames.collect(first.filter(F.col(_ROLE) == REJECT).select(*columns)).sort_by(_ORD)
    table = frames.from_wire(wire, "s", bronze)
    key = f"{request.rejects_folder}{PART_FILE}"
    size = write_table(store, key, table)
    store.delete([k for k in store.keys(request.rejects_folder) if k != key])
    return 1, size


# ------------------------------------------------------------------------- pass 2


@dataclass(frozen=True)
class _Rewrite:
    """What a pass-2 task needs besides its rows."""

    targets: tuple[str, ...]
    folders: Mapping[str, str]  # ym -> this run's folder
    previous: Mapping[str, pa.Schema]  # ym -> schema of its registered files (as read)
    existing: pa.Schema  # all previous schemas unified: the wire layout of their rows
    result: pa.Schema
    keys: tuple[str, ...]
    tracked: tuple[str, ...]


def _second_pass(
    spark: SparkSession,
    store: Store,
    request: Request,
    first: DataFrame,
    result: pa.Schema | None,
    outcome: Outcome,
) -> None:
    from pyspark.sql import functions as F

    assert result is not None  # targets exist only when the merge ran
    keys = tuple(request.dataset.business_key)
    previous: dict[str, pa.Schema] = {}
    files: list[tuple[str, str]] = []
    rows = 0
    for ym in outcome.targets:
        folder = request.locations.get(ym)
        if folder is None:
            continue
        found = parquet_keys(store, folder)
        footers = [store.open_parquet(key) for key in found]
        if not footers:
            continue
        schemas = [f.schema_arrow for f in footers]
        previous[ym] = _with_month_field(pa.unify_schemas(schemas, promote_options="default"))
        files += [(ym, key) for key in found]
        rows += sum(f.metadata.num_rows for f in footers)
    existing = (
        pa.unify_schemas(list(previous.values()), promote_options="default")
        if previous
        else pa.schema([])
    )
    job = _Rewrite(
        targets=tuple(outcome.targets),
        folders={ym: request.version_folder[ym] for ym in outcome.targets},
        previous=previous,
        existing=existing,
        result=result,
        keys=keys,
        tracked=(),
    )
    head = [pa.field(_ROLE, pa.int8()), *_key_fields(keys), pa.field(_YM, pa.string())]
    layout = pa.schema([*head, *frames.fields("e", existing), *frames.fields("n", result)])
    struct = frames.struct(layout)

    def read(batches: Iterable[pa.RecordBatch]) -> Iterator[pa.RecordBatch]:
        for batch in batches:
            for row in batch.to_pylist():
                yield from _read_existing(store, row, job, layout)

    def rewrite(batches: Iterable[pa.RecordBatch]) -> Iterator[pa.RecordBatch]:
        yield from _rewrite_task(list(batches), store, job)

    descriptors = [(EXISTING, seq, ym, key) for seq, (ym, key) in enumerate(files)]
    parts: list[DataFrame] = []
    if descriptors:
        parts.append(_descriptors(spark, descriptors).mapInArrow(read, struct))
    changes = first.filter(F.col(_ROLE).isin(NEW, CLOSED, REHASHED))
    blank = [
        F.lit(None).cast(struct[f.name].dataType).alias(f.name)
        for f in frames.fields("e", existing)
    ]
    parts.append(
        changes.select(
            F.col(_ROLE),
            *[F.col(f.name) for f in _key_fields(keys)],
            F.lit(None).cast("string").alias(_YM),
            *blank,
            *[F.col(name) for name in frames.names("n", result)],
        )
    )
    frame = parts[0] if len(parts) == 1 else parts[0].unionByName(parts[1])
    changed = outcome.stats.get("inserts", 0) + outcome.stats.get("updates", 0)
    width = _width(spark, rows + changed, request.rows_per_task)
    shuffled = frame.repartition(width, *[f.name for f in _key_fields(keys)])
    written = frames.collect(shuffled.mapInArrow(rewrite, _WRITTEN))
    _finish_folders(store, job, written, outcome)


def _WRITTEN_STRUCT() -> Any:
    return "ym STRING, key STRING, rows BIGINT, bytes BIGINT, arrow_schema BINARY"


def _read_existing(
    store: Store, row: dict[str, Any], job: _Rewrite, layout: pa.Schema
) -> Iterator[pa.RecordBatch]:
    ym = row["ym"]
    table = _with_month(store.open_parquet(row["key"]).read(), ym)
    n = table.num_rows
    columns: list[pa.Array] = [pa.repeat(pa.scalar(EXISTING, pa.int8()), n)]
    columns += _key_arrays(table, job.keys)
    columns.append(pa.repeat(pa.scalar(ym), n))
    columns += frames.to_wire(table, "e", job.existing)
    columns += frames.nulls("n", job.result, n)
    yield from pa.Table.from_arrays(columns, schema=layout).to_batches(max_chunksize=65536)


def _rewrite_task(
    batches: list[pa.RecordBatch], store: Store, job: _Rewrite
) -> Iterator[pa.RecordBatch]:
    from pyspark import TaskContext

    if not batches:
        return
    context = TaskContext.get()
    task = context.partitionId() if context is not None else 0
    table = pa.Table.from_batches(batches)
    roles = table.column(_ROLE)
    new = frames.from_wire(table.filter(pc.equal(roles, NEW)), "n", job.result)
    closed = frames.from_wire(table.filter(pc.equal(roles, CLOSED)), "n", job.result)
    rehashed = frames.from_wire(table.filter(pc.equal(roles, REHASHED)), "n", job.result)
    merged = MergeResult(new, closed, MergeStats(), job.keys, job.tracked, rehashed)
    old = table.filter(pc.equal(roles, EXISTING))
    del table, roles
    for ym in job.targets:
        mine = old.filter(pc.equal(old.column(_YM), ym))
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


def _finish_folders(store: Store, job: _Rewrite, written: pa.Table, outcome: Outcome) -> None:
    """Each folder gets a `part-00000.parquet` (the commit reads its schema) and nothing
    but this run's files; the table's schema is the folders' schemas unified."""
    schemas: list[pa.Schema] = []
    rows = written.to_pylist()
    for ym in job.targets:
        mine = [r for r in rows if r["ym"] == ym]
        own = pa.unify_schemas(
            [pa.ipc.read_schema(pa.py_buffer(r["arrow_schema"])) for r in mine],
            promote_options="default",
        )
        keys = [str(r["key"]) for r in mine]
        first = f"{job.folders[ym]}{PART_FILE}"
        if first not in keys:
            size = write_table(store, first, own.empty_table())
            keys.append(first)
            outcome.files, outcome.bytes = outcome.files + 1, outcome.bytes + size
        store.delete([k for k in store.keys(job.folders[ym]) if k not in keys])
        outcome.written[ym] = sorted(keys)
        outcome.files += len(mine)
        outcome.bytes += sum(int(r["bytes"]) for r in mine)
        schemas.append(own)
    outcome.schema = pa.unify_schemas(schemas)
