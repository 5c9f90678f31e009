"""Zip archives the tests build from the shipped samples."""

from __future__ import annotations

import zipfile
from pathlib import Path


def repack(
    source: Path,
    out: Path,
    date_time: tuple[int, int, int, int, int, int],
    compression: int = zipfile.ZIP_DEFLATED,
) -> Path:
    """`source`'s files in a new archive at `out`: other dates (so other bytes), the same
    data. With the source's own compression the files' compressed bytes stay the same."""
    out.parent.mkdir(parents=True, exist_ok=True)
    with zipfile.ZipFile(source) as old, zipfile.ZipFile(out, "w", compression) as new:
        for info in old.infolist():
            new.writestr(zipfile.ZipInfo(info.filename, date_time), old.read(info))
    assert out.read_bytes() != source.read_bytes()
    return out
