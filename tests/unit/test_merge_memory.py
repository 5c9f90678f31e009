"""The merge compares the pairs without copying whole columns (changes._changed_mask).

At 1M rows the current silver and the snapshot are most of a silver step's memory; the
comparison of their tracked columns used to take a full copy of a column's pairs from
each side on every worker (plus the concatenation of its chunks Arrow makes before a
take). It now takes them block by block from the chunks (`result.Gather`).
"""

from __future__ import annotations

import itertools
from collections.abc import Iterator
from contextlib import contextmanager

import numpy as np
import pyarrow as pa
import pyarrow.compute as pc
import pytest

from ppdw.runtime.silver import changes
from ppdw.runtime.silver.result import Gather, chunk_lengths

COLUMNS = ("a", "b", "c", "d", "e", "f")


def _chunked(values: list[str | None], cuts: list[int]) -> pa.ChunkedArray:
    bounds = [0, *cuts, len(values)]
    return pa.chunked_array(
        [pa.array(values[lo:hi], pa.string()) for lo, hi in itertools.pairwise(bounds)],
        pa.string(),
    )


@pytest.mark.parametrize(
    "rows",
    [
        [0, 1, 2],  # in the first chunk
        [5, 6, 9],  # after an empty chunk
        [1, 4, 5, 11],  # ascending across chunks
        [11, 0, 7, 3, 3, 10],  # back and forth, one row twice
        [],
    ],
)
def test_a_plan_takes_the_rows_a_take_would(rows: list[int]) -> None:
    values = [f"v{i}" if i % 5 else None for i in range(12)]
    column = _chunked(values, [4, 4, 8])  # chunks of 4, 0, 4 and 4 rows
    positions = pa.array(rows, pa.uint64())
    plan = Gather.plan(chunk_lengths(column), positions)
    expected = [values[i] for i in rows]
    assert plan.take(column).to_pylist() == expected
    # A column laid out in other chunks is taken right all the same.
    assert plan.take(_chunked(values, [6])).to_pylist() == expected


def _tables(rows: int, seed: int) -> tuple[pa.Table, pa.Table, pa.Array, pa.Array]:
    """A snapshot and a current silver in two chunks each, with the pairs of a merge:
    snapshot rows ascending (some left out), current rows shuffled."""
    rng = np.random.default_rng(seed)

    def column(salt: int) -> list[str | None]:
        codes = rng.integers(0, 50, rows)
        return [None if c == 0 else f"value-{salt}-{c:04d}-{'x' * (c % 20)}" for c in codes]

    cut = [rows // 3]
    snapshot = pa.table({name: _chunked(column(i), cut) for i, name in enumerate(COLUMNS)})
    current_columns = {}
    for name in COLUMNS:
        values = snapshot.column(name).to_pylist()
        changed = rng.random(rows) < 0.02
        pairs = zip(values, changed, strict=True)
        current_columns[name] = [f"old-{v}" if flip else v for v, flip in pairs]
    order = rng.permutation(rows)
    current = pa.table(
        {n: _chunked([v[i] for i in order], [rows // 2]) for n, v in current_columns.items()}
    )
    kept = np.sort(rng.choice(rows, rows - rows // 50, replace=False))
    where = np.empty(rows, dtype=np.int64)
    where[order] = np.arange(rows)  # snapshot row -> its row in current
    return snapshot, current, pa.array(kept, pa.uint64()), pa.array(where[kept], pa.uint64())


def _reference(
    snapshot: pa.Table, current: pa.Table, rows_s: pa.Array, rows_c: pa.Array
) -> list[bool]:
    left, right = snapshot.take(rows_s).to_pylist(), current.take(rows_c).to_pylist()
    return [any(a[n] != b[n] for n in COLUMNS) for a, b in zip(left, right, strict=True)]


def test_the_blocked_comparison_finds_what_a_row_by_row_one_finds(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    monkeypatch.setattr(changes, "_COMPARE_BLOCK", 1000)  # several blocks, some across chunks
    snapshot, current, rows_s, rows_c = _tables(7_000, seed=3)
    found = changes._changed_mask(snapshot, current, rows_s, rows_c, COLUMNS)
    assert found.to_pylist() == _reference(snapshot, current, rows_s, rows_c)
    assert 0 < pc.sum(found).as_py() < len(rows_s)


@contextmanager
def counted_pool() -> Iterator[pa.MemoryPool]:
    """Arrow's default pool, counting what is allocated from it from now on."""
    before = pa.default_memory_pool()
    pool = pa.proxy_memory_pool(before)
    pa.set_memory_pool(pool)
    try:
        yield pool
    finally:
        pa.set_memory_pool(before)


def test_the_comparison_holds_blocks_not_copies_of_columns(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    monkeypatch.setattr(changes, "_COMPARE_BLOCK", 4096)  # blocks at 1M rows' scale
    snapshot, current, rows_s, rows_c = _tables(200_000, seed=5)
    inputs = snapshot.nbytes + current.nbytes
    with counted_pool() as pool:
        changes._changed_mask(snapshot, current, rows_s, rows_c, COLUMNS)
    # Copies of a column's pairs from each side, on each worker, were over half of them;
    # what is left is the plan of the takes (positions: 8 bytes a pair and side).
    assert pool.max_memory() < 0.1 * inputs, (pool.max_memory(), inputs)
