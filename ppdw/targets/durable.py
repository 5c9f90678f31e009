"""Durable files of the local state: atomic writes and content-addressed blobs.

Rule: a file is written to a temp file beside it, fsynced and renamed into place, so a
reader sees the old bytes or the new ones, never a part. Used by `ppdw.targets.state`.
"""

from __future__ import annotations

import hashlib
import os
from collections.abc import Iterator
from pathlib import Path

from ppdw.errors import TargetError

#: What to do when the local state cannot be read.
RESET_HINT = "run `ppdw local reset` to start from an empty local warehouse"


def fsync_write(path: Path, data: bytes, *, sync: bool = True) -> None:
    """Write `data` to `path` atomically: temp file beside it, fsync, rename.

    `sync=False` skips the fsyncs (the caller syncs a whole batch at once, see `save_state`).
    """
    tmp = path.with_name(f".{path.name}.tmp-{os.getpid()}")
    try:
        with open(tmp, "wb") as handle:
            handle.write(data)
            handle.flush()
            if sync:
                os.fsync(handle.fileno())
        os.replace(tmp, path)
    finally:
        tmp.unlink(missing_ok=True)
    if sync:
        _fsync_dir(path.parent)


def _fsync_dir(directory: Path) -> None:
    fd = os.open(directory, os.O_RDONLY)
    try:
        os.fsync(fd)
    finally:
        os.close(fd)


class BlobStore:
    """Content-addressed files `blobs/ab/abcdef...` (sha256 of the bytes)."""

    def __init__(self, root: Path) -> None:
        self.root = root
        self.written = 0

    def path(self, digest: str) -> Path:
        return self.root / digest[:2] / digest

    def put(self, data: bytes) -> str:
        digest = hashlib.sha256(data).hexdigest()
        path = self.path(digest)
        if not path.exists():
            path.parent.mkdir(parents=True, exist_ok=True)
            # Blobs are rare (Lambda zips, written by a deploy): each is made durable
            # here, before the state file that names it is renamed into place.
            fsync_write(path, data)
            self.written += 1
        return digest

    def get(self, digest: str) -> bytes:
        try:
            return self.path(digest).read_bytes()
        except FileNotFoundError:
            raise TargetError(
                f"the local state is incomplete: object body {digest[:12]} is missing",
                RESET_HINT,
            ) from None

    def digests(self) -> Iterator[str]:
        if self.root.is_dir():
            for sub in self.root.iterdir():
                if sub.is_dir():
                    yield from (p.name for p in sub.iterdir() if not p.name.startswith("."))

    def prune(self, keep: set[str]) -> int:
        """Delete blobs not in `keep`, and temp files a killed save left (we hold the lock)."""
        removed = 0
        for digest in list(self.digests()):
            if digest not in keep:
                self.path(digest).unlink(missing_ok=True)
                removed += 1
        for stale in self.root.glob("*/.*.tmp-*"):
            stale.unlink(missing_ok=True)
        return removed
