"""Silver rule 4 (data.md): stamp this run's versions and rewrite the partitions they touch.

Rule: pure functions of Arrow tables. `Stamp` fills the bookkeeping columns of the rows
one run writes; `apply_to_partition` turns a merge's result into the full new content of
one partition, leaving every version closed by an earlier run exactly as it was;
`partitions_to_rewrite` names the partitions a run rewrites. `as_of` reads the history.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from datetime import datetime

import pyarrow as pa
import pyarrow.compute as pc

from ppdw.naming import year_month
from ppdw.runtime.hashing import record_hash
from ppdw.runtime.schema import (
    CHANGE_TYPE,
    EFFECTIVE_YEAR_MONTH,
    IS_CURRENT,
    META_RUN_ID,
    OPEN_END,
    RECORD_EFFECTIVE_DATE,
    RECORD_END_DATE,
    RECORD_HASH,
    SILVER_META,
    SILVER_META_FIELDS,
    TIMESTAMP,
    conform,
    utc_ms,
)
from ppdw.runtime.silver.result import MergeResult, rehashed_versions, sort_by_key


@dataclass(frozen=True)
class Stamp:
    """Fills the silver bookkeeping columns of the rows one run writes."""

    run_id: str
    moment: datetime

    def _const(self, rows: int, value: object, kind: pa.DataType) -> pa.Array:
        return pa.repeat(pa.scalar(value, kind), rows)

    def open(self, rows: pa.Table, tracked: Sequence[str], change: str) -> pa.Table:
        n = rows.num_rows
        values = {
            RECORD_HASH: record_hash(rows, tracked),
            RECORD_EFFECTIVE_DATE: self._const(n, self.moment, TIMESTAMP),
            RECORD_END_DATE: self._const(n, OPEN_END, TIMESTAMP),
            IS_CURRENT: self._const(n, True, pa.bool_()),
        }
        return self._with_meta(rows, values, change)

    def tombstone(self, closed: pa.Table) -> pa.Table:
        n = closed.num_rows
        values = {
            RECORD_HASH: closed.column(RECORD_HASH),
            RECORD_EFFECTIVE_DATE: self._const(n, self.moment, TIMESTAMP),
            RECORD_END_DATE: self._const(n, self.moment, TIMESTAMP),
            IS_CURRENT: self._const(n, False, pa.bool_()),
        }
        return self._with_meta(closed, values, "DELETE")

    def _with_meta(self, rows: pa.Table, values: dict[str, object], change: str) -> pa.Table:
        n = rows.num_rows
        values |= {
            CHANGE_TYPE: self._const(n, change, pa.string()),
            META_RUN_ID: self._const(n, self.run_id, pa.string()),
            EFFECTIVE_YEAR_MONTH: self._const(n, year_month(self.moment), pa.string()),
        }
        business = rows.drop_columns([c for c in rows.column_names if c in SILVER_META])
        business = business.drop_columns([c for c in business.column_names if c.startswith("__")])
        for item in SILVER_META_FIELDS:
            business = business.append_column(item, values[item.name])  # type: ignore[arg-type]
        return business

    def close(self, rows: pa.Table) -> pa.Table:
        n = rows.num_rows
        end = rows.schema.get_field_index(RECORD_END_DATE)
        rows = rows.set_column(end, RECORD_END_DATE, self._const(n, self.moment, TIMESTAMP))
        flag = rows.schema.get_field_index(IS_CURRENT)
        return rows.set_column(flag, IS_CURRENT, self._const(n, False, pa.bool_()))


def apply_to_partition(existing: pa.Table | None, result: MergeResult, year_month: str) -> pa.Table:
    """New full content of partition `year_month`: `existing` with this run's closed
    versions replaced, plus this run's new versions of that month; nothing else changes."""
    keys = list(result.keys)
    if existing is None or existing.num_columns == 0:
        existing = result.schema.empty_table()
    target = _partition_schema(existing.schema, result.schema)
    if EFFECTIVE_YEAR_MONTH not in existing.column_names:  # the writer may keep it in paths only
        existing = existing.append_column(
            EFFECTIVE_YEAR_MONTH, pa.repeat(pa.scalar(year_month), existing.num_rows)
        )
    closed = _in_month(result.closed, year_month)
    rehashed = _in_month(rehashed_versions(result), year_month)
    fresh = _in_month(result.new_versions, year_month)
    match = [*keys, RECORD_EFFECTIVE_DATE, IS_CURRENT]
    # The versions this run closes or rehashes are current in `existing`: they are replaced.
    replaced = pa.concat_tables([closed.select(match), rehashed.select(match)])
    if replaced.num_rows:
        probe = replaced.set_column(
            len(match) - 1, IS_CURRENT, pa.repeat(pa.scalar(True), replaced.num_rows)
        )
        existing = existing.join(probe, match, join_type="left anti")
    parts = [conform(table, target) for table in (existing, closed, rehashed, fresh)]
    return sort_by_key(pa.concat_tables(parts), keys)


def _in_month(table: pa.Table, ym: str) -> pa.Table:
    return table.filter(pc.equal(table.column(EFFECTIVE_YEAR_MONTH), ym))


def _partition_schema(existing: pa.Schema, result: pa.Schema) -> pa.Schema:
    """`result`'s columns, plus any business column only the old files still hold."""
    extra = [f for f in existing if f.name not in result.names and f.name not in SILVER_META]
    business = [f for f in result if f.name not in SILVER_META]
    meta = [f for f in result if f.name in SILVER_META]
    return pa.schema([*business, *extra, *meta])


def partitions_to_rewrite(result: MergeResult, run_time: datetime) -> list[str]:
    """Partitions holding a version closed by this run, plus the partition of T when this run
    writes anything (rule 4); empty when the run changes nothing. Partitions holding a
    version whose record_hash this run brings up to date are added (`hash_upgrade`)."""
    months = set(pc.unique(result.closed.column(EFFECTIVE_YEAR_MONTH)).to_pylist())
    months |= set(pc.unique(rehashed_versions(result).column(EFFECTIVE_YEAR_MONTH)).to_pylist())
    if result.new_versions.num_rows:
        months.add(year_month(utc_ms(run_time)))
    return sorted(m for m in months if m is not None)


def as_of(history: pa.Table, moment: datetime) -> pa.Table:
    """The snapshot silver says was true at `moment`: versions with effective <= t < end,
    tombstones excluded. Used by tests and by anyone auditing the history."""
    t = pa.scalar(utc_ms(moment), TIMESTAMP)
    live = pc.and_(
        pc.less_equal(history.column(RECORD_EFFECTIVE_DATE), t),
        pc.greater(history.column(RECORD_END_DATE), t),
    )
    alive = pc.and_(live, pc.not_equal(history.column(CHANGE_TYPE), "DELETE"))
    return history.filter(alive)
