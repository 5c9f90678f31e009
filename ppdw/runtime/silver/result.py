"""Silver's results: the statistics and the versions one run adds and closes.

Rule: plain data shared by the rule groups (`snapshot`, `changes`, `versions`) and the
engines; no rule is applied here.
"""

from __future__ import annotations

import itertools
import os
from collections.abc import Sequence
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass

import numpy as np
import pyarrow as pa
import pyarrow.compute as pc

from ppdw.runtime.hashing import RECORD_HASH_FORM
from ppdw.runtime.schema import RECORD_EFFECTIVE_DATE


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


#: Below this many rows a take is cheaper than handing columns to threads.
_PARALLEL_TAKE_ROWS = 65_536


def take_rows(table: pa.Table, rows: pa.Array) -> pa.Table:
    """`table.take(rows)` with the columns taken in parallel (Arrow takes a table's columns
    one after another; a take releases the GIL), `table` itself when `rows` is every row
    in order (ascending distinct positions, as the merge's lists are)."""
    if len(rows) == table.num_rows:
        return table
    if table.num_columns < 2 or len(rows) < _PARALLEL_TAKE_ROWS:
        return table.take(rows)
    with ThreadPoolExecutor(max_workers=os.cpu_count() or 1) as pool:
        columns = list(pool.map(lambda column: column.take(rows), table.columns))
    return pa.Table.from_arrays(columns, schema=table.schema)


@dataclass(frozen=True)
class Gather:
    """Where some rows of a table are among its columns' chunks: a take planned once and
    applied to every column laid out in the same chunks (`take`).

    Arrow concatenates a column's chunks before a take of strings, on every call: a column
    taken block by block would be copied whole once per block. A plan takes each chunk's
    rows from that chunk and, when the rows go back and forth between chunks, puts them
    back in their order."""

    rows: pa.Array
    lengths: tuple[int, ...]
    parts: tuple[tuple[int, pa.Array], ...]  # (chunk, positions in it), in chunk order
    back: pa.Array | None  # the rows' order among the parts' rows; None: the same order

    @classmethod
    def plan(cls, lengths: Sequence[int], rows: pa.Array) -> Gather:
        positions = np.asarray(rows.to_numpy(zero_copy_only=False), dtype=np.int64)
        starts = np.concatenate(([0], np.cumsum(lengths, dtype=np.int64)[:-1]))
        which = np.searchsorted(starts, positions, side="right") - 1  # skips empty chunks
        if len(which) and (np.diff(which) >= 0).all():
            order, back = None, None
        else:
            order = np.argsort(which, kind="stable")
            inverse = np.empty_like(order)
            inverse[order] = np.arange(len(order))
            which, positions, back = which[order], positions[order], pa.array(inverse)
        bounds = np.searchsorted(which, np.arange(len(lengths) + 1))
        parts = tuple(
            (chunk, pa.array(positions[begin:end] - starts[chunk]))
            for chunk, (begin, end) in enumerate(itertools.pairwise(bounds))
            if end > begin
        )
        return cls(rows, tuple(lengths), parts, back)

    def take(self, column: pa.ChunkedArray) -> pa.Array:
        """`column.take(self.rows)` as one array."""
        if chunk_lengths(column) != self.lengths:
            return Gather.plan(chunk_lengths(column), self.rows).take(column)
        if not self.parts:
            return pa.array([], column.type)
        taken = [column.chunk(chunk).take(positions) for chunk, positions in self.parts]
        joined = taken[0] if len(taken) == 1 else pa.concat_arrays(taken)
        return joined if self.back is None else joined.take(self.back)


def chunk_lengths(column: pa.ChunkedArray) -> tuple[int, ...]:
    return tuple(len(chunk) for chunk in column.chunks)


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


def rehashed_versions(result: MergeResult) -> pa.Table:
    return result.rehashed if result.rehashed is not None else result.closed.slice(0, 0)


def sort_by_key(table: pa.Table, keys: Sequence[str], *, by_date: bool = True) -> pa.Table:
    """Rows in key order (and, for versions, effective-date order)."""
    order = [(key, "ascending") for key in keys]
    if by_date:
        order.append((RECORD_EFFECTIVE_DATE, "ascending"))
    return table.sort_by(order)
