"""Silver rule 3 (data.md): pair a clean snapshot with the current versions, find what
changed, and stamp this run's new and closed versions; rules 5-6 guard the run.

Rule: pure functions of Arrow tables. `merge` returns only what this run adds (new
versions) and closes, after the delete guard (rule 5) and the run-order check (rule 6).
Everything is vectorized: hash lookups or joins for the pairing, column-wise comparison,
and a record hash computed only for rows that are new or changed (and, in the first run
after the decimal rendering fix, for unchanged versions whose hash may be of the old
form: `hash_upgrade`). It works on any batch of rows that holds all rows of each key.
"""

from __future__ import annotations

import os
from collections.abc import Sequence
from concurrent.futures import ThreadPoolExecutor
from dataclasses import replace
from datetime import datetime
from types import ModuleType
from typing import TYPE_CHECKING

import numpy as np
import pyarrow as pa
import pyarrow.compute as pc

from ppdw.errors import DataQualityError
from ppdw.runtime import duck
from ppdw.runtime.hash_upgrade import affected_columns, stale_hashes
from ppdw.runtime.schema import (
    EFFECTIVE_YEAR_MONTH,
    IS_CURRENT,
    RECORD_EFFECTIVE_DATE,
    RECORD_HASH,
    align_schema,
    silver_schema,
    utc_ms,
)
from ppdw.runtime.silver.result import (
    Gather,
    MergeResult,
    MergeStats,
    chunk_lengths,
    row_numbers,
    take_rows,
)
from ppdw.runtime.silver.versions import Stamp

if TYPE_CHECKING:
    from ppdw.config.models import Dataset

_S, _C = "__snapshot_row", "__current_row"


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
    snapshot_rows: pa.Array | None = None,
) -> MergeResult:
    """Apply SCD2 rule 3 to one clean snapshot (see module docstring).

    `current`: the current versions (is_current true) in silver schema, possibly empty; a
    table without columns means "no silver yet". `base_stats` (from `prepare_snapshot`) is
    carried into the result's statistics. `upgrade_hashes`: look for old-form hashes among
    the unchanged current versions (`hash_upgrade`); False once a run has done it.
    `snapshot_rows`: the ascending positions of the clean snapshot's rows in `snapshot`
    (`select_snapshot`), None when every row is one.
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
    clean_keys = snapshot.select(keys)
    if snapshot_rows is not None:
        clean_keys = clean_keys.take(snapshot_rows)
    current, (new_s, gone_c, both_s, both_c) = _pairs(clean_keys, current, keys, live)
    if snapshot_rows is not None:  # positions among the clean rows -> rows of `snapshot`
        new_s, both_s = snapshot_rows.take(new_s), snapshot_rows.take(both_s)
    changed = _changed_mask(snapshot, current, both_s, both_c, tracked)
    changed_s, changed_c = both_s.filter(changed), both_c.filter(changed)
    rehashed = _rehashed(current, both_c, changed, tracked, look=upgrade_hashes)
    if dataset.silver.deletes != "tombstone":
        gone_c = gone_c.slice(0, 0)
    guard_deletes(len(gone_c), live_rows, dataset, force)

    stamp = Stamp(run_id=run_id, moment=moment)
    inserts = stamp.open(take_rows(snapshot, new_s), tracked, "INSERT")
    updates = stamp.open(take_rows(snapshot, changed_s), tracked, "UPDATE")
    closing = current.take(pa.concat_arrays([changed_c, gone_c]))
    deletes = stamp.tombstone(current.take(gone_c))
    schema = current.schema
    # In snapshot order, the order `apply_to_partition` appends them in.
    new_versions = pa.concat_tables([inserts, updates, deletes]).cast(schema)
    closed = stamp.close(closing)
    stats = replace(
        base_stats or MergeStats(rows_read=_count(snapshot, snapshot_rows)),
        inserts=inserts.num_rows,
        updates=updates.num_rows,
        deletes=deletes.num_rows,
        unchanged=len(both_s) - len(changed_s),
        rehashed=rehashed.num_rows,
    )
    return MergeResult(new_versions, closed, stats, tuple(keys), tuple(tracked), rehashed)


def _count(table: pa.Table, rows: pa.Array | None) -> int:
    return table.num_rows if rows is None else len(rows)


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


def guard_deletes(deletes: int, current_rows: int, dataset: Dataset, force: bool) -> None:
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


def _pairs(
    snapshot: pa.Table, current: pa.Table, keys: list[str], live: pa.Array | None
) -> tuple[pa.Table, _Pairs]:
    """The pairs: by one DuckDB join on large tables where DuckDB is importable, else by
    lookup where it applies, else by an Arrow join over the live rows only (then `current`
    is returned as those rows, the positions the pairs refer to). `snapshot` needs only the
    key columns."""
    live_rows = current.num_rows if live is None else len(live)
    duckdb = duck.worth(snapshot.num_rows + live_rows) if live_rows else None
    if duckdb is not None:
        return current, _pair_by_duckdb(duckdb, snapshot, current, keys, live)
    pairs = _pair_by_lookup(snapshot, current, keys, live)
    if pairs is not None:
        return current, pairs
    if live is not None:
        current = current.take(live)
    return current, _pair_by_join(snapshot, current, keys)


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


def _pair_by_duckdb(
    duckdb: ModuleType,
    snapshot: pa.Table,
    current: pa.Table,
    keys: list[str],
    live: pa.Array | None,
) -> _Pairs:
    """Pairs by a full outer join on the keys in DuckDB (any key shape, every core), the
    same pairs as `_pair_by_join`: each list in ascending row order."""
    left, right = _numbered(snapshot, keys, _S), _numbered(current, keys, _C, live)
    on = " AND ".join(f"s.{duck.identifier(k)} = c.{duck.identifier(k)}" for k in keys)
    sql = (
        f"SELECT s.{_S} AS {_S}, c.{_C} AS {_C} FROM s FULL OUTER JOIN c ON {on} "
        f"ORDER BY s.{_S} NULLS LAST, c.{_C}"
    )
    pairs = duck.query(duckdb, sql, {"s": left, "c": right})
    s_rows, c_rows = pairs.column(_S), pairs.column(_C)
    both = pc.and_(pc.is_valid(s_rows), pc.is_valid(c_rows))
    return (
        _uint64(s_rows.filter(pc.is_null(c_rows))),
        _uint64(c_rows.filter(pc.is_null(s_rows))),
        _uint64(s_rows.filter(both)),
        _uint64(c_rows.filter(both)),
    )


def _uint64(rows: pa.ChunkedArray) -> pa.Array:
    return rows.combine_chunks().cast(pa.uint64())


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
    left, right = _numbered(snapshot, keys, _S), _numbered(current, keys, _C)
    if current.num_rows == 0:
        return left.append_column(_C, pa.nulls(left.num_rows, pa.uint64())).select([_S, _C])
    return left.join(right, keys, join_type="full outer").select([_S, _C])


def _numbered(
    table: pa.Table, keys: list[str], name: str, rows: pa.Array | None = None
) -> pa.Table:
    """The key columns of `table` at `rows` (every row when None), with each row's position
    in `table` as column `name`."""
    if rows is None:
        return table.select(keys).append_column(name, row_numbers(table.num_rows))
    return table.select(keys).take(rows).append_column(name, rows)


def _indices(pairs: pa.Table, mask: pa.ChunkedArray, column: str) -> pa.Array:
    return _arr(pairs.filter(mask), column)


def _arr(table: pa.Table, column: str) -> pa.Array:
    return table.column(column).combine_chunks()


#: Pairs compared at a time: a column's pairs are taken block by block, so a comparison
#: holds a block of each side, not a copy of the whole column's pairs.
_COMPARE_BLOCK = 1 << 16


def _changed_mask(
    snapshot: pa.Table,
    current: pa.Table,
    rows_s: pa.Array,
    rows_c: pa.Array,
    tracked: Sequence[str],
) -> pa.Array:
    """Null-aware "differs" per pair over the tracked columns (the hash's notion of equal).

    Column by column on a thread pool (pyarrow compute releases the GIL), each column's
    pairs block by block (`_COMPARE_BLOCK`, taken from the chunks as planned once for all
    columns: `Gather`).
    """
    if not tracked or not len(rows_s):
        return pa.repeat(pa.scalar(False), len(rows_s))
    everything = len(rows_s) == snapshot.num_rows  # pairs in snapshot order: no take needed
    s_layout = chunk_lengths(snapshot.column(tracked[0]))
    c_layout = chunk_lengths(current.column(tracked[0]))

    def plan(start: int) -> tuple[int, int, Gather | None, Gather]:
        block_s, block_c = rows_s.slice(start, _COMPARE_BLOCK), rows_c.slice(start, _COMPARE_BLOCK)
        take_s = None if everything else Gather.plan(s_layout, block_s)
        return start, len(block_s), take_s, Gather.plan(c_layout, block_c)

    blocks = [plan(start) for start in range(0, len(rows_s), _COMPARE_BLOCK)]

    def differs(name: str) -> pa.Array:
        left, right = snapshot.column(name), current.column(name)
        out = []
        for start, size, take_s, take_c in blocks:
            a = left.slice(start, size).combine_chunks() if take_s is None else take_s.take(left)
            b = take_c.take(right)
            out.append(pc.fill_null(pc.not_equal(a, b), pc.xor(pc.is_null(a), pc.is_null(b))))
        return pa.concat_arrays(out)

    changed = pa.repeat(pa.scalar(False), len(rows_s))
    with ThreadPoolExecutor(max_workers=os.cpu_count() or 1) as pool:
        for column in pool.map(differs, tracked):
            changed = pc.or_(changed, column)
    return changed
