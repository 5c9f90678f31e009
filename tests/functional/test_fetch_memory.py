"""Fetch memory stays flat whatever the file size (data.md: download and upload stream).

moto keeps every uploaded part in this process's memory (a 200 MB upload costs it ~800 MB),
which would hide ppdw's own footprint. So S3 here is a small disk-backed stand-in that
speaks the calls fetch makes; tracemalloc then measures ppdw alone, as in Lambda where S3
is remote.
"""

from __future__ import annotations

import hashlib
import tracemalloc
import zipfile
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

from botocore.exceptions import ClientError

from ppdw.runtime.fetch import FetchConfig, fetch

MIB = 1024 * 1024
SIZE = 200 * MIB
BLOCK = hashlib.sha256(b"ppdw").digest() * (MIB // 32)  # 1 MiB, not all one byte


class DiskS3:
    """The S3 calls fetch uses, with object bodies on disk (never in memory)."""

    def __init__(self, root: Path) -> None:
        self.root = root
        self.part_sizes: list[int] = []

    def _path(self, key: str) -> Path:
        return self.root / key.replace("/", "%2F")

    def _missing(self, operation: str) -> ClientError:
        return ClientError({"Error": {"Code": "NoSuchKey", "Message": "missing"}}, operation)

    def get_paginator(self, _name: str) -> Any:
        outer = self

        class Paginator:
            def paginate(self, Prefix: str, **_: Any) -> list[dict[str, Any]]:
                keys = sorted(p.name.replace("%2F", "/") for p in outer.root.iterdir())
                found = [k for k in keys if k.startswith(Prefix) and not k.endswith(".part")]
                sizes = [outer._path(k).stat().st_size for k in found]
                return [
                    {"Contents": [{"Key": k, "Size": s} for k, s in zip(found, sizes, strict=True)]}
                ]

        return Paginator()

    def delete_objects(self, Delete: dict[str, Any], **_: Any) -> dict[str, Any]:
        for item in Delete["Objects"]:
            self._path(item["Key"]).unlink(missing_ok=True)
        return {}

    def head_object(self, Key: str, **_: Any) -> dict[str, Any]:
        if not self._path(Key).exists():
            raise self._missing("HeadObject")
        return {"ContentLength": self._path(Key).stat().st_size}

    def get_object(self, Key: str, Range: str | None = None, **_: Any) -> dict[str, Any]:
        path = self._path(Key)
        if not path.exists():
            raise self._missing("GetObject")
        with path.open("rb") as file:
            if Range is None:
                data = file.read()
            else:
                start, end = (int(x) for x in Range.removeprefix("bytes=").split("-"))
                file.seek(start)
                data = file.read(end - start + 1)
        return {"Body": _Body(data)}

    def put_object(self, Key: str, Body: bytes, **_: Any) -> dict[str, Any]:
        self._path(Key).write_bytes(Body)
        return {}

    def create_multipart_upload(self, Key: str, **_: Any) -> dict[str, Any]:
        self._path(Key + ".part").write_bytes(b"")
        return {"UploadId": Key}

    def upload_part(self, Key: str, Body: bytes, **_: Any) -> dict[str, Any]:
        self.part_sizes.append(len(Body))
        with self._path(Key + ".part").open("ab") as file:
            file.write(Body)
        return {"ETag": str(len(self.part_sizes))}

    def complete_multipart_upload(self, Key: str, **_: Any) -> dict[str, Any]:
        self._path(Key + ".part").rename(self._path(Key))
        return {}

    def abort_multipart_upload(self, Key: str, **_: Any) -> dict[str, Any]:
        self._path(Key + ".part").unlink(missing_ok=True)
        return {}


class _Body:
    def __init__(self, data: bytes) -> None:
        self.data = data

    def read(self, *_: Any) -> bytes:
        data, self.data = self.data, b""
        return data


def _write_big(path: Path) -> str:
    digest = hashlib.sha256()
    with path.open("wb") as file:
        for _ in range(SIZE // MIB):
            file.write(BLOCK)
            digest.update(BLOCK)
    return digest.hexdigest()


def _measure(s3: DiskS3, config: FetchConfig, source: Path) -> tuple[int, Any]:
    tracemalloc.start()
    try:
        result = fetch(s3, config, run_id="r1", run_time=datetime(2026, 1, 1, tzinfo=UTC),
                       source=str(source))  # fmt: skip
        return tracemalloc.get_traced_memory()[1], result
    finally:
        tracemalloc.stop()


def test_200mb_download_streams_with_flat_memory(tmp_path: Path) -> None:
    source = tmp_path / "big.csv"
    sha = _write_big(source)
    (tmp_path / "s3").mkdir()
    s3 = DiskS3(tmp_path / "s3")
    config = FetchConfig("nsde", "bucket-1", "pp-dw", "https://x/big.csv", "none", ())
    peak, result = _measure(s3, config, source)
    assert result.manifest["sha256"] == sha
    assert result.manifest["bytes"] == SIZE
    assert s3.part_sizes[:-1] == [8 * MIB] * (len(s3.part_sizes) - 1)
    assert peak < 40 * MIB, f"peak {peak / MIB:.0f} MiB for a {SIZE // MIB} MiB file"


def test_200mb_zip_member_extracts_with_flat_memory(tmp_path: Path) -> None:
    source = tmp_path / "big.zip"
    digest = hashlib.sha256()
    with (
        zipfile.ZipFile(source, "w", zipfile.ZIP_STORED) as archive,
        archive.open("big.csv", "w", force_zip64=True) as member,
    ):
        for _ in range(SIZE // MIB):
            member.write(BLOCK)
            digest.update(BLOCK)
    (tmp_path / "s3").mkdir()
    s3 = DiskS3(tmp_path / "s3")
    config = FetchConfig("nsde", "bucket-1", "pp-dw", "https://x/big.zip", "zip", ("*.csv",))
    peak, result = _measure(s3, config, source)
    assert result.manifest["members"][0]["sha256"] == digest.hexdigest()
    assert (tmp_path / "s3" / "raw%2Fnsde%2Frun_id=r1%2Fbig.csv").stat().st_size == SIZE
    assert peak < 60 * MIB, f"peak {peak / MIB:.0f} MiB for a {SIZE // MIB} MiB archive"
