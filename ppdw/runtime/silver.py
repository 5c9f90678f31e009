"""Silver: SCD Type 2 history of every business key (data.md "Silver", rules 1-6).

Rule: pure functions of Arrow tables. `prepare_snapshot` applies rules 1-2 (rejects,
duplicates) to a bronze snapshot; `merge` compares it with the current versions and returns
only what this run adds (new versions) and closes, after the delete guard (rule 5) and the
run-order check (rule 6); `apply_to_partition` turns that into the full new content of one
partition, leaving every version closed by an earlier run exactly as it was (rule 4).

Everything is vectorized: hash joins (`Table.join`), column-wise comparison, and a record
hash computed only for rows that are new or changed (and, in the first run after the
decimal rendering fix, for unchanged versions whose hash may be of the old form:
`hash_upgrade`). Transforms work on any batch of rows
that holds all rows of each key they touch.
"""

from __future__ import annotations

import os
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass, replace
from datetime import datetime
from typing import TYPE_CHECKING

import numpy as np
import pyarrow as pa
import pyarrow.compute as pc

from ppdw.errors import DataQualityError
from ppdw.naming import year_month
from ppdw.runtime.hash_upgrade import affected_columns, stale_hashes
from ppdw.runtime.hashing import RECORD_HASH_FORM, record_hash
from ppdw.runtime.schema import (
    BRONZE_META,
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
    Alignment,
    align_schema,
    conform,
    silver_schema,
    utc_ms,
)

if TYPE_CHECKING:
    from collections.abc import Sequence

    from ppdw.config.models import Dataset

__all__ = [
    "OPEN_END",
    "SILVER_META",
    "Alignment",
    "MergeResult",
    "MergeStats",
    "align_schema",
    "apply_to_partition",
    "as_of",
    "conform",
    "merge",
    "partitions_to_rewrite",
    "prepare_snapshot",
    "silver_schema",
]

_S, _C = "__snapshot_row", "__current_row"
_ROW = "__row"


@dataclass
class MergeStats:
    rows_read: int = 0
    rejected: int = 0
    duplicates: int = 0  # rows dropped by rule 2 (identical copies and keep_last losers)
    inserts: int = 0
    updates: int = 0
    deletes: int = 0
    unchanged: int = 0
    rehashed: int = 0  # unchanged versions whose old-form record_hash was brought up to date
    record_hash_form: int = RECORD_HASH_FORM  # the form of every hash this run writes


def row_numbers(count: int) -> pa.Array:
    """0 .. count-1 (uint64) without a Python loop."""
    return pc.indices_nonzero(pa.repeat(pa.scalar(True), count))


def prepare_snapshot(bronze: pa.Table, dataset: Dataset) -> tuple[pa.Table, pa.Table, MergeStats]:
    """Rules 1-2: (one row per key in source order, rejected rows, statistics)."""
    keys = list(dataset.business_key)
    silver_schema(bronze.schema, keys)  # fails with missing_column when a key is absent
    rows = bronze.num_rows
    bad = _bad_key_mask(bronze, keys)
    rejected = bronze.filter(bad)
    check_reject_ratio(rejected.num_rows, rows, dataset)
    policy = dataset.silver.on_duplicate_key
    keep = _last_of_each_key(bronze, keys, bad) if policy != "fail" else None
    if keep is not None:
        unique = bronze.filter(keep)  # one copy of the table: rejects and losers out at once
        clean_rows = rows - rejected.num_rows
    else:
        clean = bronze.filter(pc.invert(bad)) if rejected.num_rows else bronze
        unique = _dedupe(clean, keys, policy)
        clean_rows = clean.num_rows
    stats = MergeStats(
        rows_read=rows, rejected=rejected.num_rows, duplicates=clean_rows - unique.num_rows
    )
    return unique, rejected, stats


def check_reject_ratio(rejected: int, rows: int, dataset: Dataset) -> None:
    """Rule 1's threshold over the whole snapshot (both engines call it)."""
    ratio = rejected / rows if rows else 0.0
    if ratio > dataset.quality.max_reject_ratio:
        keys = dataset.business_key
        raise DataQualityError(
            "null_business_key",
            f"{rejected} of {rows} rows ({ratio:.1%}) have a null or empty "
            f"{'/'.join(keys)}, above max_reject_ratio {dataset.quality.max_reject_ratio:.1%}",
            hint="check the source; the threshold is quality.max_reject_ratio in dataset.json",
        )


def _last_of_each_key(table: pa.Table, keys: list[str], bad: pa.ChunkedArray) -> pa.Array | None:
    """Rule 2 (keep_last) for a single key: a mask of the rows to keep (not rejected, last
    of their key in source order), or None for composite keys.

    A hash dictionary of the key column replaces a group-by over the whole table; when every
    clean key is distinct, the mask is just "not rejected".
    """
    if len(keys) != 1:
        return None
    good = pc.invert(bad).combine_chunks()
    clean_rows = table.num_rows - pc.sum(bad.cast(pa.int64())).as_py() if table.num_rows else 0
    column = table.column(keys[0])
    if clean_rows < table.num_rows:
        column = column.filter(good)
    codes = pc.dictionary_encode(column.combine_chunks())
    if len(codes.dictionary) == clean_rows:
        return good
    # Last occurrence of each code: the first one in reversed order.
    reversed_codes = codes.indices.to_numpy(zero_copy_only=False)[::-1]
    _, first_reversed = np.unique(reversed_codes, return_index=True)
    kept_clean = clean_rows - 1 - first_reversed  # positions among the clean rows
    clean_positions = pc.indices_nonzero(good).to_numpy()
    mask = np.zeros(table.num_rows, dtype=bool)
    mask[clean_positions[kept_clean]] = True
    return pa.array(mask)


def _bad_key_mask(table: pa.Table, keys: Sequence[str]) -> pa.ChunkedArray:
    bad = pa.repeat(pa.scalar(False), table.num_rows)
    for key in keys:
        column = table.column(key)
        missing = pc.is_null(column)
        if pa.types.is_string(column.type) or pa.types.is_large_string(column.type):
            blank = pc.equal(pc.utf8_trim_whitespace(column), "")
            missing = pc.or_(missing, pc.fill_null(blank, True))
        bad = pc.or_(bad, missing)
    return bad


def _dedupe(table: pa.Table, keys: list[str], policy: str) -> pa.Table:
    numbered = table.append_column(_ROW, row_numbers(table.num_rows))
    groups = numbered.select([*keys, _ROW]).group_by(keys, use_threads=False)
    last = groups.aggregate([(_ROW, "max"), (_ROW, "count")])
    if last.num_rows == table.num_rows:
        return table
    if policy == "fail":
        _fail_on_conflicts(numbered, last, keys)
    keep = pc.sort_indices(last.column(f"{_ROW}_max"))
    return table.take(last.column(f"{_ROW}_max").take(keep))


def _fail_on_conflicts(numbered: pa.Table, groups: pa.Table, keys: list[str]) -> None:
    """`on_duplicate_key: fail`: identical copies are fine, differing rows are not."""
    dup_keys = groups.filter(pc.greater(groups.column(f"{_ROW}_count"), 1)).select(keys)
    dups = numbered.join(dup_keys, keys, join_type="left semi")
    conflicts = key_conflicts(dups, keys)
    if conflicts.num_rows:
        raise duplicate_key_error(conflicts)


def key_conflicts(table: pa.Table, keys: Sequence[str]) -> pa.Table:
    """The keys (sorted) whose rows in `table` differ in a business column (rule 2)."""
    business = [c for c in table.column_names if c != _ROW and c not in BRONZE_META]
    distinct = table.group_by(business, use_threads=False).aggregate([])
    per_key = distinct.group_by(list(keys), use_threads=False).aggregate([([], "count_all")])
    conflicts = per_key.filter(pc.greater(per_key.column("count_all"), 1))
    return _sort(conflicts.select(list(keys)), keys, by_date=False)


def duplicate_key_error(conflicts: pa.Table) -> DataQualityError:
    """`on_duplicate_key: fail` for these conflicting keys (sorted, at least one)."""
    first = conflicts.slice(0, 1).to_pylist()[0]
    shown = ", ".join(f"{k}={v!r}" for k, v in first.items())
    return DataQualityError(
        "duplicate_key",
        f"{conflicts.num_rows} key(s) have rows with different values, e.g. {shown}",
        hint="fix the source, or set silver.on_duplicate_key to keep_last",
    )


@dataclass
class MergeResult:
    new_versions: pa.Table  # silver schema: the INSERT/UPDATE/DELETE rows of this run
    closed: pa.Table  # current versions closed by this run (record_end_date=T, not current)
    stats: MergeStats
    keys: tuple[str, ...] = ()
    tracked: tuple[str, ...] = ()
    #: Current versions left unchanged, with their old-form record_hash brought up to date
    #: (`hash_upgrade`); nothing else in them differs from what silver holds.
    rehashed: pa.Table | None = None

    @property
    def schema(self) -> pa.Schema:
        return self.new_versions.schema

    @property
    def writes_anything(self) -> bool:
        """False when the run leaves every partition as it is (no data file written)."""
        rehashed = self.rehashed.num_rows if self.rehashed is not None else 0
        return bool(self.new_versions.num_rows or self.closed.num_rows or rehashed)


def merge(
    current: pa.Table | None,
    snapshot: pa.Table,
    dataset: Dataset,
    *,
    run_id: str,
    run_time: datetime,
    force: bool = False,
    base_stats: MergeStats | None = None,
    upgrade_hashes: bool = True,
) -> MergeResult:
    """Apply SCD2 rule 3 to one clean snapshot (see module docstring).

    `current`: the current versions (is_current true) in silver schema, possibly empty; a
    table without columns means "no silver yet". `base_stats` (from `prepare_snapshot`) is
    carried into the result's statistics. `upgrade_hashes`: look for old-form hashes among
    the unchanged current versions (`hash_upgrade`); False once a run has done it.
    """
    keys = list(dataset.business_key)
    moment = utc_ms(run_time)
    if current is None or current.num_columns == 0:
        current = silver_schema(snapshot.schema, keys).empty_table()
    current = _with_year_month(current)
    live = _live_rows(current)  # positions of the current versions; None: every row
    if len(keys) != 1 and live is not None:
        current, live = current.take(live), None
    live_rows = current.num_rows if live is None else len(live)
    dates = current.select([RECORD_EFFECTIVE_DATE])
    _check_order(dates if live is None else dates.take(live), moment)
    aligned = align_schema(current, snapshot, dataset)
    current, snapshot, tracked = aligned.current, aligned.snapshot, aligned.tracked
    pairs = _pair_by_lookup(snapshot, current, keys, live)
    if pairs is None:
        if live is not None:
            current = current.take(live)
        pairs = _pair_by_join(snapshot, current, keys)
    new_s, gone_c, both_s, both_c = pairs
    changed = _changed_mask(snapshot, current, both_s, both_c, tracked)
    changed_s, changed_c = both_s.filter(changed), both_c.filter(changed)
    rehashed = _rehashed(current, both_c, changed, tracked, look=upgrade_hashes)
    tombstone = dataset.silver.deletes == "tombstone"
    if not tombstone:
        gone_c = gone_c.slice(0, 0)
    _guard_deletes(len(gone_c), live_rows, dataset, force)

    stamp = _Stamp(run_id=run_id, moment=moment)
    inserts = stamp.open(snapshot.take(new_s), tracked, "INSERT")
    updates = stamp.open(snapshot.take(changed_s), tracked, "UPDATE")
    closing = current.take(pa.concat_arrays([changed_c, gone_c]))
    deletes = stamp.tombstone(current.take(gone_c))
    schema = current.schema
    new_versions = _sort(pa.concat_tables([inserts, updates, deletes]).cast(schema), keys)
    closed = _sort(stamp.close(closing), keys)
    stats = replace(
        base_stats or MergeStats(rows_read=snapshot.num_rows),
        inserts=inserts.num_rows,
        updates=updates.num_rows,
        deletes=deletes.num_rows,
        unchanged=len(both_s) - len(changed_s),
        rehashed=rehashed.num_rows,
    )
    return MergeResult(new_versions, closed, stats, tuple(keys), tuple(tracked), rehashed)


def _rehashed(
    current: pa.Table,
    matched: pa.Array,
    changed: pa.Array,
    tracked: Sequence[str],
    *,
    look: bool,
) -> pa.Table:
    """The unchanged current versions (`matched` and not `changed`) whose record_hash is of
    the old decimal form, with the documented one (`hash_upgrade`)."""
    if not look or not affected_columns(current.schema, tracked):
        return current.slice(0, 0)  # the common case: no work at all
    rows, hashes = stale_hashes(current, matched.filter(pc.invert(changed)), tracked)
    versions = current.take(rows)
    at = versions.schema.get_field_index(RECORD_HASH)
    return versions.set_column(at, RECORD_HASH, hashes)


def _with_year_month(current: pa.Table) -> pa.Table:
    """The partition of a version is the month of its effective date, whatever was read."""
    if EFFECTIVE_YEAR_MONTH in current.column_names:
        if current.column(EFFECTIVE_YEAR_MONTH).null_count == 0:
            return current
        current = current.drop_columns([EFFECTIVE_YEAR_MONTH])
    return current.append_column(EFFECTIVE_YEAR_MONTH, month_of(current[RECORD_EFFECTIVE_DATE]))


def month_of(moments: pa.ChunkedArray) -> pa.ChunkedArray:
    """`YYYY-MM` of UTC timestamps (component kernels: Arrow's strftime is slow)."""
    year = pc.utf8_lpad(pc.year(moments).cast(pa.string()), width=4, padding="0")
    month = pc.utf8_lpad(pc.month(moments).cast(pa.string()), width=2, padding="0")
    return pc.binary_join_element_wise(year, month, "-")


def _check_order(current: pa.Table, moment: datetime) -> None:
    if current.num_rows == 0:
        return
    last = pc.max(current.column(RECORD_EFFECTIVE_DATE)).as_py()
    if last is not None and last >= moment:
        raise DataQualityError(
            "out_of_order",
            f"run time {moment.isoformat()} is not later than the last applied run "
            f"({last.isoformat()})",
            hint="runs apply in time order; use a later --as-of",
        )


def _guard_deletes(deletes: int, current_rows: int, dataset: Dataset, force: bool) -> None:
    if force or current_rows == 0:
        return
    ratio = deletes / current_rows
    limit = dataset.quality.max_delete_ratio
    if ratio > limit:
        raise DataQualityError(
            "max_delete_ratio",
            f"this run would delete {deletes} of {current_rows} current keys "
            f"({ratio:.1%} > {limit:.1%}); nothing was written",
            hint="check the source file (truncated download?); --force overrides",
        )


#: (new snapshot rows, gone current rows, matched snapshot rows, their current rows), as
#: uint64 row numbers; matched pairs in snapshot order.
_Pairs = tuple[pa.Array, pa.Array, pa.Array, pa.Array]


def _live_rows(current: pa.Table) -> pa.Array | None:
    """Positions of the rows with `is_current` true, or None when every row is current.

    The merge reads the other rows through these positions instead of copying the table
    without them (a copy of every column of the current silver)."""
    flags = current.column(IS_CURRENT)
    if flags.null_count == 0 and (current.num_rows == 0 or pc.all(flags).as_py()):
        return None
    return pc.indices_nonzero(pc.fill_null(flags, False))


def _pair_by_lookup(
    snapshot: pa.Table, current: pa.Table, keys: list[str], live: pa.Array | None
) -> _Pairs | None:
    """Pairs for a single key by hash lookup (`index_in`), cheaper than a full outer join;
    None when it does not apply (composite key, or a key live twice in `current`).
    Only the rows at `live` (all rows when None) are current versions."""
    if len(keys) != 1:
        return None
    wanted = snapshot.column(keys[0]).combine_chunks()
    column = current.column(keys[0])
    present = (column if live is None else column.take(live)).combine_chunks()
    where = pc.index_in(wanted, value_set=present)  # int32, null when the key is new
    matched = pc.is_valid(where)
    rows = row_numbers(snapshot.num_rows)
    both_s = rows.filter(matched)
    both_c = where.filter(matched).cast(pa.uint64())
    hit = np.zeros(len(present), dtype=bool)
    hit[both_c.to_numpy()] = True
    gone_c = pc.indices_nonzero(pa.array(~hit))
    # index_in finds a key's first row only: a key live twice would look "gone" here.
    if len(gone_c) and pc.any(pc.is_in(present.take(gone_c), value_set=wanted)).as_py():
        return None
    if live is not None:  # positions among the live rows -> positions in `current`
        both_c, gone_c = live.take(both_c), live.take(gone_c)
    return rows.filter(pc.invert(matched)), gone_c, both_s, both_c


def _pair_by_join(snapshot: pa.Table, current: pa.Table, keys: list[str]) -> _Pairs:
    """Pairs by a full outer join on the keys (any key shape)."""
    pairs = _pair_rows(snapshot, current, keys)
    new_s = _indices(pairs, pc.is_null(pairs.column(_C)), _S)
    gone_c = _indices(pairs, pc.is_null(pairs.column(_S)), _C)
    both = pairs.filter(pc.and_(pc.is_valid(pairs.column(_S)), pc.is_valid(pairs.column(_C))))
    # The join returns pairs in hash order; taking rows in that order is a random walk over
    # the string data (several times slower than an ordered take on 1M rows).
    both = both.sort_by(_S)
    return new_s, gone_c, _arr(both, _S), _arr(both, _C)


def _pair_rows(snapshot: pa.Table, current: pa.Table, keys: list[str]) -> pa.Table:
    """Full outer join on the keys: (snapshot row, current row) index pairs, null if absent."""
    left = snapshot.select(keys).append_column(_S, row_numbers(snapshot.num_rows))
    right = current.select(keys).append_column(_C, row_numbers(current.num_rows))
    if current.num_rows == 0:
        return left.append_column(_C, pa.nulls(left.num_rows, pa.uint64())).select([_S, _C])
    return left.join(right, keys, join_type="full outer").select([_S, _C])


def _indices(pairs: pa.Table, mask: pa.ChunkedArray, column: str) -> pa.Array:
    return _arr(pairs.filter(mask), column)


def _arr(table: pa.Table, column: str) -> pa.Array:
    return table.column(column).combine_chunks()


def _changed_mask(
    snapshot: pa.Table,
    current: pa.Table,
    rows_s: pa.Array,
    rows_c: pa.Array,
    tracked: Sequence[str],
) -> pa.Array:
    """Null-aware "differs" per pair over the tracked columns (the hash's notion of equal).

    Column by column on a thread pool (pyarrow compute releases the GIL): only a few
    columns of the pairs are materialized at a time.
    """
    everything = len(rows_s) == snapshot.num_rows  # pairs in snapshot order: no take needed

    def differs(name: str) -> pa.ChunkedArray:
        a = snapshot.column(name) if everything else snapshot.column(name).take(rows_s)
        b = current.column(name).take(rows_c)
        return pc.fill_null(pc.not_equal(a, b), pc.xor(pc.is_null(a), pc.is_null(b)))

    changed = pa.repeat(pa.scalar(False), len(rows_s))
    with ThreadPoolExecutor(max_workers=os.cpu_count() or 1) as pool:
        for column in pool.map(differs, tracked):
            changed = pc.or_(changed, column)
    return changed.combine_chunks() if isinstance(changed, pa.ChunkedArray) else changed


def _sort(table: pa.Table, keys: Sequence[str], *, by_date: bool = True) -> pa.Table:
    order = [(key, "ascending") for key in keys]
    if by_date:
        order.append((RECORD_EFFECTIVE_DATE, "ascending"))
    return table.sort_by(order)


@dataclass(frozen=True)
class _Stamp:
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
    return _sort(pa.concat_tables(parts), keys)


def rehashed_versions(result: MergeResult) -> pa.Table:
    return result.rehashed if result.rehashed is not None else result.closed.slice(0, 0)


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
