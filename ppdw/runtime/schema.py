"""Arrow types and meta column names shared by bronze and silver.

Rule: a column name or type that two layers (or the writer and the catalog) must agree on
is defined here once. Pure: pyarrow and the standard library only.
"""

from __future__ import annotations

from collections.abc import Sequence
from datetime import UTC, datetime

import pyarrow as pa

#: Every timestamp the warehouse writes: millisecond unit, UTC (Athena reads these right).
TIMESTAMP = pa.timestamp("ms", tz="UTC")

META_PREFIX = "meta_"
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

#: Names a source column may not take: they would collide with a layer's own columns.
RESERVED_NAMES = frozenset(BRONZE_META) | frozenset(SILVER_META)

OPEN_END = datetime(9999, 12, 31, tzinfo=UTC)


def is_meta(name: str) -> bool:
    return name.startswith(META_PREFIX)


def business_columns(schema: pa.Schema) -> list[str]:
    """Bronze columns that come from the source (everything but `meta_*`)."""
    return [name for name in schema.names if not is_meta(name)]


def tracked_columns(schema: pa.Schema, keys: Sequence[str]) -> list[str]:
    """Columns whose values make a version: not a key, not meta, not silver bookkeeping."""
    skip = set(keys) | set(SILVER_META)
    return [name for name in schema.names if name not in skip and not is_meta(name)]


def utc_ms(moment: datetime) -> datetime:
    """`moment` in UTC truncated to milliseconds (naive values are taken as UTC)."""
    if moment.tzinfo is None:
        moment = moment.replace(tzinfo=UTC)
    moment = moment.astimezone(UTC)
    return moment.replace(microsecond=moment.microsecond // 1000 * 1000)
