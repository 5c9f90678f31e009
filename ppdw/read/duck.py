"""The DuckDB engine: the catalog's tables as schemas and views in an in-process DuckDB.

Each table the SQL names is handed over as an Arrow table (read from its registered
partitions by `ppdw.read.tables`) and shown as view `database.table`; with `--as-of` the
view holds only the rows live at that time (`ppdw.read.asof.view_sql`). Results stream
out in batches, so `--limit` stops reading early.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping
from datetime import datetime

import pyarrow as pa

from ppdw.errors import PpdwError, UsageError
from ppdw.read import asof
from ppdw.read.asof import quote
from ppdw.read.result import QueryResult

BATCH_ROWS = 65_536

#: (database, table) -> (layer, rows as the catalog types them)
Tables = Mapping[tuple[str, str], tuple[str, pa.Table]]


def view_body(layer: str, source: str, moment: datetime | None) -> str:
    if moment is not None:
        filtered = asof.view_sql(layer, source, moment)
        if filtered is not None:
            return filtered
    return f"SELECT * FROM {source}"


def run(
    sql: str,
    tables: Tables,
    *,
    moment: datetime | None = None,
    limit: int | None = None,
    known: Callable[[], str] | None = None,
) -> QueryResult:
    """Run `sql` over `tables`; exit 2 for SQL that does not parse or names no known table.

    `known` lists the catalog's tables for the hint; it is only called on that error."""
    import duckdb  # deferred: `ppdw --help` must stay fast

    con = duckdb.connect(":memory:")
    try:
        for index, ((database, name), (layer, data)) in enumerate(sorted(tables.items())):
            raw = f"_ppdw_{index}"
            con.register(raw, data)
            con.execute(f"CREATE SCHEMA IF NOT EXISTS {quote(database)}")
            body = view_body(layer, quote(raw), moment)
            con.execute(f"CREATE VIEW {quote(database)}.{quote(name)} AS {body}")
        try:
            relation = con.sql(sql)
            if relation is None:
                return QueryResult(pa.table({}), "duckdb", False, sql)
            table, truncated = _collect(relation.to_arrow_reader(BATCH_ROWS), limit)
        except duckdb.ProgrammingError as exc:
            raise UsageError(
                f"query: {_first_line(exc)}",
                f"tables: {known()}" if known else "name tables like pp_dw_silver.nsde",
            ) from exc
        except duckdb.Error as exc:
            raise PpdwError(f"query failed: {_first_line(exc)}") from exc
        return QueryResult(table, "duckdb", truncated, sql)
    finally:
        con.close()


def _first_line(exc: BaseException) -> str:
    return str(exc).strip().splitlines()[0] if str(exc).strip() else type(exc).__name__


def _collect(reader: pa.RecordBatchReader, limit: int | None) -> tuple[pa.Table, bool]:
    batches: list[pa.RecordBatch] = []
    rows = 0
    for batch in reader:
        if limit is not None and rows + batch.num_rows > limit:
            batches.append(batch.slice(0, limit - rows))
            return pa.Table.from_batches(batches, reader.schema), True
        batches.append(batch)
        rows += batch.num_rows
    return pa.Table.from_batches(batches, reader.schema), False
