"""DuckDB for the runtime's large vectorized steps, where it is importable.

Rule: optional, and never the only way. Glue's Python environment has no DuckDB, so every
step that uses it has an Arrow path giving the same result (its tests run both). DuckDB is
used from `FROM_ROWS` rows on: a connection costs milliseconds, which the Arrow path beats
on small batches (the Spark engine's tasks, a daily run with few changes); on large ones
DuckDB's hash tables and functions run on every core. Measured crossover on 2 cores:
10k-50k rows.
"""

from __future__ import annotations

import functools
from types import ModuleType

import pyarrow as pa

FROM_ROWS = 32_768


@functools.cache
def module() -> ModuleType | None:
    """DuckDB, imported on first use (not every command needs it), or None without it."""
    try:
        import duckdb
    except ImportError:  # Glue's Python environment: the Arrow paths
        return None
    return duckdb


def worth(rows: int) -> ModuleType | None:
    """DuckDB when it is importable and `rows` is large enough to pay for a connection."""
    return module() if rows >= FROM_ROWS else None


def query(duckdb: ModuleType, sql: str, tables: dict[str, pa.Table]) -> pa.Table:
    """Run `sql` over Arrow `tables` (registered under their keys, not copied)."""
    connection = duckdb.connect()
    try:
        for name, table in tables.items():
            connection.register(name, table)
        result: pa.Table = connection.sql(sql).to_arrow_table()
    finally:
        connection.close()
    return result


def identifier(name: str) -> str:
    """`name` as a quoted SQL identifier."""
    return '"' + name.replace('"', '""') + '"'


def text(value: str) -> str:
    """`value` as an SQL string literal."""
    return "'" + value.replace("'", "''") + "'"
