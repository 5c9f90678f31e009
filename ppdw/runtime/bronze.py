"""Raw text table -> bronze table: normalized names, trimmed values, types, meta columns.

Rule (data.md "Bronze"): names follow `ppdw.naming.normalize_column_names`; values are
trimmed and "" becomes null; configured columns get their type, and every other column whose
name contains `date` is a date in the dataset's `date_format`; a value that does not parse
becomes null and is counted per column; `meta_ingest_timestamp` (= the run time `T`, ms UTC),
`meta_run_id`, `meta_source_file` are appended. Pure and vectorized (pyarrow.compute).

Parsing is strict: a date or timestamp must read back exactly as written when formatted
with its own format (`20160230` is not rolled over to March, `2016021` is not a date); ints
and decimals are plain decimal notation (`-12`, `3.50`; no exponent), decimals must fit the
configured precision and scale; bools are true/false/1/0/y/n/yes/no in any case.
"""

from __future__ import annotations

import os
import re
from collections.abc import Callable
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass, field
from datetime import datetime
from typing import TYPE_CHECKING, Any

import numpy as np
import pyarrow as pa
import pyarrow.compute as pc

from ppdw.errors import DataQualityError
from ppdw.naming import normalize_column_names
from ppdw.runtime.schema import (
    BRONZE_META_FIELDS,
    META_INGEST_TIMESTAMP,
    META_RUN_ID,
    META_SOURCE_FILE,
    RESERVED_NAMES,
    TIMESTAMP,
    utc_ms,
)

if TYPE_CHECKING:
    from ppdw.config.models import ColumnSpec, Dataset

_TRUE = ["true", "1", "y", "yes"]
_FALSE = ["false", "0", "n", "no"]
_INT64_MIN = -(2**63)
_INT64_MAX = 2**63 - 1


@dataclass
class BronzeStats:
    rows: int
    parse_failures: dict[str, int] = field(default_factory=dict)  # per column, only > 0
    columns: list[str] = field(default_factory=list)
    renamed: dict[str, str] = field(default_factory=dict)  # original -> normalized


@dataclass
class BronzeResult:
    table: pa.Table
    stats: BronzeStats


@dataclass(frozen=True)
class ColumnType:
    """The bronze type of one column: kind plus what parsing it needs."""

    type: str  # string | date | int | decimal | bool | timestamp
    format: str | None = None
    precision: int = 38
    scale: int = 9


def bronze_schema_type(spec: ColumnSpec | ColumnType) -> pa.DataType:
    """Arrow type of a configured column (also what the catalog declares)."""
    if spec.type == "decimal":
        return pa.decimal128(spec.precision, spec.scale)
    return {
        "string": pa.string(),
        "date": pa.date32(),
        "int": pa.int64(),
        "bool": pa.bool_(),
        "timestamp": TIMESTAMP,
    }[spec.type]


def column_type(name: str, dataset: Dataset) -> ColumnType:
    """Configured type, else `date` for a non-key column whose name contains `date`."""
    spec = dataset.columns.get(name)
    if spec is not None:
        return ColumnType(spec.type, spec.format or dataset.date_format, spec.precision, spec.scale)
    if "date" in name and name not in dataset.business_key:
        return ColumnType("date", dataset.date_format)
    return ColumnType("string")


def bronze_schema(source_columns: list[str], dataset: Dataset) -> pa.Schema:
    """Bronze schema for normalized source column names, meta columns last."""
    fields = [pa.field(n, bronze_schema_type(column_type(n, dataset))) for n in source_columns]
    return pa.schema([*fields, *BRONZE_META_FIELDS])


def to_bronze(
    raw: pa.Table, dataset: Dataset, *, run_id: str, run_time: datetime, source_file: str
) -> BronzeResult:
    """Apply the bronze rules (module docstring) to a table read by `readers`."""
    original = list(raw.column_names)
    names = normalize_column_names(original)
    _refuse_reserved(original, names, source_file)
    kinds = [column_type(name, dataset) for name in names]

    def one(index: int) -> tuple[pa.ChunkedArray, int]:
        return convert(_clean(raw.column(index)), kinds[index])

    # pyarrow compute releases the GIL: the columns convert in parallel.
    with ThreadPoolExecutor(max_workers=min(len(names), os.cpu_count() or 1) or 1) as pool:
        converted = list(pool.map(one, range(len(names))))
    failures = {name: failed for name, (_, failed) in zip(names, converted, strict=True) if failed}
    arrays: list[pa.Array | pa.ChunkedArray] = [typed for typed, _ in converted]
    rows = raw.num_rows
    arrays += _meta_arrays(rows, run_id=run_id, run_time=run_time, source_file=source_file)
    schema = bronze_schema(names, dataset)
    table = pa.Table.from_arrays(arrays, schema=schema)
    renamed = {old: new for old, new in zip(original, names, strict=True) if old != new}
    return BronzeResult(table, BronzeStats(rows, failures, names, renamed))


def _refuse_reserved(original: list[str], names: list[str], source_file: str) -> None:
    """The one name rule (data.md, Silver): only the exact names ppdw writes are refused;
    any other source column, `Meta Notes` included, is a business column."""
    clashes = [
        f"{old!r} ({new})" if old != new else repr(old)
        for old, new in zip(original, names, strict=True)
        if new in RESERVED_NAMES
    ]
    if clashes:
        raise DataQualityError(
            "reserved_column",
            f"{source_file}: source column(s) {', '.join(clashes)} use a name ppdw writes itself",
            hint="names ppdw writes itself: " + ", ".join(sorted(RESERVED_NAMES)),
        )


def _clean(column: pa.ChunkedArray) -> pa.ChunkedArray:
    """Trim surrounding white space; "" -> null."""
    return pa.chunked_array([_clean_chunk(chunk) for chunk in column.chunks], pa.string())


def _clean_chunk(chunk: pa.Array) -> pa.Array:
    trim = pc.ascii_trim_whitespace if _plain_ascii(chunk) else pc.utf8_trim_whitespace
    trimmed = trim(chunk)
    keep = pc.greater(pc.binary_length(trimmed), 0)
    if trimmed.null_count:
        keep = pc.fill_null(keep, False)
    if trimmed.offset or keep.offset or not pa.types.is_string(trimmed.type):
        return pc.if_else(keep, trimmed, pa.scalar(None, pa.string()))
    # "" -> null without copying the text: the non-empty mask becomes the validity bitmap.
    _, offsets, data = trimmed.buffers()
    return pa.Array.from_buffers(pa.string(), len(trimmed), [keep.buffers()[1], offsets, data])


def _plain_ascii(chunk: pa.Array) -> bool:
    """Only ASCII bytes and none of 0x1C-0x1F (Unicode white space that the ASCII trim keeps):
    then the ASCII trim (about 2x faster) gives exactly the UTF-8 trim's result."""
    if not pa.types.is_string(chunk.type) or chunk.buffers()[2] is None:
        return False
    data = np.frombuffer(chunk.buffers()[2], dtype=np.uint8)
    if data.size == 0:
        return True
    if int(data.max()) >= 0x80:
        return False
    return not np.any(np.subtract(data, 0x1C, dtype=np.uint8) < 4)


def _meta_arrays(rows: int, *, run_id: str, run_time: datetime, source_file: str) -> list[pa.Array]:
    return [
        pa.repeat(pa.scalar(utc_ms(run_time), TIMESTAMP), rows),
        pa.repeat(pa.scalar(run_id, pa.string()), rows),
        pa.repeat(pa.scalar(source_file, pa.string()), rows),
    ]


def convert(text: pa.ChunkedArray, kind: ColumnType) -> tuple[pa.ChunkedArray, int]:
    """Cleaned text -> typed column, and how many non-null values failed to parse."""
    if kind.type == "string":
        return text, 0
    converter = {
        "date": _to_date,
        "timestamp": _to_timestamp,
        "int": _to_int,
        "decimal": _to_decimal,
        "bool": _to_bool,
    }[kind.type]
    typed = _per_distinct_value(text, kind, converter)
    failed = (len(text) - text.null_count) - pc.count(typed).as_py()
    return typed, failed


#: Above this share of distinct values a column is parsed row by row.
_DISTINCT_SHARE = 0.5


def _per_distinct_value(
    text: pa.ChunkedArray,
    kind: ColumnType,
    converter: Callable[[pa.ChunkedArray, ColumnType], pa.ChunkedArray],
) -> pa.ChunkedArray:
    """Parse each distinct value once and spread the results back over the rows.

    Typed columns repeat their values (a million NSDE rows hold a few thousand dates), and
    parsing is the costly part: at 1M rows this makes the four NSDE date columns about 4x
    faster (bench/), with the same result for every row.
    """
    if len(text) == 0:
        return converter(text, kind)
    distinct = pc.unique(text)
    if len(distinct) > len(text) * _DISTINCT_SHARE:
        return converter(text, kind)
    typed = converter(pa.chunked_array([distinct], text.type), kind)
    return pc.take(typed, pc.index_in(text, value_set=distinct))


#: Fixed-width numeric directives: (component kernel, width). A format made only of these
#: and literal characters is checked without strftime (which is slow in Arrow).
_FIXED = {
    "%Y": (pc.year, 4),
    "%m": (pc.month, 2),
    "%d": (pc.day, 2),
    "%H": (pc.hour, 2),
    "%M": (pc.minute, 2),
    "%S": (pc.second, 2),
}


def _fixed_layout(fmt: str) -> tuple[str, list[tuple[Any, int, int]]] | None:
    """(full-match regex, [(component kernel, offset, width)]) or None for other formats."""
    pattern, parts, offset, i = "", [], 0, 0
    while i < len(fmt):
        if fmt[i] != "%":
            pattern += re.escape(fmt[i])
            offset, i = offset + 1, i + 1
            continue
        directive = fmt[i : i + 2]
        if directive == "%%":
            pattern += "%"
            offset, i = offset + 1, i + 2
            continue
        if directive not in _FIXED:
            return None
        kernel, width = _FIXED[directive]
        pattern += f"[0-9]{{{width}}}"
        parts.append((kernel, offset, width))
        offset, i = offset + width, i + 2
    return f"^{pattern}$", parts


def _strict_strptime(text: pa.ChunkedArray, fmt: str) -> pa.ChunkedArray:
    # Arrow's strptime is lenient (day 30 of February rolls over, `2016021` parses): keep a
    # value only if it reads back exactly as written.
    layout = _fixed_layout(fmt)
    if layout is None:
        parsed = pc.strptime(text, format=fmt, unit="s", error_is_null=True)
        same = pc.equal(pc.strftime(parsed, format=fmt), text)
        return pc.if_else(same, parsed, pa.scalar(None, parsed.type))
    pattern, parts = layout
    shaped = _only_matching(text, pattern)
    parsed = pc.strptime(shaped, format=fmt, unit="s", error_is_null=True)
    same = pc.is_valid(parsed)
    for kernel, offset, width in parts:
        written = pc.utf8_slice_codeunits(shaped, offset, offset + width).cast(pa.int64())
        same = pc.and_(same, pc.equal(kernel(parsed), written))
    return pc.if_else(pc.fill_null(same, False), parsed, pa.scalar(None, parsed.type))


def _to_date(text: pa.ChunkedArray, kind: ColumnType) -> pa.ChunkedArray:
    return _strict_strptime(text, kind.format or "%Y%m%d").cast(pa.date32())


def _to_timestamp(text: pa.ChunkedArray, kind: ColumnType) -> pa.ChunkedArray:
    parsed = _strict_strptime(text, kind.format or "%Y-%m-%dT%H:%M:%S")
    if parsed.type.tz is None:  # a wall time without offset is taken as UTC
        parsed = parsed.cast(pa.timestamp("s", tz="UTC"))
    return parsed.cast(TIMESTAMP)


def _only_matching(text: pa.ChunkedArray, pattern: str) -> pa.ChunkedArray:
    ok = pc.match_substring_regex(text, pattern)
    return pc.if_else(ok, text, pa.scalar(None, pa.string()))


def _to_int(text: pa.ChunkedArray, kind: ColumnType) -> pa.ChunkedArray:
    wide = _only_matching(text, r"^[+-]?[0-9]{1,19}$").cast(pa.decimal128(38, 0))
    low = pa.scalar(_INT64_MIN, pa.decimal128(38, 0))
    high = pa.scalar(_INT64_MAX, pa.decimal128(38, 0))
    in_range = pc.and_(pc.greater_equal(wide, low), pc.less_equal(wide, high))
    return pc.if_else(in_range, wide, pa.scalar(None, wide.type)).cast(pa.int64())


def _to_decimal(text: pa.ChunkedArray, kind: ColumnType) -> pa.ChunkedArray:
    whole, scale = kind.precision - kind.scale, kind.scale
    # The pattern guarantees the value fits precision and scale, so the cast cannot fail.
    options = []
    if whole > 0:
        frac = rf"(\.[0-9]{{0,{scale}}})?" if scale else ""
        options.append(rf"[0-9]{{1,{whole}}}{frac}")
    if scale:
        options.append(rf"\.[0-9]{{1,{scale}}}")
    pattern = rf"^[+-]?({'|'.join(options)})$"
    return _only_matching(text, pattern).cast(pa.decimal128(kind.precision, kind.scale))


def _to_bool(text: pa.ChunkedArray, kind: ColumnType) -> pa.ChunkedArray:
    lower = pc.utf8_lower(text)
    is_true = pc.is_in(lower, value_set=pa.array(_TRUE))
    is_false = pc.is_in(lower, value_set=pa.array(_FALSE))
    known = pc.or_(is_true, is_false)
    return pc.if_else(known, is_true, pa.scalar(None, pa.bool_()))


__all__ = [
    "META_INGEST_TIMESTAMP",
    "META_RUN_ID",
    "META_SOURCE_FILE",
    "BronzeResult",
    "BronzeStats",
    "ColumnType",
    "bronze_schema",
    "bronze_schema_type",
    "column_type",
    "convert",
    "to_bronze",
]
