"""Zip archives in raw: check every member first, then extract the wanted ones to S3.

Rule: standard library, `ppdw.aws.objects` and `ppdw.aws.streams` only (runs in the fetch
Lambda). Nothing is extracted before the whole archive passed the checks, and a failure
while extracting removes the members already written: a run writes all its members or
none.

Checks (data.md, Raw): no member path that leaves the run folder (`..`, absolute, drive
letter, backslash tricks), no duplicate or reserved names, the wanted members' total
uncompressed size and each one's compression ratio bounded, supported compression and no
encryption. `zipfile` never returns more than a member's declared size and checks its
CRC, so the declared sizes bound what extraction writes.

Each extracted member records, besides the sha256 of its content, its compression method
and the sha256 of its compressed bytes (`packed_sha256`): decompressing is deterministic,
so a member packed with the same method into the same bytes holds the same content, which
lets the fetch recognize an unchanged source in a new archive without extracting it.
"""

from __future__ import annotations

import dataclasses
import fnmatch
import hashlib
import lzma
import re
import struct
import zipfile
import zlib
from collections.abc import Callable
from dataclasses import dataclass
from typing import IO, Any

from ppdw.aws import objects, streams
from ppdw.errors import DataQualityError

#: Ratio is only meaningful for members big enough to hurt; tiny files of blanks compress
#: far beyond any sane limit.
RATIO_MIN_BYTES = 1024 * 1024
_SUPPORTED = {zipfile.ZIP_STORED, zipfile.ZIP_DEFLATED, zipfile.ZIP_BZIP2, zipfile.ZIP_LZMA}
_DRIVE = re.compile(r"^[A-Za-z]:")
READ_CHUNK = 1024 * 1024
#: What a damaged member raises while it is decompressed (bz2 raises OSError).
_DAMAGED = (zipfile.BadZipFile, EOFError, OSError, zlib.error, lzma.LZMAError)


@dataclass(frozen=True)
class Limits:
    max_uncompressed_bytes: int = 20 * 1024**3
    max_compression_ratio: int = 200


def unsafe_reason(name: str) -> str | None:
    """Why a member path could escape the run folder, or None when it is safe."""
    if not name or "\x00" in name:
        return "empty or NUL in name"
    if "\\" in name:
        return "backslash in path"
    if name.startswith("/"):
        return "absolute path"
    if _DRIVE.match(name):
        return "drive letter"
    if any(part == ".." for part in name.split("/")):
        return "'..' in path"
    return None


#: Every zip archive (and every part of a split one) starts with a local file header or,
#: when empty, the end-of-central-directory record.
ZIP_SIGNATURES = (b"PK\x03\x04", b"PK\x05\x06", b"PK\x07\x08")


def open_zip(file: IO[bytes], archive_name: str) -> zipfile.ZipFile:
    head = file.read(4)
    file.seek(0)
    if not head.startswith(ZIP_SIGNATURES):
        raise DataQualityError(
            "archive_corrupt",
            f"{archive_name} is not a zip archive (it starts with {head!r})",
            "the dataset's source.compression is zip: give the zip file itself, or check "
            "that the source URL answers with the archive and not a page",
        )
    try:
        return zipfile.ZipFile(file)
    except (zipfile.BadZipFile, zipfile.LargeZipFile, OSError, EOFError, ValueError) as error:
        raise DataQualityError(
            "archive_corrupt",
            f"{archive_name} is not a readable zip archive ({error})",
            "the download may be truncated; run again, or check the source",
        ) from error


def select_members(
    archive: zipfile.ZipFile,
    patterns: tuple[str, ...],
    *,
    archive_name: str,
    reserved: tuple[str, ...] = (),
    limits: Limits = Limits(),
) -> list[zipfile.ZipInfo]:
    """Check the whole archive and return the members matching `patterns`, in zip order."""
    infos = archive.infolist()
    seen: set[str] = set()
    for info in infos:
        reason = unsafe_reason(info.filename)
        if reason is None and info.filename in seen:
            reason = "duplicate member name"
        if reason is None and info.filename in reserved:
            reason = "name reserved in the run folder"
        if reason:
            raise _unsafe(archive_name, f"member {info.filename!r}: {reason}")
        seen.add(info.filename)
    wanted = [
        info
        for info in infos
        if not info.is_dir() and any(fnmatch.fnmatchcase(info.filename, p) for p in patterns)
    ]
    if not wanted:
        listed = ", ".join(i.filename for i in infos[:20]) or "nothing"
        raise DataQualityError(
            "no_member",
            f"{archive_name} holds no member matching {list(patterns)} (it holds: {listed})",
            "fix source.members in the dataset's config/dataset.json",
        )
    _check_members(wanted, archive_name, limits)
    return wanted


def _check_members(wanted: list[zipfile.ZipInfo], archive_name: str, limits: Limits) -> None:
    total = 0
    for info in wanted:
        if info.flag_bits & 0x1:
            raise _corrupt(archive_name, f"member {info.filename!r} is encrypted")
        if info.compress_type not in _SUPPORTED:
            raise _corrupt(
                archive_name,
                f"member {info.filename!r} uses unsupported compression {info.compress_type}",
            )
        total += info.file_size
        ratio = info.file_size / max(info.compress_size, 1)
        if info.file_size >= RATIO_MIN_BYTES and ratio > limits.max_compression_ratio:
            raise _unsafe(
                archive_name,
                f"member {info.filename!r} expands {ratio:.0f}x "
                f"(limit {limits.max_compression_ratio}x): possible zip bomb",
            )
    if total > limits.max_uncompressed_bytes:
        raise _unsafe(
            archive_name,
            f"members to extract hold {total} bytes uncompressed "
            f"(limit {limits.max_uncompressed_bytes})",
        )


def _unsafe(archive_name: str, detail: str) -> DataQualityError:
    return DataQualityError(
        "archive_unsafe",
        f"{archive_name}: {detail}; nothing was extracted",
        "check the source; raise max_uncompressed_bytes / max_compression_ratio in "
        "config/warehouse.json only if the archive is trusted",
    )


def _corrupt(archive_name: str, detail: str) -> DataQualityError:
    return DataQualityError(
        "archive_corrupt",
        f"{archive_name}: {detail}; nothing was extracted",
        "the download may be truncated or damaged; run again, or check the source",
    )


@dataclass(frozen=True)
class Packed:
    """How a member is stored in its archive: compression method and compressed bytes."""

    compression: int
    sha256: str

    def matches(self, recorded: dict[str, Any]) -> bool:
        """Whether a member `as_dict` recorded was stored exactly so."""
        return (
            recorded.get("compression") == self.compression
            and recorded.get("packed_sha256") == self.sha256
        )


@dataclass(frozen=True)
class ExtractedMember:
    name: str
    key: str
    bytes: int
    sha256: str
    packed: Packed | None = None  # None: not from an archive (the download itself)

    def as_dict(self) -> dict[str, Any]:
        out: dict[str, Any] = {
            "name": self.name,
            "key": self.key,
            "bytes": self.bytes,
            "sha256": self.sha256,
        }
        if self.packed is not None:
            out.update(compression=self.packed.compression, packed_sha256=self.packed.sha256)
        return out


#: A local file header: signature, versions, flags, method, time, date, CRC, sizes, then
#: the lengths of the name and of the extra field that precede the member's data.
_LOCAL_HEADER = struct.Struct("<4s5H3L2H")


def packed_members(
    file: IO[bytes], members: list[zipfile.ZipInfo], *, archive_name: str
) -> dict[str, Packed]:
    """Each member's `Packed`: its compressed bytes read from the archive's `file` and
    hashed, nothing decompressed."""
    try:
        return {info.filename: _packed(file, info) for info in members}
    except (*_DAMAGED, struct.error) as error:
        raise _corrupt(archive_name, f"reading failed ({error})") from error


def _packed(file: IO[bytes], info: zipfile.ZipInfo) -> Packed:
    file.seek(info.header_offset)
    fields = _LOCAL_HEADER.unpack(file.read(_LOCAL_HEADER.size))
    if fields[0] != b"PK\x03\x04":
        raise zipfile.BadZipFile(f"bad local header of member {info.filename!r}")
    file.seek(info.header_offset + _LOCAL_HEADER.size + fields[-2] + fields[-1])
    digest, left = hashlib.sha256(), info.compress_size
    while left:
        chunk = file.read(min(READ_CHUNK, left))
        if not chunk:
            raise zipfile.BadZipFile(f"member {info.filename!r} is truncated")
        digest.update(chunk)
        left -= len(chunk)
    return Packed(info.compress_type, digest.hexdigest())


def extract_members(
    archive: zipfile.ZipFile,
    members: list[zipfile.ZipInfo],
    s3: Any,
    bucket: str,
    prefix: str,
    *,
    archive_name: str,
    progress: Callable[[int, int | None], None] | None = None,
    packed: dict[str, Packed] | None = None,
) -> list[ExtractedMember]:
    """Stream each member to `prefix + member path`; all or nothing.

    `progress(bytes, total)` counts uncompressed bytes over all members together; `packed`
    (from `packed_members`) is recorded with each member."""
    done: list[ExtractedMember] = []
    total = sum(info.file_size for info in members)
    try:
        for info in members:
            before = sum(m.bytes for m in done)
            counted = None if progress is None else _offset(progress, before, total)
            member = _extract_one(archive, info, s3, bucket, prefix, counted)
            if packed is not None:
                member = dataclasses.replace(member, packed=packed[info.filename])
            done.append(member)
    except DataQualityError:
        objects.delete_keys(s3, bucket, [m.key for m in done])
        raise
    except (*_DAMAGED, zipfile.LargeZipFile, ValueError) as error:
        objects.delete_keys(s3, bucket, [m.key for m in done])
        raise _corrupt(archive_name, f"extracting failed ({error})") from error
    return done


def _offset(
    progress: Callable[[int, int | None], None], before: int, total: int
) -> Callable[[int, int | None], None]:
    def update(done: int, _member_total: int | None) -> None:
        progress(before + done, total)

    return update


def _extract_one(
    archive: zipfile.ZipFile,
    info: zipfile.ZipInfo,
    s3: Any,
    bucket: str,
    prefix: str,
    progress: Callable[[int, int | None], None] | None,
) -> ExtractedMember:
    key = prefix + info.filename
    with (
        archive.open(info) as source,
        streams.MultipartWriter(s3, bucket, key) as writer,
    ):
        for chunk in streams.iter_chunks(source, READ_CHUNK):
            writer.write(chunk)
            if progress is not None:
                progress(writer.bytes_written, info.file_size)
    return ExtractedMember(info.filename, key, writer.bytes_written, writer.sha256)
