"""Streamed S3 object I/O with flat memory: multipart uploads and ranged reads.

Rule: standard library and boto3/botocore only (this module ships inside the fetch
Lambda). Large objects are written through `MultipartWriter` (parts of `PART_SIZE`)
and read through `RangeReader` (ranged GETs), never held whole; failures are
`AwsError`s naming the action and the key, as in `ppdw.aws.objects`.
"""

from __future__ import annotations

import hashlib
import io
from collections.abc import Iterator
from concurrent.futures import Future, ThreadPoolExecutor
from types import TracebackType
from typing import Any

from botocore.exceptions import BotoCoreError, ClientError

from ppdw.aws.objects import put_bytes, s3_failure

#: Parts of a multipart upload (S3 wants >= 5 MiB for every part but the last).
PART_SIZE = 8 * 1024 * 1024


class MultipartWriter:
    """Stream bytes into one S3 object with flat memory.

    Parts of `part_size` are uploaded as they fill; an object smaller than one part is
    written with a single PutObject at close. On an exception inside the `with` block (or
    `abort()`) the upload is aborted, so a partial object never appears. `sha256` and
    `bytes_written` describe exactly what was written.

    A full part is uploaded by a background thread while the caller fills the next one (a
    download or a decompression overlaps the upload); at most one part is in flight, so
    memory stays at two parts and the parts reach S3 (and the digest) in order. A part's
    failure is raised by the next `write` or by `close`, after the upload is aborted.
    """

    def __init__(
        self,
        s3: Any,
        bucket: str,
        key: str,
        *,
        part_size: int = PART_SIZE,
        content_type: str | None = None,
    ) -> None:
        if part_size < 5 * 1024 * 1024:
            raise ValueError("S3 parts must be at least 5 MiB")
        self.s3, self.bucket, self.key = s3, bucket, key
        self.part_size = part_size
        self.content_type = content_type
        self.bytes_written = 0
        self._hash = hashlib.sha256()
        self._buffer = bytearray()
        self._upload_id: str | None = None
        self._parts: list[dict[str, Any]] = []
        self._closed = False
        self._sender: ThreadPoolExecutor | None = None
        self._in_flight: Future[None] | None = None

    @property
    def sha256(self) -> str:
        return self._hash.hexdigest()

    def __enter__(self) -> MultipartWriter:
        return self

    def __exit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        if exc_type is None:
            self.close()
        else:
            self.abort()

    def write(self, data: bytes | bytearray | memoryview) -> int:
        if self._closed:
            raise ValueError(f"write to closed writer of s3://{self.bucket}/{self.key}")
        self._buffer += data
        self.bytes_written += len(data)
        while len(self._buffer) >= self.part_size:
            chunk = bytes(self._buffer[: self.part_size])
            del self._buffer[: self.part_size]
            self._send(chunk)
        return len(data)

    def _send(self, chunk: bytes) -> None:
        """Upload `chunk` as the next part in the background, once the previous one is in."""
        self._wait()
        if self._sender is None:
            self._sender = ThreadPoolExecutor(1, thread_name_prefix="ppdw-upload-part")
        self._in_flight = self._sender.submit(self._hash_and_upload, chunk)

    def _hash_and_upload(self, chunk: bytes) -> None:
        # Parts are hashed in order, like they are uploaded; off the caller's thread, the
        # digest overlaps the caller's work (hashlib releases the GIL on large buffers).
        self._hash.update(chunk)
        self._upload_part(chunk)

    def _wait(self) -> None:
        """Let the part in flight finish; its failure (the upload already aborted) is raised."""
        in_flight, self._in_flight = self._in_flight, None
        if in_flight is None:
            return
        try:
            in_flight.result()
        except BaseException:
            self.abort()
            raise

    def _stop_sender(self) -> None:
        sender, self._sender = self._sender, None
        if sender is not None:
            sender.shutdown(wait=True)

    def _extra(self) -> dict[str, Any]:
        return {"ContentType": self.content_type} if self.content_type else {}

    def _upload_part(self, chunk: bytes) -> None:
        try:
            if self._upload_id is None:
                created = self.s3.create_multipart_upload(
                    Bucket=self.bucket, Key=self.key, **self._extra()
                )
                self._upload_id = str(created["UploadId"])
            number = len(self._parts) + 1
            part = self.s3.upload_part(
                Bucket=self.bucket,
                Key=self.key,
                UploadId=self._upload_id,
                PartNumber=number,
                Body=chunk,
            )
        except (ClientError, BotoCoreError) as error:
            # The caller's thread aborts the upload (`_wait`, `close`): this may be the sender.
            raise s3_failure("multipart upload", self.bucket, self.key, error) from error
        self._parts.append({"PartNumber": number, "ETag": part["ETag"]})

    def close(self) -> None:
        """Upload what is buffered and complete the object."""
        if self._closed:
            return
        try:
            self._wait()
            tail = bytes(self._buffer)
            self._hash.update(tail)
            if self._upload_id is None:
                put_bytes(self.s3, self.bucket, self.key, tail, self.content_type)
            else:
                if tail:
                    self._upload_part(tail)
                self._complete()
        except BaseException:
            self.abort()
            raise
        finally:
            self._stop_sender()
        self._buffer = bytearray()
        self._closed = True

    def _complete(self) -> None:
        try:
            self.s3.complete_multipart_upload(
                Bucket=self.bucket,
                Key=self.key,
                UploadId=self._upload_id,
                MultipartUpload={"Parts": self._parts},
            )
        except (ClientError, BotoCoreError) as error:
            raise s3_failure("complete multipart upload", self.bucket, self.key, error) from error

    def abort(self) -> None:
        """Drop everything written so far; no object appears. Safe to call twice."""
        self._closed = True
        self._buffer = bytearray()
        in_flight, self._in_flight = self._in_flight, None
        if in_flight is not None:
            in_flight.exception()  # wait: no part may land after the abort (its error is moot)
        self._stop_sender()
        upload_id, self._upload_id = self._upload_id, None
        if upload_id is None:
            return
        try:
            self.s3.abort_multipart_upload(Bucket=self.bucket, Key=self.key, UploadId=upload_id)
        except (ClientError, BotoCoreError) as error:
            # The original failure matters more; the bucket's lifecycle rule for
            # incomplete multipart uploads removes what is left.
            raise s3_failure("abort multipart upload", self.bucket, self.key, error) from error


class RangeReader(io.RawIOBase):
    """A seekable, read-only file over one S3 object, read with ranged GETs.

    Keeps one block of `block_size` bytes cached, so sequential reads cost one GET per
    block and `zipfile` can seek to the central directory without downloading the object.
    """

    def __init__(self, s3: Any, bucket: str, key: str, *, block_size: int = PART_SIZE) -> None:
        super().__init__()
        self.s3, self.bucket, self.key = s3, bucket, key
        self.block_size = block_size
        try:
            self.size = int(s3.head_object(Bucket=bucket, Key=key)["ContentLength"])
        except (ClientError, BotoCoreError) as error:
            raise s3_failure("head", bucket, key, error) from error
        self._pos = 0
        self._block_start = 0
        self._block = b""

    def readable(self) -> bool:
        return True

    def seekable(self) -> bool:
        return True

    def tell(self) -> int:
        return self._pos

    def seek(self, offset: int, whence: int = io.SEEK_SET) -> int:
        base = {io.SEEK_SET: 0, io.SEEK_CUR: self._pos, io.SEEK_END: self.size}[whence]
        target = base + offset
        if target < 0:
            raise ValueError(f"negative seek position {target}")
        self._pos = target
        return self._pos

    def readinto(self, buffer: Any) -> int:
        view = memoryview(buffer).cast("B")
        if self._pos >= self.size or not len(view):
            return 0
        offset = self._pos - self._block_start
        if not 0 <= offset < len(self._block):
            self._load(self._pos)
            offset = 0
        count = min(len(view), len(self._block) - offset)
        view[:count] = self._block[offset : offset + count]
        self._pos += count
        return count

    def read(self, size: int | None = -1) -> bytes:
        """Exactly `size` bytes (fewer only at the end): parquet readers expect no short
        reads. A read larger than a block is one ranged GET, not cached."""
        left = self.size - self._pos
        want = left if size is None or size < 0 else min(size, left)
        if want <= 0:
            return b""
        if want > self.block_size:
            data = self._range(self._pos, self._pos + want - 1)
            self._pos += len(data)
            return data
        out = bytearray(want)
        filled = 0
        while filled < want:
            count = self.readinto(memoryview(out)[filled:])
            if count == 0:
                break
            filled += count
        return bytes(out[:filled])

    def _load(self, start: int) -> None:
        self._block = self._range(start, min(start + self.block_size, self.size) - 1)
        self._block_start = start

    def _range(self, first: int, last: int) -> bytes:
        try:
            body = self.s3.get_object(
                Bucket=self.bucket, Key=self.key, Range=f"bytes={first}-{last}"
            )
            return bytes(body["Body"].read())
        except (ClientError, BotoCoreError) as error:
            raise s3_failure("ranged get", self.bucket, self.key, error) from error


def iter_chunks(stream: Any, size: int = 1024 * 1024) -> Iterator[bytes]:
    """Read a file-like object in chunks until it is exhausted."""
    while True:
        chunk = stream.read(size)
        if not chunk:
            return
        yield chunk
