"""Arrow types and meta column names shared by bronze and silver.

Rule: a column name or type that two layers (or the writer and the catalog) must agree on
is defined here once, with the silver schema and its evolution between runs
(`align_schema`). Pure: pyarrow, the standard library and ppdw.errors only.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import TYPE_CHECKING

import pyarrow as pa

from ppdw.errors import DataQualityError

if TYPE_CHECKING:
    from ppdw.config.models import Dataset

#: Every timestamp the warehouse writes: millisecond unit, UTC (Athena reads these right).
TIMESTAMP = pa.timestamp("ms", tz="UTC")

META_INGEST_TIMESTAMP = "meta_ingest_timestamp"
META_RUN_ID = "meta_run_id"
META_SOURCE_FILE = "meta_source_file"

BRONZE_META_FIELDS: tuple[pa.Field, ...] = (
    pa.field(META_INGEST_TIMESTAMP, TIMESTAMP),
    pa.field(META_RUN_ID, pa.string()),
    pa.field(META_SOURCE_FILE, pa.string()),
)
BRONZE_META = tuple(field.name for field in BRONZE_META_FIELDS)

RECORD_HASH = "record_hash"
RECORD_EFFECTIVE_DATE = "record_effective_date"
RECORD_END_DATE = "record_end_date"
IS_CURRENT = "is_current"
CHANGE_TYPE = "change_type"
EFFECTIVE_YEAR_MONTH = "effective_year_month"

SILVER_META_FIELDS: tuple[pa.Field, ...] = (
    pa.field(RECORD_HASH, pa.string()),
    pa.field(RECORD_EFFECTIVE_DATE, TIMESTAMP),
    pa.field(RECORD_END_DATE, TIMESTAMP),
    pa.field(IS_CURRENT, pa.bool_()),
    pa.field(CHANGE_TYPE, pa.string()),
    pa.field(META_RUN_ID, pa.string()),
    pa.field(EFFECTIVE_YEAR_MONTH, pa.string()),
)
SILVER_META: tuple[str, ...] = tuple(field.name for field in SILVER_META_FIELDS)

#: The exact names of the columns ppdw writes itself. One rule (data.md, Silver): a source
#: column with one of these (normalized) names fails the run (`bronze.to_bronze`); every
#: other source column is a business column whatever its name (`meta_notes` is tracked).
RESERVED_NAMES = frozenset(BRONZE_META) | frozenset(SILVER_META)

OPEN_END = datetime(9999, 12, 31, tzinfo=UTC)


def is_reserved(name: str) -> bool:
    return name in RESERVED_NAMES


def business_columns(schema: pa.Schema) -> list[str]:
    """Columns that come from the source (every column but ppdw's own)."""
    return [name for name in schema.names if not is_reserved(name)]


def tracked_columns(schema: pa.Schema, keys: Sequence[str]) -> list[str]:
    """Columns whose values make a version: every source column but the keys."""
    return [name for name in business_columns(schema) if name not in keys]


def utc_ms(moment: datetime) -> datetime:
    """`moment` in UTC truncated to milliseconds (naive values are taken as UTC)."""
    if moment.tzinfo is None:
        moment = moment.replace(tzinfo=UTC)
    moment = moment.astimezone(UTC)
    return moment.replace(microsecond=moment.microsecond // 1000 * 1000)


def silver_schema(bronze_schema: pa.Schema, keys: Sequence[str]) -> pa.Schema:
    """Keys (in key order), tracked columns (bronze order), then the silver meta columns."""
    missing = [key for key in keys if key not in bronze_schema.names]
    if missing:
        raise DataQualityError(
            "missing_column", f"business key column(s) {', '.join(missing)} not in the source"
        )
    key_fields = [bronze_schema.field(key) for key in keys]
    tracked = [bronze_schema.field(name) for name in tracked_columns(bronze_schema, keys)]
    return pa.schema([*key_fields, *tracked, *SILVER_META_FIELDS])


def conform(table: pa.Table, schema: pa.Schema) -> pa.Table:
    """`table` with exactly `schema`'s columns, in order; missing ones null (old rows)."""
    columns = []
    for item in schema:
        if item.name in table.column_names:
            columns.append(table.column(item.name).cast(item.type))
        else:
            columns.append(pa.nulls(table.num_rows, item.type))
    return pa.Table.from_arrays(columns, schema=schema)


def _meta_fields(schema: pa.Schema) -> list[pa.Field]:
    """The silver meta columns, dictionary-encoded where `schema` holds them so (a reader
    keeping a column of few values small: the merge keeps them as they were read)."""
    fields = []
    for item in SILVER_META_FIELDS:
        found = schema.field(item.name) if item.name in schema.names else item
        encoded = pa.types.is_dictionary(found.type) and found.type.value_type == item.type
        fields.append(found if encoded else item)
    return fields


@dataclass
class Alignment:
    """Current versions and snapshot brought to one silver schema (data.md, schema changes)."""

    current: pa.Table  # silver schema
    snapshot: pa.Table  # keys + tracked columns, same order and types as `current`
    tracked: list[str]
    added: list[str]  # new in the source: null in every older version
    dropped: list[str]  # gone from the source and allowed to: null from this run on


def align_schema(current: pa.Table, snapshot: pa.Table, dataset: Dataset) -> Alignment:
    """Check and apply the schema changes between silver and a new snapshot.

    A new source column is added; a tracked column missing from the source fails with
    `missing_column` unless `silver.allow_dropped_columns` lists it; a changed type fails
    with `type_change`.
    """
    keys = list(dataset.business_key)
    incoming = silver_schema(snapshot.schema, keys)
    old_tracked = tracked_columns(current.schema, keys)
    new_tracked = tracked_columns(incoming, keys)
    for name in keys + [n for n in old_tracked if n in new_tracked]:
        before, after = current.schema.field(name).type, incoming.field(name).type
        if before != after:
            raise DataQualityError(
                "type_change",
                f"column {name} was {before} in silver and is {after} in the source",
                hint="a column's type cannot change; configure it in dataset.json",
            )
    missing = [n for n in old_tracked if n not in new_tracked]
    refused = [n for n in missing if n not in dataset.silver.allow_dropped_columns]
    if refused:
        raise DataQualityError(
            "missing_column",
            f"column(s) {', '.join(refused)} of silver are missing from the source",
            hint="if the source dropped them for good, list them in "
            "silver.allow_dropped_columns of dataset.json",
        )
    added = [n for n in new_tracked if n not in old_tracked]
    tracked = old_tracked + added
    fields = [current.schema.field(n) for n in keys + old_tracked]
    fields += [incoming.field(n) for n in added]
    schema = pa.schema([*fields, *_meta_fields(current.schema)])
    business = pa.schema(fields)
    return Alignment(
        current=conform(current, schema),
        snapshot=conform(snapshot, business),
        tracked=tracked,
        added=added,
        dropped=missing,
    )
