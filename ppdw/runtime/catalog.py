"""Glue tables and partitions of the bronze and silver layers.

Rules (data.md, Catalog): a missing table is made to exist before partitions are
registered. By default (`schema`) it is created at once from the Arrow schema just
written: a crawler cannot make table `{dataset}` under this layout (it names the table
after the folder and reads silver's run-named version folders as a partition key), so
waiting for one would only delay the run. `crawler` keeps the crawler-first path: start
the layer's crawler, wait (bounded), then fall back to the schema; a stray table the
crawler named after the folder is removed. Either way the result is table `{dataset}`
with exact types. Partitions go through the batch APIs
(<= 100 per call) and every error in a batch response is acted on.
This module is the policy only: every Glue call goes through `ppdw.aws.catalog`.
"""

from __future__ import annotations

import time
from collections.abc import Callable, Iterable, Sequence
from dataclasses import dataclass
from typing import Any, Literal

import pyarrow as pa

from ppdw.aws import catalog as calls
from ppdw.contracts import partition_counts
from ppdw.contracts.partition_counts import Counts
from ppdw.errors import AwsError

PARQUET_INPUT = "org.apache.hadoop.hive.ql.io.parquet.MapredParquetInputFormat"
PARQUET_OUTPUT = "org.apache.hadoop.hive.ql.io.parquet.MapredParquetOutputFormat"
PARQUET_SERDE = "org.apache.hadoop.hive.ql.io.parquet.serde.ParquetHiveSerDe"
BATCH_CREATE_MAX = 100
BATCH_UPDATE_MAX = 100

TableCreation = Literal["crawler", "schema"]
Sleep = Callable[[float], None]
Clock = Callable[[], float]


@dataclass(frozen=True)
class TableSpec:
    """What a layer's table must be: where, which columns, which partition key."""

    database: str
    name: str
    location: str  # s3://bucket/bronze/bronze_{dataset}/
    schema: pa.Schema  # data columns only, without the partition key
    partition_key: str


@dataclass(frozen=True)
class Partition:
    value: str
    location: str
    #: Rows of the folder, recorded on the partition (`ppdw.contracts.partition_counts`).
    counts: Counts | None = None


def glue_type(arrow_type: pa.DataType) -> str:
    """The Hive/Glue type of an Arrow type, exactly as Athena reads it from parquet."""
    if pa.types.is_string(arrow_type) or pa.types.is_large_string(arrow_type):
        return "string"
    if pa.types.is_boolean(arrow_type):
        return "boolean"
    if pa.types.is_int8(arrow_type):
        return "tinyint"
    if pa.types.is_int16(arrow_type):
        return "smallint"
    if pa.types.is_int32(arrow_type):
        return "int"
    if pa.types.is_integer(arrow_type):
        return "bigint"
    if pa.types.is_float32(arrow_type):
        return "float"
    if pa.types.is_floating(arrow_type):
        return "double"
    if pa.types.is_decimal(arrow_type):
        return f"decimal({arrow_type.precision},{arrow_type.scale})"
    if pa.types.is_date(arrow_type):
        return "date"
    if pa.types.is_timestamp(arrow_type):
        return "timestamp"
    if pa.types.is_binary(arrow_type) or pa.types.is_large_binary(arrow_type):
        return "binary"
    raise ValueError(f"no Glue type for Arrow type {arrow_type}")


def glue_columns(schema: pa.Schema, exclude: Iterable[str] = ()) -> list[dict[str, str]]:
    skip = set(exclude)
    return [
        {"Name": field.name, "Type": glue_type(field.type)}
        for field in schema
        if field.name not in skip
    ]


def _storage(location: str, columns: list[dict[str, str]]) -> dict[str, Any]:
    return {
        "Columns": columns,
        "Location": location,
        "InputFormat": PARQUET_INPUT,
        "OutputFormat": PARQUET_OUTPUT,
        "Compressed": False,
        "SerdeInfo": {
            "SerializationLibrary": PARQUET_SERDE,
            "Parameters": {"serialization.format": "1"},
        },
        "StoredAsSubDirectories": False,
    }


def table_input(spec: TableSpec, columns: list[dict[str, str]] | None = None) -> dict[str, Any]:
    cols = columns if columns is not None else glue_columns(spec.schema, [spec.partition_key])
    return {
        "Name": spec.name,
        "TableType": "EXTERNAL_TABLE",
        "Parameters": {"classification": "parquet", "EXTERNAL": "TRUE"},
        "PartitionKeys": [{"Name": spec.partition_key, "Type": "string"}],
        "StorageDescriptor": _storage(spec.location, cols),
    }


#: A table's description, None when it is missing (kept here: readers import it from here).
get_table = calls.get_table


# ------------------------------------------------------------------------- crawler path


def _latest_crawl_state(glue: Any, crawler: str) -> str | None:
    # ListCrawls gives the state of each crawl; the newest decides.
    crawls = calls.crawls(glue, crawler)
    if not crawls:
        return None
    newest = max(crawls, key=lambda c: c.get("StartTime") or 0)
    return str(newest.get("State")) if newest.get("State") else None


def run_crawler(
    glue: Any, crawler: str, wait_seconds: float, *, sleep: Sleep, clock: Clock
) -> bool:
    """Start the crawler and wait (bounded, with backoff); True when it completed."""
    # "running": someone else started it, so wait for that crawl.
    if calls.start_crawler(glue, crawler) == "missing":
        return False
    deadline = clock() + wait_seconds
    delay = 1.0
    while True:
        state = _latest_crawl_state(glue, crawler)
        crawler_state = calls.crawler_state(glue, crawler)
        if state in ("FAILED", "CANCELLED", "STOPPED", "ERROR"):
            return False
        if state == "COMPLETED" and crawler_state == "READY":
            return True
        remaining = deadline - clock()
        if remaining <= 0:
            return False
        sleep(min(delay, remaining))
        delay = min(delay * 2, 30.0)


def ensure_table(
    glue: Any,
    spec: TableSpec,
    *,
    table_creation: TableCreation = "schema",
    crawler: str | None = None,
    crawler_wait_seconds: float = 600,
    stray_names: Sequence[str] = (),
    sleep: Sleep = time.sleep,
    clock: Clock = time.monotonic,
) -> str:
    """Make table `spec.name` exist with the spec's columns; returns how it was done.

    Returns "exists", "extended" (new columns added), "crawler" or "schema".
    """
    existing = get_table(glue, spec.database, spec.name)
    if existing is not None:
        return "extended" if add_new_columns(glue, spec, existing) else "exists"
    how: str = "schema"
    if table_creation == "crawler" and crawler:
        before = calls.table_names(glue, spec.database)
        completed = run_crawler(glue, crawler, crawler_wait_seconds, sleep=sleep, clock=clock)
        made = calls.table_names(glue, spec.database) - before
        strays = (made | set(stray_names)) - {spec.name}
        for stray in sorted(strays & calls.table_names(glue, spec.database)):
            calls.delete_table(glue, spec.database, stray)
        crawled = get_table(glue, spec.database, spec.name) if completed else None
        if crawled is not None:
            # The crawler's guess may differ from the exact types: impose the schema.
            calls.update_table(glue, spec.database, table_input(spec))
            return "crawler"
    if not calls.create_table(glue, spec.database, table_input(spec)):
        # A concurrent writer won the race: make sure it has our columns.
        add_new_columns(glue, spec, get_table(glue, spec.database, spec.name) or {})
        how = "exists"
    return how


def add_new_columns(glue: Any, spec: TableSpec, existing: dict[str, Any]) -> list[str]:
    """Append columns of `spec.schema` the table lacks (schema change); returns them."""
    storage = existing.get("StorageDescriptor", {})
    current = list(storage.get("Columns", []))
    known = {c["Name"] for c in current} | {k["Name"] for k in existing.get("PartitionKeys", [])}
    added = [c for c in glue_columns(spec.schema, [spec.partition_key]) if c["Name"] not in known]
    if not added:
        return []
    columns = [{"Name": c["Name"], "Type": c["Type"]} for c in current] + added
    calls.update_table(glue, spec.database, table_input(spec, columns))
    return [c["Name"] for c in added]


# --------------------------------------------------------------------------- partitions


def table_columns(glue: Any, database: str, name: str) -> list[dict[str, str]]:
    table = get_table(glue, database, name)
    if table is None:
        raise AwsError(f"Glue table {database}.{name} does not exist")
    return [
        {"Name": c["Name"], "Type": c["Type"]}
        for c in table.get("StorageDescriptor", {}).get("Columns", [])
    ]


def partition_locations(glue: Any, database: str, name: str) -> dict[str, str]:
    """Registered partitions of a single-key table: value -> location (empty if no table)."""
    if get_table(glue, database, name) is None:
        return {}
    return {
        part["Values"][0]: part.get("StorageDescriptor", {}).get("Location", "")
        for part in calls.partitions(glue, database, name)
    }


def _partition_input(part: Partition, columns: list[dict[str, str]]) -> dict[str, Any]:
    return {
        "Values": [part.value],
        "StorageDescriptor": _storage(part.location, columns),
        "Parameters": {
            "classification": "parquet",
            **partition_counts.parameters(part.location, part.counts),
        },
    }


def _error_text(error: dict[str, Any]) -> str:
    detail = error.get("ErrorDetail", {})
    return f"{detail.get('ErrorCode', 'Error')}: {detail.get('ErrorMessage', '')}".strip()


def register_partitions(
    glue: Any, database: str, name: str, partitions: Sequence[Partition]
) -> dict[str, int]:
    """Create missing partitions, repoint those whose location changed (or whose recorded
    counts differ from the ones given); raise on any error.

    Returns counts {"created", "updated", "unchanged"}.
    """
    columns = table_columns(glue, database, name)
    counts = {"created": 0, "updated": 0, "unchanged": 0}
    wanted = {p.value: p for p in partitions}
    exists: list[Partition] = []
    items = list(wanted.values())
    for start in range(0, len(items), BATCH_CREATE_MAX):
        chunk = items[start : start + BATCH_CREATE_MAX]
        errors = calls.batch_create_partitions(
            glue, database, name, [_partition_input(p, columns) for p in chunk]
        )
        failed = {tuple(e.get("PartitionValues", [])): e for e in errors}
        for part in chunk:
            error = failed.get((part.value,))
            if error is None:
                counts["created"] += 1
            elif error.get("ErrorDetail", {}).get("ErrorCode") == "AlreadyExistsException":
                exists.append(part)
            else:
                raise AwsError(
                    f"registering partition {part.value} of {database}.{name} failed: "
                    f"{_error_text(error)}"
                )
    if exists:
        current = _current_partitions(glue, database, name, [p.value for p in exists])
        changed = [p for p in exists if not _holds(current.get(p.value), p)]
        counts["unchanged"] = len(exists) - len(changed)
        _update_partitions(glue, database, name, changed, columns)
        counts["updated"] = len(changed)
    return counts


def _current_partitions(
    glue: Any, database: str, name: str, values: Sequence[str]
) -> dict[str, dict[str, Any]]:
    out: dict[str, dict[str, Any]] = {}
    for start in range(0, len(values), 1000):
        chunk = values[start : start + 1000]
        for part in calls.batch_get_partitions(glue, database, name, chunk):
            out[part["Values"][0]] = part
    return out


def _holds(registered: dict[str, Any] | None, wanted: Partition) -> bool:
    """The registered partition already points at `wanted`'s folder, with its counts
    (a folder rewritten in place, by a retry, gets its new counts)."""
    if registered is None:
        return False
    if registered.get("StorageDescriptor", {}).get("Location", "") != wanted.location:
        return False
    return wanted.counts is None or partition_counts.read(registered) == wanted.counts


def _update_partitions(
    glue: Any,
    database: str,
    name: str,
    partitions: Sequence[Partition],
    columns: list[dict[str, str]],
) -> None:
    for start in range(0, len(partitions), BATCH_UPDATE_MAX):
        chunk = partitions[start : start + BATCH_UPDATE_MAX]
        entries = [
            {"PartitionValueList": [p.value], "PartitionInput": _partition_input(p, columns)}
            for p in chunk
        ]
        errors = calls.batch_update_partitions(glue, database, name, entries)
        if errors:
            first = errors[0]
            values = ",".join(first.get("PartitionValueList", []))
            raise AwsError(
                f"updating partition {values} of {database}.{name} failed: {_error_text(first)}"
            )
