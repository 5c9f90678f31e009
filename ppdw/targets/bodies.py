"""S3 object bodies of the `local` target as plain files: `{state_dir}/objects/ab/<name>`.

Rule: moto keeps an object's metadata; its body is one or more immutable files named
once (a random name) and never changed. moto writes a body through the `FileBody` that
stands in for its in-memory buffer, so an upload is one file write, a read is a file read,
a ranged read touches only the bytes asked for, and saving the state never copies a body.

Why immutable files: a command that is interrupted is not saved (docs/local-target.md),
so the saved state must keep naming the bodies it had. A new body never overwrites an
old one; files no saved state names are removed after the next save (`prune`).

Durability: each new file is fsynced on a background thread as soon as it is written
(overlapping the command's work); `sync()` waits for those before the state file that
names them is renamed into place. A multipart object is its part files, in order: it is
written once, not once per part and again whole.

The hook into moto (`install`) replaces the buffer factory of moto's S3 models and the
completion of multipart uploads; both fall back to moto's own behaviour while no store is
active, so plain `mock_aws` users in the same process see moto unchanged.
"""

from __future__ import annotations

import base64
import binascii
import hashlib
import os
import secrets
import tempfile
import threading
import types
from collections.abc import Callable, Iterable, Iterator
from concurrent.futures import Future, ThreadPoolExecutor
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from ppdw.errors import TargetError

OBJECTS_DIR = "objects"
_READ_CHUNK = 8 * 1024 * 1024


@dataclass(frozen=True)
class Segment:
    """One body file: its name under `objects/` and its size."""

    name: str
    size: int


class Segments:
    """A body made of existing files (a completed multipart upload), adopted by a
    `FileBody` without copying. `len()` is the body's size, as for bytes."""

    def __init__(self, segments: Iterable[Segment]) -> None:
        self.segments = tuple(segments)

    def __len__(self) -> int:
        return sum(segment.size for segment in self.segments)


def _fsync(path: Path) -> None:
    fd = os.open(path, os.O_RDONLY)
    try:
        os.fsync(fd)
    finally:
        os.close(fd)


class BodyStore:
    """The folder of body files of one local state."""

    def __init__(self, root: Path) -> None:
        self.root = root
        self.written = 0
        self.bytes_written = 0
        self._lock = threading.Lock()
        self._pending: list[Future[None]] = []
        self._dirs: set[Path] = set()
        self._syncer: ThreadPoolExecutor | None = None

    def path(self, name: str) -> Path:
        return self.root / name[:2] / name

    def write(self, data: bytes | bytearray | memoryview) -> Segment:
        """A new file holding `data`; its fsync starts in the background."""
        name = secrets.token_hex(16)
        path = self.path(name)
        path.parent.mkdir(parents=True, exist_ok=True)
        with open(path, "xb") as handle:
            handle.write(data)
        size = len(memoryview(data).cast("B"))
        with self._lock:
            self.written += 1
            self.bytes_written += size
            self._dirs.add(path.parent)
            if self._syncer is None:
                self._syncer = ThreadPoolExecutor(1, thread_name_prefix="ppdw-body-sync")
            self._pending.append(self._syncer.submit(_fsync, path))
        return Segment(name, size)

    def read(self, segment: Segment, offset: int = 0, length: int | None = None) -> bytes:
        want = segment.size - offset if length is None else length
        try:
            with open(self.path(segment.name), "rb") as handle:
                if offset:
                    handle.seek(offset)
                return handle.read(want)
        except FileNotFoundError:
            raise TargetError(
                f"the local state is incomplete: object body {segment.name[:12]} is missing",
                "run `ppdw local reset` to start from an empty local warehouse",
            ) from None

    def sync(self) -> None:
        """Make every file written so far durable (before a state naming them is saved)."""
        with self._lock:
            pending, self._pending = self._pending, []
            dirs, self._dirs = self._dirs, set()
        for future in pending:
            future.result()
        for directory in sorted(dirs):
            _fsync(directory)
        if dirs:
            _fsync(self.root)

    def close(self) -> None:
        self.sync()
        if self._syncer is not None:
            self._syncer.shutdown()
            self._syncer = None

    def names(self) -> Iterator[str]:
        if self.root.is_dir():
            for sub in self.root.iterdir():
                if sub.is_dir():
                    yield from (p.name for p in sub.iterdir())

    def prune(self, keep: set[str]) -> int:
        """Delete the files not in `keep` (the caller holds the state lock)."""
        removed = 0
        for name in list(self.names()):
            if name not in keep:
                self.path(name).unlink(missing_ok=True)
                removed += 1
        return removed


class FileBody:
    """moto's per-object buffer, backed by body files (see the module docstring).

    moto calls `seek(0)`, `truncate()` and `write(value)` to set a body, and `seek`/`read`
    to read it; nothing else. A write after `truncate()` names new files, it never
    changes one.
    """

    def __init__(self, store: BodyStore, segments: Iterable[Segment] = ()) -> None:
        self.store = store
        self.segments: tuple[Segment, ...] = tuple(segments)
        self._pos = 0
        self._lock = threading.Lock()

    @property
    def size(self) -> int:
        return sum(segment.size for segment in self.segments)

    @property
    def path(self) -> Path | None:
        """The one file holding the whole body (None when empty or in several parts)."""
        if len(self.segments) != 1:
            return None
        return self.store.path(self.segments[0].name)

    def seek(self, pos: int, whence: int = os.SEEK_SET) -> int:
        base = {os.SEEK_SET: 0, os.SEEK_CUR: self._pos, os.SEEK_END: self.size}[whence]
        self._pos = base + pos
        return self._pos

    def tell(self) -> int:
        return self._pos

    def truncate(self, size: int | None = None) -> int:
        if (self._pos if size is None else size) != 0:
            raise ValueError("a local object body is only ever emptied, then rewritten")
        self.segments = ()
        return 0

    def write(self, data: Any) -> int:
        if self._pos != self.size:
            raise ValueError("a local object body is only ever appended to")
        if isinstance(data, Segments):
            added: tuple[Segment, ...] = data.segments
        elif len(data):
            added = (self.store.write(data),)
        else:
            added = ()
        self.segments += added
        written = sum(segment.size for segment in added)
        self._pos += written
        return written

    def read(self, size: int | None = -1) -> bytes:
        with self._lock:
            total = self.size
            want = total - self._pos if size is None or size < 0 else min(size, total - self._pos)
            data = self.read_range(self._pos, max(want, 0))
            self._pos += len(data)
            return data

    def read_range(self, offset: int, length: int) -> bytes:
        """`length` bytes from `offset`, reading only the files that hold them."""
        if length <= 0:
            return b""
        pieces: list[bytes] = []
        start = 0
        for segment in self.segments:
            end = start + segment.size
            if end > offset and start < offset + length:
                first = max(offset - start, 0)
                last = min(offset + length - start, segment.size)
                pieces.append(self.store.read(segment, first, last - first))
            start = end
        return pieces[0] if len(pieces) == 1 else b"".join(pieces)

    def chunks(self, offset: int = 0, length: int | None = None) -> Iterator[bytes]:
        """The body (or a range of it) in chunks of at most 8 MiB."""
        end = self.size if length is None else min(self.size, offset + length)
        while offset < end:
            piece = self.read_range(offset, min(_READ_CHUNK, end - offset))
            offset += len(piece)
            yield piece

    def close(self) -> None:
        """moto disposes of a replaced or deleted object: its files stay until a saved
        state no longer names them (they may still back the last saved state)."""


# -- the hook into moto --------------------------------------------------------------------

_active: BodyStore | None = None
_installed = False
_install_lock = threading.Lock()


def activate(store: BodyStore | None) -> None:
    """New S3 object bodies go to `store` (None: back to moto's in-memory buffers)."""
    global _active
    install()
    _active = store


def active() -> BodyStore | None:
    return _active


def _buffer_factory(max_size: int = 0, *args: Any, **kwargs: Any) -> Any:
    store = _active
    if store is None:
        return tempfile.SpooledTemporaryFile(max_size, *args, **kwargs)
    return FileBody(store)


def install() -> None:
    """Route moto's S3 object buffers and multipart completion through this module."""
    global _installed
    with _install_lock:
        if _installed:
            return
        from moto.s3 import models

        models.tempfile = types.SimpleNamespace(  # type: ignore[assignment,attr-defined]
            SpooledTemporaryFile=_buffer_factory
        )
        original = models.FakeMultipart.complete
        models.FakeMultipart.complete = _complete_by_segments(original)  # type: ignore[method-assign]
        _installed = True


def _complete_by_segments(original: Callable[..., Any]) -> Callable[..., Any]:
    """moto's `FakeMultipart.complete` (same checks, etag and checksum), except that the
    object's value is its parts' files in order instead of a copy of their bytes."""

    def complete(self: Any, body: Iterator[tuple[int, str]]) -> Any:
        from moto.s3 import models
        from moto.s3.exceptions import EntityTooSmall, InvalidPart, MalformedXML

        if _active is None:
            return original(self, body)
        chosen: list[Any] = []
        md5s = bytearray()
        last = None
        for number, etag in body:
            part = self.parts.get(number)
            if part is None or part.etag.replace('"', "") != etag.replace('"', ""):
                raise InvalidPart()
            if last is not None and last.contentsize < models.S3_UPLOAD_PART_MIN_SIZE:  # type: ignore[attr-defined]
                raise EntityTooSmall()
            md5s.extend(binascii.unhexlify(part.etag.replace('"', "")))
            chosen.append(part)
            last = part
        if not chosen:
            raise MalformedXML
        if not all(isinstance(part._value_buffer, FileBody) for part in chosen):
            return original(self, ((p.name, p.etag) for p in chosen))
        value = Segments(s for part in chosen for s in part._value_buffer.segments)
        etag = f"{hashlib.md5(bytes(md5s)).hexdigest()}-{len(chosen)}"
        return value, etag, _checksum(self.metadata, [p._value_buffer for p in chosen])

    return complete


def _checksum(metadata: Any, parts: list[FileBody]) -> tuple[str, str, int]:
    """What moto's `MultipartChecksumBuilder` gives, reading one part at a time."""
    from moto.s3.models import MultipartChecksumBuilder

    builder = MultipartChecksumBuilder(
        metadata.get("x-amz-checksum-algorithm"), metadata.get("x-amz-checksum-type")
    )
    if builder.checksum_type == "COMPOSITE":
        for part in parts:
            builder.addPart(part.read_range(0, part.size))
        result: tuple[str, str, int] = builder.build()  # type: ignore[assignment]
        return result
    digest = _FullObjectChecksum(builder.checksum_algorithm)
    for part in parts:
        for chunk in part.chunks():
            digest.update(chunk)
    return builder.checksum_type, digest.value(), 1


class _FullObjectChecksum:
    """moto's `compute_checksum` of the whole object, computed incrementally (the same
    algorithm choices and fallbacks, so the same value)."""

    def __init__(self, algorithm: str) -> None:
        from moto.core.compat import HAS_CRT

        self._crc = 0
        self._hash: Any = None
        self._crc64 = algorithm == "CRC64NVME" and HAS_CRT
        self._crc32c: Callable[[bytes, int], int] | None = None
        if algorithm == "SHA1":
            self._hash = hashlib.sha1(usedforsecurity=False)
        elif algorithm == "CRC32C":
            try:
                import crc32c  # type: ignore[import-not-found]

                self._crc32c = crc32c.crc32c
            except ImportError:
                self._crc32c = None
        elif algorithm not in ("CRC32", "CRC64NVME"):
            self._hash = hashlib.sha256(usedforsecurity=False)

    def update(self, chunk: bytes) -> None:
        if self._hash is not None:
            self._hash.update(chunk)
        elif self._crc64:
            from awscrt import checksums  # type: ignore[import-not-found]

            self._crc = checksums.crc64nvme(chunk, self._crc)
        elif self._crc32c is not None:
            self._crc = self._crc32c(chunk, self._crc)
        else:
            self._crc = binascii.crc32(chunk, self._crc)

    def value(self) -> str:
        if self._hash is not None:
            raw = self._hash.digest()
        else:
            raw = self._crc.to_bytes(8 if self._crc64 else 4, "big")
        return base64.b64encode(raw).decode()
