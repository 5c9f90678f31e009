"""Silver rules 1-2 (data.md): a bronze snapshot -> one clean row per business key.

Rule: pure functions of Arrow tables. Rows with a null or blank key are rejected (rule 1,
with the reject threshold over the whole snapshot); duplicate keys are settled by the
dataset's `on_duplicate_key` (rule 2). Both engines call these functions; the Spark
engine judges the whole-snapshot thresholds on its driver with `check_reject_ratio` and
`duplicate_key_error`.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import TYPE_CHECKING

import numpy as np
import pyarrow as pa
import pyarrow.compute as pc

from ppdw.errors import DataQualityError
from ppdw.runtime import duck
from ppdw.runtime.schema import BRONZE_META, silver_schema
from ppdw.runtime.silver.result import MergeStats, row_numbers, sort_by_key

if TYPE_CHECKING:
    from ppdw.config.models import Dataset

_ROW = "__row"


def prepare_snapshot(bronze: pa.Table, dataset: Dataset) -> tuple[pa.Table, pa.Table, MergeStats]:
    """Rules 1-2: (one row per key in source order, rejected rows, statistics)."""
    table, rows, rejected, stats = select_snapshot(bronze, dataset)
    return (table if rows is None else table.take(rows)), rejected, stats


def select_snapshot(
    bronze: pa.Table, dataset: Dataset
) -> tuple[pa.Table, pa.Array | None, pa.Table, MergeStats]:
    """Rules 1-2 without copying the kept rows: (a table, the ascending positions of the
    snapshot's rows in it or None for every row, rejected rows, statistics).

    `merge` reads the snapshot through the positions (`snapshot_rows`), so a single key's
    rejects and losers cost no copy of the table."""
    keys = list(dataset.business_key)
    silver_schema(bronze.schema, keys)  # fails with missing_column when a key is absent
    rows = bronze.num_rows
    bad = bad_key_mask(bronze, keys)
    rejected = bronze.filter(bad)
    check_reject_ratio(rejected.num_rows, rows, dataset)
    policy = dataset.silver.on_duplicate_key
    keep = _last_of_each_key(bronze, keys, bad) if policy != "fail" else None
    if keep is not None:
        kept = pc.indices_nonzero(keep)
        positions = None if len(kept) == rows else kept
        clean_rows, unique_rows = rows - rejected.num_rows, len(kept)
        table = bronze
    else:
        clean = bronze.filter(pc.invert(bad)) if rejected.num_rows else bronze
        table, positions = _dedupe(clean, keys, policy), None
        clean_rows, unique_rows = clean.num_rows, table.num_rows
    stats = MergeStats(
        rows_read=rows, rejected=rejected.num_rows, duplicates=clean_rows - unique_rows
    )
    return table, positions, rejected, stats


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

    The key column alone is grouped (`_last_rows`), not the whole table; when every clean
    key is distinct, the mask is just "not rejected".
    """
    if len(keys) != 1:
        return None
    good = pc.invert(bad).combine_chunks()
    clean_rows = table.num_rows - pc.sum(bad.cast(pa.int64())).as_py() if table.num_rows else 0
    column = table.column(keys[0])
    if clean_rows < table.num_rows:
        column = column.filter(good)
    kept_clean = _last_rows(column.combine_chunks())  # positions among the clean rows
    if len(kept_clean) == clean_rows:
        return good
    clean_positions = pc.indices_nonzero(good).to_numpy()
    mask = np.zeros(table.num_rows, dtype=bool)
    mask[clean_positions[kept_clean]] = True
    return pa.array(mask)


def _last_rows(column: pa.Array) -> np.ndarray:
    """Positions of the last row of each distinct value of `column` (no nulls), in any
    order: by a DuckDB group-by on large columns where DuckDB is importable, else from a
    hash dictionary of the column."""
    duckdb = duck.worth(len(column))
    if duckdb is not None:
        rows = pa.table({"k": column, _ROW: row_numbers(len(column))})
        last = duck.query(duckdb, f"SELECT max({_ROW}) AS r FROM t GROUP BY k", {"t": rows})
        return np.asarray(last.column("r").to_numpy(), dtype=np.int64)
    codes = pc.dictionary_encode(column)
    # Last occurrence of each code: the first one in reversed order.
    reversed_codes = codes.indices.to_numpy(zero_copy_only=False)[::-1]
    _, first_reversed = np.unique(reversed_codes, return_index=True)
    return np.asarray(len(column) - 1 - first_reversed, dtype=np.int64)


def bad_key_mask(table: pa.Table, keys: Sequence[str]) -> pa.ChunkedArray:
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
    return sort_by_key(conflicts.select(list(keys)), keys, by_date=False)


def duplicate_key_error(conflicts: pa.Table) -> DataQualityError:
    """`on_duplicate_key: fail` for these conflicting keys (sorted, at least one)."""
    first = conflicts.slice(0, 1).to_pylist()[0]
    shown = ", ".join(f"{k}={v!r}" for k, v in first.items())
    return DataQualityError(
        "duplicate_key",
        f"{conflicts.num_rows} key(s) have rows with different values, e.g. {shown}",
        hint="fix the source, or set silver.on_duplicate_key to keep_last",
    )
