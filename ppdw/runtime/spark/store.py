"""Where Spark tasks read and write the warehouse's files: the engine's one I/O seam.

Rule: tasks never use Spark's own file connectors. They read raw members and parquet, and
write parquet, through a `Store` with pyarrow and the Arrow engine's writer
(`storage.to_parquet_bytes`): the bytes written are the same whichever engine runs, and
no Hadoop S3 jar is needed anywhere. Two stores:

- `S3Store`: the bucket through boto3. On Glue, each task builds its client from the
  default chain (the job's role); on the `local` target, from the emulator's loopback
  endpoint and its fake credentials (`emulator.py`).
- `LocalStore`: a folder of plain files (`key` = path under the root), for benchmarks and
  tests of the engine alone.

A store is a small frozen value: it is pickled into every task, and a task builds its own
client on first use.
"""

from __future__ import annotations

import io
import os
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Protocol

import pyarrow as pa
import pyarrow.parquet as pq

from ppdw.aws import objects, streams
from ppdw.runtime import storage


class Store(Protocol):
    """The few operations the engine needs, by key (no leading `/`)."""

    def size(self, key: str) -> int: ...

    def read_range(self, key: str, start: int, end: int) -> bytes: ...

    def write(self, key: str, data: bytes) -> None: ...

    def keys(self, prefix: str) -> list[str]: ...

    def delete(self, keys: list[str]) -> None: ...

    def open_parquet(self, key: str) -> pq.ParquetFile: ...


def read_table(store: Store, key: str) -> pa.Table:
    return store.open_parquet(key).read()


def write_table(store: Store, key: str, table: pa.Table) -> int:
    """Write `table` with the Arrow engine's writer (ZSTD, ms timestamps); bytes written."""
    body = storage.to_parquet_bytes(table)
    store.write(key, body)
    return len(body)


def parquet_keys(store: Store, prefix: str) -> list[str]:
    return sorted(k for k in store.keys(prefix) if k.endswith(storage.PARQUET_SUFFIX))


@dataclass(frozen=True)
class LocalStore:
    root: str

    def _path(self, key: str) -> Path:
        return Path(self.root) / key

    def size(self, key: str) -> int:
        return self._path(key).stat().st_size

    def read_range(self, key: str, start: int, end: int) -> bytes:
        with self._path(key).open("rb") as handle:
            handle.seek(start)
            return handle.read(end - start)

    def write(self, key: str, data: bytes) -> None:
        path = self._path(key)
        path.parent.mkdir(parents=True, exist_ok=True)
        partial = path.with_name(f".{path.name}.partial")
        partial.write_bytes(data)
        os.replace(partial, path)  # a reader never sees half a file

    def keys(self, prefix: str) -> list[str]:
        root = Path(self.root)
        base = root / prefix
        folder = base if prefix.endswith("/") else base.parent
        if not folder.is_dir():
            return []
        found = (p.relative_to(root).as_posix() for p in folder.rglob("*") if p.is_file())
        return sorted(k for k in found if k.startswith(prefix) and "/." not in f"/{k}")

    def delete(self, keys: list[str]) -> None:
        for key in keys:
            self._path(key).unlink(missing_ok=True)

    def open_parquet(self, key: str) -> pq.ParquetFile:
        return pq.ParquetFile(str(self._path(key)))


#: One client per store per process: tasks of one executor share it.
_CLIENTS: dict[S3Store, Any] = {}


@dataclass(frozen=True)
class S3Store:
    bucket: str
    region: str | None = None
    #: None: boto3's default chain and endpoint (Glue); else the emulator's loopback.
    endpoint_url: str | None = None
    access_key: str | None = None
    secret_key: str | None = None

    def client(self) -> Any:
        if self not in _CLIENTS:
            from ppdw.aws.session import make_session

            credentials = None
            if self.access_key and self.secret_key:
                credentials = {
                    "aws_access_key_id": self.access_key,
                    "aws_secret_access_key": self.secret_key,
                }
            session = make_session(
                region=self.region, endpoint_url=self.endpoint_url, credentials=credentials
            )
            _CLIENTS[self] = session.client("s3")
        return _CLIENTS[self]

    def size(self, key: str) -> int:
        head = self.client().head_object(Bucket=self.bucket, Key=key)
        return int(head["ContentLength"])

    def read_range(self, key: str, start: int, end: int) -> bytes:
        if end <= start:
            return b""
        reader = streams.RangeReader(self.client(), self.bucket, key)
        reader.seek(start)
        return bytes(reader.read(end - start))

    def write(self, key: str, data: bytes) -> None:
        objects.put_bytes(self.client(), self.bucket, key, data)

    def keys(self, prefix: str) -> list[str]:
        return storage.list_keys(self.client(), self.bucket, prefix)

    def delete(self, keys: list[str]) -> None:
        storage.delete_keys(self.client(), self.bucket, keys)

    def open_parquet(self, key: str) -> pq.ParquetFile:
        return storage.open_parquet(self.client(), self.bucket, key)


def read_bytes(store: Store, key: str) -> bytes:
    return store.read_range(key, 0, store.size(key))


def stream(store: Store, key: str, block: int = 1 << 24) -> io.BufferedReader:
    """A sequential reader over one object, `block` bytes per request."""
    return io.BufferedReader(_Sequential(store, key), buffer_size=block)


class _Sequential(io.RawIOBase):
    def __init__(self, store: Store, key: str) -> None:
        super().__init__()
        self.store, self.key = store, key
        self.total = store.size(key)
        self.pos = 0

    def readable(self) -> bool:
        return True

    def readinto(self, buffer: Any) -> int:
        view = memoryview(buffer).cast("B")
        count = min(len(view), self.total - self.pos)
        if count <= 0:
            return 0
        data = self.store.read_range(self.key, self.pos, self.pos + count)
        view[: len(data)] = data
        self.pos += len(data)
        return len(data)
