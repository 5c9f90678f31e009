"""Business keys as users type them, and values as JSON and people read them. Pure."""

from __future__ import annotations

from collections.abc import Sequence
from datetime import date, datetime
from decimal import Decimal
from typing import Any

import pyarrow as pa
import pyarrow.compute as pc

from ppdw.errors import UsageError

Key = tuple[str, ...]


def parse_key(text: str, key_columns: Sequence[str], dataset: str) -> Key:
    """`value` (single-column keys) or `col=value,col=value` (any key) -> values in key order."""
    columns = list(key_columns)
    if "=" not in text:
        if len(columns) == 1:
            return (text,)
        raise UsageError(
            f"key {text!r}: {dataset}'s key has {len(columns)} columns",
            "give it as " + ",".join(f"{c}=VALUE" for c in columns),
        )
    given: dict[str, str] = {}
    for part in text.split(","):
        name, sep, value = part.partition("=")
        name = name.strip()
        if not sep or name not in columns:
            raise UsageError(
                f"key {text!r}: {name!r} is not a key column of {dataset}",
                "key columns: " + ", ".join(columns),
            )
        given[name] = value
    missing = [c for c in columns if c not in given]
    if missing:
        raise UsageError(
            f"key {text!r}: missing key column(s) {', '.join(missing)} of {dataset}",
            "give it as " + ",".join(f"{c}=VALUE" for c in columns),
        )
    return tuple(given[c] for c in columns)


def key_text(key: Key, key_columns: Sequence[str]) -> str:
    if len(key_columns) == 1:
        return key[0]
    return ",".join(f"{c}={v}" for c, v in zip(key_columns, key, strict=True))


def key_strings(table: pa.Table, key_columns: Sequence[str]) -> list[Key]:
    """Each row's key as text (the form users type), in row order."""
    columns = [pc.cast(table.column(c), pa.string()).to_pylist() for c in key_columns]
    return [tuple("" if v is None else str(v) for v in row) for row in zip(*columns, strict=True)]


def key_filter(key_columns: Sequence[str], wanted: Sequence[Key]) -> Any:
    """A row filter keeping the rows whose key is one of `wanted` (for `read_table`)."""
    first = pa.array(sorted({k[0] for k in wanted}), pa.string())
    wanted_set = set(wanted)

    def keep(table: pa.Table) -> pa.Table:
        column = pc.cast(table.column(key_columns[0]), pa.string())
        table = table.filter(pc.is_in(column, value_set=first))
        if len(key_columns) == 1 or table.num_rows == 0:
            return table
        mask = pa.array([k in wanted_set for k in key_strings(table, key_columns)])
        return table.filter(mask)

    return keep


def json_value(value: Any) -> Any:
    """A value of a row as JSON shows it: dates and times ISO-8601, decimals as text."""
    if isinstance(value, datetime):
        return value.isoformat()
    if isinstance(value, date):
        return value.isoformat()
    if isinstance(value, Decimal):
        return str(value)
    if isinstance(value, bytes):
        return value.hex()
    return value


def text_value(value: Any) -> str:
    """A value as a table cell: null as `-`, times without a zone as `YYYY-MM-DD HH:MM:SS`."""
    if value is None:
        return "-"
    if isinstance(value, datetime):
        return value.strftime("%Y-%m-%d %H:%M:%S")
    return str(json_value(value))
