"""Byte ranges of a raw member for the Spark engine end at record boundaries."""

from __future__ import annotations

import csv
import io
import itertools
from pathlib import Path

from ppdw.runtime.spark.split import record_ranges
from ppdw.runtime.spark.store import LocalStore


def _store(tmp_path: Path, data: bytes) -> LocalStore:
    (tmp_path / "raw").mkdir()
    (tmp_path / "raw" / "f.csv").write_bytes(data)
    return LocalStore(str(tmp_path))


def _records(text: str) -> list[list[str]]:
    return list(csv.reader(io.StringIO(text, newline="")))


def test_ranges_cover_the_file_and_cut_only_between_records(tmp_path: Path) -> None:
    rows = [["k", "v"]] + [[str(i), f'line {i}\nstill {i}, quoted ""x""'] for i in range(200)]
    buffer = io.StringIO()
    csv.writer(buffer, lineterminator="\n").writerows(rows)
    data = buffer.getvalue().encode()
    store = _store(tmp_path, data)
    ranges = record_ranges(store, "raw/f.csv", quoting=True, target=300)
    assert len(ranges) > 10
    assert ranges[0][0] == 0
    assert ranges[-1][1] == len(data)
    assert all(a[1] == b[0] for a, b in itertools.pairwise(ranges))
    pieces = [_records(data[a:b].decode()) for a, b in ranges]
    assert [row for piece in pieces for row in piece] == rows  # no record cut in two


def test_a_cut_never_falls_inside_a_quoted_line_end(tmp_path: Path) -> None:
    value = "x" * 50 + "\n" + "y" * 50  # the line end sits where a cut is wanted
    data = f'k,v\n1,"{value}"\n2,"{value}"\n'.encode()
    store = _store(tmp_path, data)
    for target in range(5, len(data)):
        for a, b in record_ranges(store, "raw/f.csv", quoting=True, target=target):
            assert data[a:b].count(b'"') % 2 == 0, (target, a, b)


def test_without_quoting_any_line_end_is_a_boundary(tmp_path: Path) -> None:
    data = "".join(f'{i}|a "quote|\n' for i in range(100)).encode()
    store = _store(tmp_path, data)
    ranges = record_ranges(store, "raw/f.csv", quoting=False, target=64)
    assert len(ranges) > 5
    assert all(data[b - 1 : b] == b"\n" for _, b in ranges)
    assert b"".join(data[a:b] for a, b in ranges) == data


def test_a_small_file_is_one_range(tmp_path: Path) -> None:
    store = _store(tmp_path, b"k,v\n1,2\n")
    assert record_ranges(store, "raw/f.csv", quoting=True, target=1 << 20) == [(0, 8)]
