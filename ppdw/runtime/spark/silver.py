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

This module is the driver's plan of the two passes; what runs in the tasks is
`silver_tasks`, and the driver's judgement of pass 1's reports is `silver_report`. The
caller commits the folders through the catalog (`job.py`), as the Arrow engine does.
"""

from __future__ import annotations

import math
from collections.abc import Iterable, Iterator, Sequence
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any

import pyarrow as pa
import pyarrow.compute as pc

from ppdw.errors import DataQualityError
from ppdw.runtime.schema import (
    EFFECTIVE_YEAR_MONTH,
    IS_CURRENT,
    align_schema,
    silver_schema,
)
from ppdw.runtime.spark import frames
from ppdw.runtime.spark.silver_report import check_merge, check_snapshot, gather, targets_of
from ppdw.runtime.spark.silver_tasks import (
    CLOSED,
    CURRENT,
    EXISTING,
    NEW,
    ORD,
    REHASHED,
    REJECT,
    REPORT_JSON,
    ROLE,
    SNAPSHOT,
    WRITTEN,
    YM,
    Inputs,
    Request,
    Rewrite,
    key_fields,
    merge_task,
    read_existing,
    read_input,
    rewrite_task,
)
from ppdw.runtime.spark.store import Store, parquet_keys, write_table
from ppdw.runtime.storage import PART_FILE

__all__ = ["Outcome", "Request", "apply"]

if TYPE_CHECKING:
    from pyspark.sql import DataFrame, SparkSession
    from pyspark.sql.types import StructType

    from ppdw.config.models import Dataset


@dataclass
class Outcome:
    """Statistics (as the Arrow engine reports them) and what was written."""

    stats: dict[str, Any]
    targets: list[str]
    schema: pa.Schema | None  # the silver table's schema, when partitions were written
    files: int = 0
    bytes: int = 0
    written: dict[str, list[str]] = field(default_factory=dict)


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
        report = gather(first)
        stats = check_snapshot(report, inputs, request)
        # As in the Arrow engine, the rejects are written once rules 1-2 pass, before
        # the merge's own checks.
        files, size = _write_rejects(store, request, first, inputs.bronze_schema, stats)
        check_merge(report, request, align_error)
        targets = targets_of(report, request)
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


def _scan(store: Store, request: Request) -> Inputs:
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
    return Inputs(bronze, rows, tuple(files), current, live)


def _with_month_field(schema: pa.Schema) -> pa.Schema:
    """A silver file's schema as the job reads it: the partition value as the last column."""
    if EFFECTIVE_YEAR_MONTH in schema.names:
        schema = schema.remove(schema.get_field_index(EFFECTIVE_YEAR_MONTH))
    return schema.append(pa.field(EFFECTIVE_YEAR_MONTH, pa.string()))


def _result_schema(
    inputs: Inputs, dataset: Dataset
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


def _descriptors(spark: SparkSession, rows: list[tuple[int, int, str, str]]) -> DataFrame:
    width = max(1, len(rows))
    return spark.sparkContext.parallelize(rows, width).toDF(
        "role INT, seq INT, ym STRING, key STRING"
    )


# ------------------------------------------------------------------------- pass 1


def _first_schema(
    keys: Sequence[str], inputs: Inputs, result: pa.Schema | None
) -> tuple[pa.Schema, pa.Schema]:
    """(rows read: snapshot + current, rows pass 1 gives: changes + rejects + reports)."""
    head = [pa.field(ROLE, pa.int8()), pa.field(ORD, pa.int64()), *key_fields(keys)]
    current = frames.fields("c", inputs.current_schema) if inputs.current_schema else []
    read = pa.schema([*head, *frames.fields("s", inputs.bronze_schema), *current])
    changes = frames.fields("n", result) if result is not None else []
    out = pa.schema(
        [
            *head,
            pa.field(REPORT_JSON, pa.string()),
            *frames.fields("s", inputs.bronze_schema),
            *changes,
        ]
    )
    return read, out


def _first_pass(
    spark: SparkSession,
    store: Store,
    request: Request,
    inputs: Inputs,
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
                yield from read_input(store, row, keys, inputs, read_schema)

    def merge_keys(batches: Iterable[pa.RecordBatch]) -> Iterator[pa.RecordBatch]:
        yield from merge_task(list(batches), request, inputs, result, out_schema)

    frame = _descriptors(spark, rows).mapInArrow(read, frames.struct(read_schema))
    shuffled = frame.repartition(width, *[f.name for f in key_fields(keys)])
    return shuffled.mapInArrow(merge_keys, frames.struct(out_schema))


def _write_rejects(
    store: Store, request: Request, first: DataFrame, bronze: pa.Schema, stats: dict[str, Any]
) -> tuple[int, int]:
    """The rejected rows in source order, one file, as the Arrow engine writes them."""
    if not stats.get("rejected"):
        return 0, 0
    from pyspark.sql import functions as F

    columns = [ORD, *frames.names("s", bronze)]
    wire = frames.collect(first.filter(F.col(ROLE) == REJECT).select(*columns)).sort_by(ORD)
    table = frames.from_wire(wire, "s", bronze)
    key = f"{request.rejects_folder}{PART_FILE}"
    size = write_table(store, key, table)
    store.delete([k for k in store.keys(request.rejects_folder) if k != key])
    return 1, size


# ------------------------------------------------------------------------- pass 2


def _second_pass(
    spark: SparkSession,
    store: Store,
    request: Request,
    first: DataFrame,
    result: pa.Schema | None,
    outcome: Outcome,
) -> None:
    assert result is not None  # targets exist only when the merge ran
    previous, files, rows = _registered_files(store, request, outcome.targets)
    job = _rewrite_job(request, outcome.targets, previous, result)
    head = [pa.field(ROLE, pa.int8()), *key_fields(job.keys), pa.field(YM, pa.string())]
    layout = pa.schema([*head, *frames.fields("e", job.existing), *frames.fields("n", result)])
    struct = frames.struct(layout)

    # Spark pickles these closures into every task: they hold only store, job and layout.
    def read(batches: Iterable[pa.RecordBatch]) -> Iterator[pa.RecordBatch]:
        for batch in batches:
            for row in batch.to_pylist():
                yield from read_existing(store, row, job, layout)

    def rewrite(batches: Iterable[pa.RecordBatch]) -> Iterator[pa.RecordBatch]:
        yield from rewrite_task(list(batches), store, job)

    descriptors = [(EXISTING, seq, ym, key) for seq, (ym, key) in enumerate(files)]
    parts: list[DataFrame] = []
    if descriptors:
        parts.append(_descriptors(spark, descriptors).mapInArrow(read, struct))
    parts.append(_changes(first, job, struct))
    frame = parts[0] if len(parts) == 1 else parts[0].unionByName(parts[1])
    changed = outcome.stats.get("inserts", 0) + outcome.stats.get("updates", 0)
    width = _width(spark, rows + changed, request.rows_per_task)
    shuffled = frame.repartition(width, *[f.name for f in key_fields(job.keys)])
    written = frames.collect(shuffled.mapInArrow(rewrite, WRITTEN))
    _finish_folders(store, job, written, outcome)


def _registered_files(
    store: Store, request: Request, targets: Sequence[str]
) -> tuple[dict[str, pa.Schema], list[tuple[str, str]], int]:
    """The target months' registered files: (ym -> their schema as read, (ym, key) of each
    file, their row count). A month without a folder or files is new: nothing to read."""
    previous: dict[str, pa.Schema] = {}
    files: list[tuple[str, str]] = []
    rows = 0
    for ym in targets:
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
    return previous, files, rows


def _rewrite_job(
    request: Request, targets: Sequence[str], previous: dict[str, pa.Schema], result: pa.Schema
) -> Rewrite:
    """What each pass-2 task needs besides its rows."""
    existing = (
        pa.unify_schemas(list(previous.values()), promote_options="default")
        if previous
        else pa.schema([])
    )
    return Rewrite(
        targets=tuple(targets),
        folders={ym: request.version_folder[ym] for ym in targets},
        previous=previous,
        existing=existing,
        result=result,
        keys=tuple(request.dataset.business_key),
        tracked=(),
    )


def _changes(first: DataFrame, job: Rewrite, struct: StructType) -> DataFrame:
    """Pass 1's new, closed and rehashed versions in pass 2's row layout (no existing
    columns: those rows carry only the changes)."""
    from pyspark.sql import functions as F

    changes = first.filter(F.col(ROLE).isin(NEW, CLOSED, REHASHED))
    blank = [
        F.lit(None).cast(struct[f.name].dataType).alias(f.name)
        for f in frames.fields("e", job.existing)
    ]
    return changes.select(
        F.col(ROLE),
        *[F.col(f.name) for f in key_fields(job.keys)],
        F.lit(None).cast("string").alias(YM),
        *blank,
        *[F.col(name) for name in frames.names("n", job.result)],
    )


def _finish_folders(store: Store, job: Rewrite, written: pa.Table, outcome: Outcome) -> None:
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
