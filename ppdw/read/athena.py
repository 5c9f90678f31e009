"""The Athena engine: run SQL in the warehouse's workgroup, poll, page, convert to Arrow.

Rules: polling backs off (the sleep is injected); results are read page by page and stop
at `--limit`; Ctrl-C while the query runs stops it (StopQueryExecution) before the
interrupt goes on; a failed or cancelled query raises with Athena's own reason.
"""

from __future__ import annotations

import time
from collections.abc import Callable
from datetime import date, datetime
from decimal import Decimal
from typing import Any

import pyarrow as pa

from ppdw.aws.athena import Athena, ResultPage
from ppdw.errors import AwsError
from ppdw.read.result import QueryResult

Sleep = Callable[[float], None]
FIRST_DELAY = 0.2
MAX_DELAY = 5.0
_INTEGERS = ("tinyint", "smallint", "integer", "int", "bigint")
_FLOATS = ("double", "float", "real")


class QueryFailedError(AwsError):
    """Athena ran the query and it failed (or was cancelled); the message is Athena's."""


def wait(athena: Athena, query_id: str, sleep: Sleep) -> None:
    """Poll until the query ends; Ctrl-C stops the query; failure raises Athena's reason."""
    delay = FIRST_DELAY
    try:
        while True:
            state = athena.query_state(query_id)
            if state.state == "SUCCEEDED":
                return
            if state.state in ("FAILED", "CANCELLED"):
                raise QueryFailedError(
                    f"Athena query {query_id} {state.state.lower()}: "
                    f"{state.reason or 'no reason given'}",
                    "fix the SQL (tables are named like pp_dw_silver.nsde)"
                    if state.state == "FAILED"
                    else None,
                )
            sleep(delay)
            delay = min(delay * 2, MAX_DELAY)
    except KeyboardInterrupt:
        athena.stop_query(query_id)
        raise


def arrow_type(column: dict[str, Any]) -> pa.DataType:
    kind = str(column.get("Type", "varchar")).lower()
    if kind == "boolean":
        return pa.bool_()
    if kind in _INTEGERS:
        return pa.int64()
    if kind in _FLOATS:
        return pa.float64()
    if kind == "decimal":
        return pa.decimal128(int(column.get("Precision") or 38), int(column.get("Scale") or 0))
    if kind == "date":
        return pa.date32()
    if kind.startswith("timestamp"):
        return pa.timestamp("ms")
    return pa.string()


def convert(text: str | None, kind: pa.DataType) -> Any:
    """One cell's VarCharValue as a Python value of the column's type."""
    if text is None:
        return None
    if pa.types.is_boolean(kind):
        return text.lower() == "true"
    if pa.types.is_integer(kind):
        return int(text)
    if pa.types.is_floating(kind):
        return float(text)
    if pa.types.is_decimal(kind):
        return Decimal(text)
    if pa.types.is_date(kind):
        return date.fromisoformat(text)
    if pa.types.is_timestamp(kind):
        return datetime.fromisoformat(text.replace(" UTC", ""))
    return text


def to_table(columns: list[dict[str, Any]], rows: list[list[str | None]]) -> pa.Table:
    schema = pa.schema([pa.field(str(c["Name"]), arrow_type(c)) for c in columns])
    arrays = [
        pa.array([convert(row[i] if i < len(row) else None, f.type) for row in rows], f.type)
        for i, f in enumerate(schema)
    ]
    return pa.Table.from_arrays(arrays, schema=schema)


def _is_header(page: ResultPage, row: list[str | None]) -> bool:
    return row == [str(c.get("Name")) for c in page.columns]


def collect(athena: Athena, query_id: str, limit: int | None) -> tuple[pa.Table, bool]:
    """Every result row (up to `limit`), page by page; the first row is the header."""
    columns: list[dict[str, Any]] = []
    rows: list[list[str | None]] = []
    truncated = False
    first = True
    for page in athena.result_pages(query_id):
        columns = columns or page.columns
        body = page.rows
        if first and body and _is_header(page, body[0]):
            body = body[1:]
        first = False
        rows.extend(body)
        if limit is not None and len(rows) > limit:
            rows, truncated = rows[:limit], True
            break
        if limit is not None and len(rows) == limit and page.next_token:
            truncated = True  # more pages exist: at least one more row
            break
    return to_table(columns, rows), truncated


def run(
    athena: Athena,
    sql: str,
    workgroup: str,
    *,
    limit: int | None = None,
    sleep: Sleep = time.sleep,
) -> QueryResult:
    query_id = athena.start_query(sql, workgroup)
    wait(athena, query_id, sleep)
    table, truncated = collect(athena, query_id, limit)
    return QueryResult(
        table, "athena", truncated, sql, {"query_id": query_id, "workgroup": workgroup}
    )
