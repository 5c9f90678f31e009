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

import numpy as np
import pyarrow as pa
import pyarrow.compute as pc

from ppdw.errors import DataQualityError
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
from ppdw.runtime.silver.result import MergeResult, rehashed_versions, row_numbers


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
    """New full content of partition `year_month`: `existing` with the versions this run
    closes (or rehashes) updated where they stand, then this run's new versions of that
    month; nothing else changes.

    Rows stay in the order they were written: a run appends its new versions after the
    partition's rows and rewrites only `record_end_date` and `is_current` of the versions
    it closes (`record_hash` of those it rehashes), column by column, so the string data
    of the partition is never copied or re-sorted."""
    keys = list(result.keys)
    if existing is None or existing.num_columns == 0:
        existing = result.schema.empty_table()
    target = _partition_schema(existing.schema, result.schema)
    if EFFECTIVE_YEAR_MONTH not in existing.column_names:  # the writer may keep it in paths only
        existing = existing.append_column(
            EFFECTIVE_YEAR_MONTH, pa.repeat(pa.scalar(year_month), existing.num_rows)
        )
    existing = conform(existing, target)
    closed = _in_month(result.closed, year_month)
    existing = _update_where_they_stand(existing, closed, keys, (RECORD_END_DATE, IS_CURRENT))
    rehashed = _in_month(rehashed_versions(result), year_month)
    existing = _update_where_they_stand(existing, rehashed, keys, (RECORD_HASH,))
    fresh = conform(_in_month(result.new_versions, year_month), target)
    return pa.concat_tables([existing, fresh]) if fresh.num_rows else existing


def _update_where_they_stand(
    existing: pa.Table, versions: pa.Table, keys: list[str], columns: Sequence[str]
) -> pa.Table:
    """`existing` with `columns` taken from `versions`, each of which is a current version
    in `existing` (same keys and effective date): found by a join, set by a masked replace."""
    if versions.num_rows == 0:
        return existing
    at = _positions(existing, versions, keys)
    order = pc.sort_indices(at)
    mask = np.zeros(existing.num_rows, dtype=bool)
    mask[at.to_numpy()] = True
    hit = pa.array(mask)
    for name in columns:
        index = existing.schema.get_field_index(name)
        column = existing.column(index).combine_chunks()
        replacements = versions.column(name).take(order).cast(column.type).combine_chunks()
        existing = existing.set_column(
            index, existing.field(index), pc.replace_with_mask(column, hit, replacements)
        )
    return existing


_AT, _ROW = "__at", "__version"


def _positions(existing: pa.Table, versions: pa.Table, keys: list[str]) -> pa.Array:
    """Position in `existing` of the current version matching each row of `versions` (in
    `versions`' order). Refuses when one is missing or found twice: silver would not hold
    what the run read from it, and rewriting the partition could lose a version."""
    match = [*keys, RECORD_EFFECTIVE_DATE]
    live = existing.select(match).append_column(_AT, row_numbers(existing.num_rows))
    live = live.filter(pc.fill_null(existing.column(IS_CURRENT), False))
    wanted = versions.select(match).append_column(_ROW, row_numbers(versions.num_rows))
    # The small side is the right one: Arrow builds its hash table there.
    pairs = live.join(wanted, match, join_type="inner").sort_by(_ROW)
    found = pairs.column(_ROW).combine_chunks()
    if len(found) != versions.num_rows or not found.equals(row_numbers(versions.num_rows)):
        raise DataQualityError(
            "silver_integrity",
            f"{versions.num_rows} current version(s) this run closes or rehashes map to "
            f"{len(found)} row(s) of their partition; nothing was written",
            hint="silver changed under this run, or a partition file was edited by hand",
        )
    return pairs.column(_AT).combine_chunks()


def _in_month(table: pa.Table, ym: str) -> pa.Table:
    mask = pc.equal(table.column(EFFECTIVE_YEAR_MONTH), ym)
    if mask.null_count == 0 and pc.all(mask).as_py():
        return table  # the common case for new versions (all in T's month): no copy
    return table.filter(mask)


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
