"""Time travel, pure: what `--as-of TIME|RUN_ID` means and the filters that implement it.

Silver as of `T` is the set of versions with `record_effective_date <= T <
record_end_date`, DELETE tombstones excluded (data.md, Reading); as of a run id means as of
that run's `T`. Bronze as of `T` is the snapshot live at `T`: the latest bronze partition
whose run time is not later than `T`. The same SQL text filters both engines' views.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any

import pyarrow as pa
import pyarrow.compute as pc

from ppdw.errors import UsageError
from ppdw.naming import partition_datetime
from ppdw.runtime.schema import CHANGE_TYPE, RECORD_EFFECTIVE_DATE, RECORD_END_DATE

BRONZE_PARTITION_KEY = "partition_datetime"
DELETE = "DELETE"


@dataclass(frozen=True)
class AsOf:
    """A resolved `--as-of`: the moment, and the run it was named by (if any)."""

    moment: datetime
    run_id: str | None = None

    @property
    def text(self) -> str:
        return self.moment.strftime("%Y-%m-%dT%H:%M:%SZ")

    def to_json(self) -> dict[str, Any]:
        return {"time": self.text, "run_id": self.run_id}


def parse_moment(text: str) -> datetime | None:
    """ISO-8601 date or date-time (naive = UTC, `Z` accepted); None if not one."""
    try:
        moment = datetime.fromisoformat(text.strip().replace("Z", "+00:00"))
    except ValueError:
        return None
    if moment.tzinfo is None:
        moment = moment.replace(tzinfo=UTC)
    return moment.astimezone(UTC)


def resolve(text: str, run_times: dict[str, datetime], dataset: str) -> AsOf:
    """`--as-of` as a run id (its run time) or an ISO-8601 time; exit 2 when neither."""
    if text in run_times:
        return AsOf(run_times[text], text)
    moment = parse_moment(text)
    if moment is not None:
        return AsOf(moment)
    newest = sorted(run_times, key=lambda rid: run_times[rid], reverse=True)
    raise UsageError(
        f"--as-of {text!r} is neither a run of {dataset} nor an ISO-8601 time",
        "runs: "
        + (", ".join(newest[:10]) + (", ..." if len(newest) > 10 else "") or "none")
        + "; a time looks like 2026-11-02T06:00:00Z",
    )


# ------------------------------------------------------------------------------- SQL


def sql_timestamp(moment: datetime) -> str:
    """A TIMESTAMP literal both Athena (Trino) and DuckDB read as UTC wall time.

    The catalog types silver's dates as `timestamp` (no zone), stored in UTC; DuckDB's
    views get the same type (see `ppdw.read.tables.catalog_types`)."""
    utc = moment.astimezone(UTC)
    return f"TIMESTAMP '{utc:%Y-%m-%d %H:%M:%S}'"


def quote(identifier: str) -> str:
    return '"' + identifier.replace('"', '""') + '"'


def silver_view_sql(source: str, moment: datetime) -> str:
    """SELECT of the versions of silver table `source` live at `moment`."""
    at = sql_timestamp(moment)
    return (
        f"SELECT * FROM {source} WHERE {quote(RECORD_EFFECTIVE_DATE)} <= {at} "
        f"AND {quote(RECORD_END_DATE)} > {at} AND {quote(CHANGE_TYPE)} <> '{DELETE}'"
    )


def bronze_view_sql(source: str, moment: datetime) -> str:
    """SELECT of the bronze snapshot live at `moment` (the latest partition not after it)."""
    key = quote(BRONZE_PARTITION_KEY)
    at = partition_datetime(moment)
    return (
        f"SELECT * FROM {source} WHERE {key} = "
        f"(SELECT max({key}) FROM {source} WHERE {key} <= '{at}')"
    )


def view_sql(layer: str, source: str, moment: datetime) -> str | None:
    """The as-of SELECT of a layer's table; None for a layer without time travel."""
    if layer == "silver":
        return silver_view_sql(source, moment)
    if layer == "bronze":
        return bronze_view_sql(source, moment)
    return None


# ----------------------------------------------------------------------------- Arrow


def live_mask(table: pa.Table, moment: datetime) -> pa.ChunkedArray:
    """Rows of a silver table live at `moment` (Arrow; timestamps with or without zone)."""
    column = table.column(RECORD_EFFECTIVE_DATE)
    at = pa.scalar(_for_type(moment, column.type), column.type)
    effective = pc.less_equal(column, at)
    end = table.column(RECORD_END_DATE)
    ended = pc.greater(end, pa.scalar(_for_type(moment, end.type), end.type))
    alive = pc.not_equal(table.column(CHANGE_TYPE), DELETE)
    return pc.and_kleene(pc.and_kleene(effective, ended), pc.fill_null(alive, True))


def _for_type(moment: datetime, kind: pa.DataType) -> datetime:
    utc = moment.astimezone(UTC)
    return utc if getattr(kind, "tz", None) else utc.replace(tzinfo=None)


def silver_as_of(table: pa.Table, moment: datetime) -> pa.Table:
    return table.filter(live_mask(table, moment))


def previous_run(run_times: dict[str, datetime], before: datetime) -> str | None:
    """The applied run with the latest run time earlier than `before`."""
    earlier = [(t, rid) for rid, t in run_times.items() if t < before]
    return max(earlier)[1] if earlier else None
