"""Raw members -> bronze files on Spark: one task per byte range, the Arrow engine's code inside.

Rule: each range of a member (`split.py`) is parsed by `readers.read_text_table` and turned
into bronze by `bronze.to_bronze`, then written by the Arrow engine's parquet writer to
`part-{seq:05d}.parquet` (seq: the range's place in source order, so the files list the
rows in source order and a re-run writes the same names). Whole-file decisions stay
whole-file:

- the column names come from the member's header, parsed once by the reader;
- the encoding fallback is decided per line by the reader, so each range decodes its own
  lines exactly as the whole file would be decoded (ranges start at line boundaries); the
  member's `fallback_lines` is the sum over its ranges;
- when a range fails to parse, the member is read whole in one task: its error (or result)
  is then exactly the Arrow engine's, line numbers included.
"""

from __future__ import annotations

import json
from collections.abc import Iterable, Iterator, Sequence
from dataclasses import dataclass, replace
from datetime import datetime
from typing import TYPE_CHECKING, Any

import pyarrow as pa

from ppdw.errors import DataQualityError, PpdwError
from ppdw.runtime.context import as_dict
from ppdw.runtime.readers import SourceFormat, read_text_table
from ppdw.runtime.spark import split
from ppdw.runtime.spark.store import Store, write_table

if TYPE_CHECKING:
    from pyspark.sql import SparkSession

    from ppdw.config.models import Dataset

#: Bytes of raw text per task: parsed, typed and written in ~10x this much memory.
DEFAULT_RANGE_BYTES = 64 * 1024 * 1024
#: A header is looked for in this many first bytes of a member.
_HEAD_BYTES = 1 << 20

_OUT_SCHEMA = (
    "seq INT, rows BIGINT, encoding STRING, stats STRING, bytes BIGINT, arrow_schema BINARY, "
    "error_rule STRING, error_message STRING, error_hint STRING"
)


@dataclass(frozen=True)
class Member:
    key: str  # object key in the store
    name: str  # file name, recorded in meta_source_file


@dataclass(frozen=True)
class Task:
    seq: int
    member: int
    start: int
    end: int
    whole: bool  # the range is the whole member, read with the member's own format


@dataclass(frozen=True)
class Plan:
    """Everything a task needs (pickled into every task)."""

    store: Any
    members: tuple[Member, ...]
    #: Per member: (format of its first range, format of its other ranges); the first
    #: range holds the header, the others are read with the header's names.
    formats: tuple[tuple[SourceFormat, SourceFormat], ...]
    dataset: Dataset
    run_id: str
    run_time: datetime
    prefix: str  # the bronze partition folder


@dataclass
class Outcome:
    seq: int
    rows: int
    encoding: str
    stats: dict[str, Any]
    bytes: int
    schema: pa.Schema | None
    error: DataQualityError | PpdwError | None


@dataclass
class BronzeBuild:
    """What the layer reports: per-member statistics as the Arrow engine gives them."""

    members: list[dict[str, Any]]
    rows: int
    files: int
    bytes: int
    schema: pa.Schema
    keys: list[str]


def file_key(prefix: str, seq: int) -> str:
    return f"{prefix}part-{seq:05d}.parquet"


def build(
    spark: SparkSession,
    store: Store,
    members: Sequence[Member],
    source: SourceFormat,
    dataset: Dataset,
    *,
    run_id: str,
    run_time: datetime,
    prefix: str,
    range_bytes: int = DEFAULT_RANGE_BYTES,
) -> BronzeBuild:
    """Write the bronze files of `members` under `prefix`; stale files there are removed."""
    tasks, formats = _plan_ranges(store, members, source, range_bytes)
    plan = Plan(store, tuple(members), formats, dataset, run_id, run_time, prefix)
    outcomes = {o.seq: o for o in _run(spark, plan, tasks)}
    outcomes = _retry_failures(spark, plan, tasks, outcomes, source)
    kept = sorted(outcomes)
    written = {file_key(prefix, seq) for seq in kept}
    store.delete([k for k in store.keys(prefix) if k not in written])
    return _report(plan, tasks, outcomes)


Formats = tuple[tuple[SourceFormat, SourceFormat], ...]


def _plan_ranges(
    store: Store, members: Sequence[Member], source: SourceFormat, range_bytes: int
) -> tuple[list[Task], Formats]:
    tasks: list[Task] = []
    formats: list[tuple[SourceFormat, SourceFormat]] = []
    for index, member in enumerate(members):
        ranges = split.record_ranges(store, member.key, quoting=source.quoting, target=range_bytes)
        inner = _inner_format(store, member, source) if len(ranges) > 1 else source
        formats.append((source, inner))
        for start, end in ranges:
            tasks.append(Task(len(tasks), index, start, end, whole=len(ranges) == 1))
    return tasks, tuple(formats)


def _inner_format(store: Store, member: Member, source: SourceFormat) -> SourceFormat:
    """The format of a member's ranges: without a header, with the header's names."""
    if not source.header:
        return source
    head = store.read_range(member.key, 0, min(_HEAD_BYTES, store.size(member.key)))
    names = header_names(head, source, member.name)
    return replace(source, header=False, columns=tuple(names))


def header_names(head: bytes, source: SourceFormat, name: str) -> list[str]:
    """Column names the reader gives a file starting with `head` (its first records)."""
    cuts = [i + 1 for i, byte in enumerate(head) if byte == 0x0A]
    for cut in cuts:
        try:
            return list(read_text_table(head[:cut], source, source_name=name).table.column_names)
        except DataQualityError:
            continue  # the cut fell inside the header or before it: take more lines
    return list(read_text_table(head, source, source_name=name).table.column_names)


def _run(spark: SparkSession, plan: Plan, tasks: Sequence[Task]) -> list[Outcome]:
    if not tasks:
        return []
    rows = [(t.seq, t.member, t.start, t.end, t.whole) for t in tasks]
    frame = spark.sparkContext.parallelize(rows, len(rows)).toDF(
        "seq INT, member INT, start BIGINT, end BIGINT, whole BOOLEAN"
    )

    def tasks_of(batches: Iterable[pa.RecordBatch]) -> Iterator[pa.RecordBatch]:
        for batch in batches:
            for row in batch.to_pylist():
                yield _outcome_batch(run_task(plan, Task(**row)))

    result = frame.mapInArrow(tasks_of, _OUT_SCHEMA).collect()
    return [_from_row(row.asDict()) for row in result]


def run_task(plan: Plan, task: Task) -> Outcome:
    """Read, type and write one range (runs inside a Spark task)."""
    from ppdw.runtime.bronze import to_bronze

    member = plan.members[task.member]
    first, inner = plan.formats[task.member]
    fmt = first if task.start == 0 else inner
    try:
        data = plan.store.read_range(member.key, task.start, task.end)
        read = read_text_table(data, fmt, source_name=member.name)
        result = to_bronze(
            read.table,
            plan.dataset,
            run_id=plan.run_id,
            run_time=plan.run_time,
            source_file=member.name,
        )
    except PpdwError as error:
        return Outcome(task.seq, 0, "", {}, 0, None, error)
    size = write_table(plan.store, file_key(plan.prefix, task.seq), result.table)
    stats = {**as_dict(result.stats), "fallback_lines": read.fallback_lines}
    return Outcome(
        task.seq, result.table.num_rows, read.encoding, stats, size, result.table.schema, None
    )


def _outcome_batch(outcome: Outcome) -> pa.RecordBatch:
    error = outcome.error
    rule = error.rule if isinstance(error, DataQualityError) else None
    message = None
    if error is not None:
        message = error.message.removeprefix(f"{rule}: ") if rule else error.message
    schema = outcome.schema.serialize().to_pybytes() if outcome.schema is not None else None
    return pa.RecordBatch.from_pylist(
        [
            {
                "seq": outcome.seq,
                "rows": outcome.rows,
                "encoding": outcome.encoding,
                "stats": json.dumps(outcome.stats),
                "bytes": outcome.bytes,
                "arrow_schema": schema,
                "error_rule": rule,
                "error_message": message,
                "error_hint": error.hint if error is not None else None,
            }
        ],
        schema=pa.schema(
            [
                ("seq", pa.int32()),
                ("rows", pa.int64()),
                ("encoding", pa.string()),
                ("stats", pa.string()),
                ("bytes", pa.int64()),
                ("arrow_schema", pa.binary()),
                ("error_rule", pa.string()),
                ("error_message", pa.string()),
                ("error_hint", pa.string()),
            ]
        ),
    )


def _from_row(row: dict[str, Any]) -> Outcome:
    error: DataQualityError | PpdwError | None = None
    if row["error_message"] is not None:
        if row["error_rule"]:
            error = DataQualityError(row["error_rule"], row["error_message"], row["error_hint"])
        else:
            error = PpdwError(row["error_message"], row["error_hint"])
    schema = None
    if row["arrow_schema"] is not None:
        schema = pa.ipc.read_schema(pa.py_buffer(bytes(row["arrow_schema"])))
    return Outcome(
        row["seq"],
        row["rows"],
        row["encoding"],
        json.loads(row["stats"]),
        row["bytes"],
        schema,
        error,
    )


def _members_of(tasks: Sequence[Task]) -> dict[int, list[Task]]:
    by_member: dict[int, list[Task]] = {}
    for task in tasks:
        by_member.setdefault(task.member, []).append(task)
    return by_member


def _retry_failures(
    spark: SparkSession,
    plan: Plan,
    tasks: Sequence[Task],
    outcomes: dict[int, Outcome],
    source: SourceFormat,
) -> dict[int, Outcome]:
    """A member with a failed range is read whole, as the Arrow engine reads it."""
    result = dict(outcomes)
    whole: list[Task] = []
    for member, own in _members_of(tasks).items():
        if not any(outcomes[t.seq].error is not None for t in own):
            continue
        if own[0].whole:
            raise_first(outcomes[own[0].seq])
        for task in own:
            result.pop(task.seq, None)
        first = own[0]
        whole.append(Task(first.seq, member, 0, plan.store.size(plan.members[member].key), True))
    if not whole:
        return result
    formats = list(plan.formats)
    for task in whole:
        formats[task.member] = (source, source)
    for outcome in _run(spark, replace(plan, formats=tuple(formats)), whole):
        raise_first(outcome)
        result[outcome.seq] = outcome
    return result


def raise_first(outcome: Outcome) -> None:
    if outcome.error is not None:
        raise outcome.error


def _report(plan: Plan, tasks: Sequence[Task], outcomes: dict[int, Outcome]) -> BronzeBuild:
    members: list[dict[str, Any]] = []
    schemas: list[pa.Schema] = []
    for member, own in _members_of(tasks).items():
        done = [outcomes[t.seq] for t in own if t.seq in outcomes]
        first = done[0]
        failures: dict[str, int] = {}
        for outcome in done:
            for column, count in outcome.stats.get("parse_failures", {}).items():
                failures[column] = failures.get(column, 0) + int(count)
        columns = list(first.stats.get("columns", []))
        ordered = {c: failures[c] for c in columns if c in failures}
        members.append(
            {
                "member": plan.members[member].name,
                "encoding": first.encoding,
                **first.stats,
                "fallback_lines": sum(int(o.stats.get("fallback_lines", 0)) for o in done),
                "rows": sum(o.rows for o in done),
                "parse_failures": ordered,
            }
        )
        schemas.extend(o.schema for o in done if o.schema is not None)
    kept = sorted(outcomes)
    return BronzeBuild(
        members=members,
        rows=sum(outcomes[s].rows for s in kept),
        files=len(kept),
        bytes=sum(outcomes[s].bytes for s in kept),
        schema=pa.unify_schemas(schemas, promote_options="default"),
        keys=[file_key(plan.prefix, s) for s in kept],
    )
