"""Cut a raw member into byte ranges that end at record boundaries, for parallel reading.

Rule: a range ends just after a line end that is not inside a quoted value. For a format
without quoting (RRF) that is any line end, and only the bytes around each cut are read.
With quoting (CSV, TSV) a line end is outside quotes when the number of `"` before it is
even (a quoted value holds its quotes doubled), which needs one streamed pass over the
file: numpy counts quotes a block at a time, memory stays flat.

The parity rule is exact for well-formed files. A stray `"` in the middle of an unquoted
value (which the reader tolerates) can mislead it; the engine then sees a range fail to
parse and reads the whole member in one task instead (`bronze.py`), which is exactly what
the Arrow engine does. The reader (`ppdw.runtime.readers`) stays the only definition of
how a range is parsed.
"""

from __future__ import annotations

import itertools
from collections.abc import Iterator

import numpy as np

from ppdw.runtime.spark.store import Store

_QUOTE = ord('"')
_NEWLINE = ord("\n")
_BLOCK = 1 << 22

Range = tuple[int, int]


def record_ranges(store: Store, key: str, *, quoting: bool, target: int) -> list[Range]:
    """[start, end) ranges covering the object, each about `target` bytes or more."""
    size = store.size(key)
    if size <= target:
        return [(0, size)]
    cuts = (
        _cuts_quoted(store, key, size, target) if quoting else _cuts_plain(store, key, size, target)
    )
    bounds = [0, *cuts, size]
    return [(a, b) for a, b in itertools.pairwise(bounds) if b > a]


def _cuts_plain(store: Store, key: str, size: int, target: int) -> list[int]:
    cuts: list[int] = []
    want = target
    while want < size:
        cut = _next_newline(store, key, want, size)
        if cut is None:
            break
        cuts.append(cut)
        want = cut + target
    return cuts


def _next_newline(store: Store, key: str, start: int, size: int) -> int | None:
    """Offset just after the first `\\n` at or after `start`, or None."""
    at = start
    while at < size:
        block = store.read_range(key, at, min(at + _BLOCK, size))
        found = block.find(b"\n")
        if found >= 0:
            end = at + found + 1
            return end if end < size else None
        at += len(block)
    return None


def _cuts_quoted(store: Store, key: str, size: int, target: int) -> list[int]:
    cuts: list[int] = []
    want = target
    parity = 0  # quotes seen before the current block, mod 2
    for at, block in _blocks(store, key, size):
        data = np.frombuffer(block, dtype=np.uint8)
        is_quote = data == _QUOTE
        end = at + len(block)
        if want < end:
            # Parity of the quotes before each line end of this block.
            newlines = np.flatnonzero(data == _NEWLINE)
            if len(newlines):
                before = np.cumsum(is_quote, dtype=np.int64)[newlines] + parity
                outside = newlines[(before % 2) == 0] + at + 1  # offsets after each "\n"
                for cut in outside[outside >= want].tolist():
                    if cut >= size:
                        break
                    if cut >= want:
                        cuts.append(cut)
                        want = cut + target
        parity = (parity + int(np.count_nonzero(is_quote))) % 2
    return cuts


def _blocks(store: Store, key: str, size: int) -> Iterator[tuple[int, bytes]]:
    at = 0
    while at < size:
        block = store.read_range(key, at, min(at + _BLOCK, size))
        if not block:
            return
        yield at, block
        at += len(block)
