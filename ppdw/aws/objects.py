"""Data-plane S3 object I/O shared by the fetch Lambda and the jobs.

Rule: standard library and boto3/botocore only (this module ships inside the fetch
Lambda). Memory stays flat: large objects are written through `MultipartWriter` (parts of
`PART_SIZE`) and read through `RangeReader` (ranged GETs), never held whole. A missing
object is a domain answer (`None` / `False`), any other S3 failure an `AwsError` naming
the action and the key.

S3 answers a read of a missing key with 404 only to a caller that may also list the
bucket at that prefix (s3:ListBucket); to anyone else it answers 403 AccessDenied, for a
missing key exactly as for a forbidden one. So 403 is never taken for "missing": it is an
error naming both permissions, and each role may list the prefixes it reads.
"""

from __future__ import annotations

import hashlib
import io
import json
from collections.abc import Iterable, Iterator
from dataclasses import dataclass
from datetime import UTC, datetime
from email.utils import parsedate_to_datetime
from types import TracebackType
from typing import Any

from botocore.config import Config
from botocore.exceptions import BotoCoreError, ClientError

from ppdw.aws.errors import error_code
from ppdw.errors import AwsError

#: Parts of a multipart upload (S3 wants >= 5 MiB for every part but the last).
PART_SIZE = 8 * 1024 * 1024
#: DeleteObjects takes at most 1000 keys per call.
DELETE_BATCH = 1000
_MISSING_CODES = {"NoSuchKey", "404", "NotFound"}
#: HeadObject has no body: its 403 comes back as code "403".
_DENIED_CODES = {"AccessDenied", "403", "Forbidden"}
_EXISTS_CODES = {"PreconditionFailed", "412", "ConditionalRequestConflict", "409"}

_CLIENT_CONFIG = Config(retries={"mode": "adaptive", "max_attempts": 10}, read_timeout=120)


def make_client(service: str, region: str) -> Any:
    """A client for the Lambda: credentials from boto3's default chain (honours
    `AWS_ENDPOINT_URL`), the region always given, never a default."""
    import boto3  # deferred: importing this module must stay cheap and client-free

    session = boto3.session.Session(region_name=region)
    return session.client(service, config=_CLIENT_CONFIG)  # type: ignore[call-overload]


def _fail(action: str, bucket: str, key: str, error: Exception) -> AwsError:
    detail = error_code(error) if isinstance(error, ClientError) else type(error).__name__
    return AwsError(f"S3 {action} s3://{bucket}/{key} failed: {detail}: {error}")


def _read_denied(action: str, bucket: str, key: str) -> AwsError:
    prefix = key.rsplit("/", 1)[0] + "/" if "/" in key else ""
    return AwsError(
        f"S3 {action} s3://{bucket}/{key} was refused (403 AccessDenied): the credentials "
        f"need s3:GetObject on the key, and s3:ListBucket on bucket {bucket} for prefix "
        f"{prefix!r} (without it S3 answers 403, not 404, for a missing key)",
        "deploy the roles again (ppdw bootstrap-core), or compare your credentials with "
        "`ppdw deployer-policy`",
    )


def get_bytes(s3: Any, bucket: str, key: str) -> bytes | None:
    """The whole object (small objects only: manifests, markers); None when missing."""
    try:
        return bytes(s3.get_object(Bucket=bucket, Key=key)["Body"].read())
    except ClientError as error:
        if error_code(error) in _MISSING_CODES:
            return None
        if error_code(error) in _DENIED_CODES:
            raise _read_denied("get", bucket, key) from error
        raise _fail("get", bucket, key, error) from error
    except BotoCoreError as error:
        raise _fail("get", bucket, key, error) from error


def get_json(s3: Any, bucket: str, key: str) -> Any | None:
    """Parsed JSON of an object; None when missing."""
    data = get_bytes(s3, bucket, key)
    if data is None:
        return None
    try:
        return json.loads(data)
    except ValueError as error:
        raise AwsError(f"s3://{bucket}/{key} is not valid JSON: {error}") from error


def put_bytes(s3: Any, bucket: str, key: str, data: bytes, content_type: str | None = None) -> None:
    extra = {"ContentType": content_type} if content_type else {}
    try:
        s3.put_object(Bucket=bucket, Key=key, Body=data, **extra)
    except (ClientError, BotoCoreError) as error:
        raise _fail("put", bucket, key, error) from error


def dumps(document: Any) -> bytes:
    """The one JSON form of every record ppdw writes (sorted keys: stable diffs)."""
    return json.dumps(document, indent=2, sort_keys=True, ensure_ascii=False).encode("utf-8")


def put_json(s3: Any, bucket: str, key: str, document: Any) -> None:
    put_bytes(s3, bucket, key, dumps(document), "application/json")


def put_if_absent(s3: Any, bucket: str, key: str, data: bytes) -> str | None:
    """Create the object only if no object has the key (`If-None-Match: *`); returns its
    ETag, or None if an object exists."""
    try:
        answer = s3.put_object(Bucket=bucket, Key=key, Body=data, IfNoneMatch="*")
    except ClientError as error:
        if error_code(error) in _EXISTS_CODES:
            return None
        raise _fail("conditional put", bucket, key, error) from error
    except BotoCoreError as error:
        raise _fail("conditional put", bucket, key, error) from error
    return str(answer["ETag"])


def put_if_match(s3: Any, bucket: str, key: str, data: bytes, etag: str) -> str | None:
    """Replace the object only if it is still the version `etag` (`If-Match`); returns the
    new ETag, or None if the object changed or is gone (S3 answers 412 or 404)."""
    try:
        answer = s3.put_object(Bucket=bucket, Key=key, Body=data, IfMatch=etag)
    except ClientError as error:
        if error_code(error) in _EXISTS_CODES | _MISSING_CODES:
            return None
        raise _fail("conditional put", bucket, key, error) from error
    except BotoCoreError as error:
        raise _fail("conditional put", bucket, key, error) from error
    return str(answer["ETag"])


def delete_if_match(s3: Any, bucket: str, key: str, etag: str) -> bool:
    """Delete the object only if it is still the version `etag`; False if it changed or
    is gone."""
    try:
        s3.delete_object(Bucket=bucket, Key=key, IfMatch=etag)
    except ClientError as error:
        if error_code(error) in _EXISTS_CODES | _MISSING_CODES:
            return False
        raise _fail("conditional delete", bucket, key, error) from error
    except BotoCoreError as error:
        raise _fail("conditional delete", bucket, key, error) from error
    return True


@dataclass(frozen=True)
class Versioned:
    """An object's bytes with what conditional writes and ages need."""

    data: bytes
    etag: str
    last_modified: datetime
    #: S3's clock when it answered (the `Date` header), else this machine's.
    server_time: datetime


def get_versioned(s3: Any, bucket: str, key: str) -> Versioned | None:
    """The whole (small) object with its ETag and times; None when missing."""
    try:
        answer = s3.get_object(Bucket=bucket, Key=key)
        data = bytes(answer["Body"].read())
    except ClientError as error:
        if error_code(error) in _MISSING_CODES:
            return None
        raise _fail("get", bucket, key, error) from error
    except BotoCoreError as error:
        raise _fail("get", bucket, key, error) from error
    headers = answer.get("ResponseMetadata", {}).get("HTTPHeaders", {})
    return Versioned(
        data=data,
        etag=str(answer["ETag"]),
        last_modified=answer["LastModified"],
        server_time=_server_time(headers.get("date")),
    )


def _server_time(header: str | None) -> datetime:
    if header:
        try:
            return parsedate_to_datetime(header)
        except (TypeError, ValueError):
            return datetime.now(UTC)  # a malformed Date header: this machine's clock
    return datetime.now(UTC)


def exists(s3: Any, bucket: str, key: str) -> bool:
    try:
        s3.head_object(Bucket=bucket, Key=key)
    except ClientError as error:
        if error_code(error) in _MISSING_CODES:
            return False
        if error_code(error) in _DENIED_CODES:
            raise _read_denied("head", bucket, key) from error
        raise _fail("head", bucket, key, error) from error
    except BotoCoreError as error:
        raise _fail("head", bucket, key, error) from error
    return True


@dataclass(frozen=True)
class ObjectInfo:
    key: str
    size: int


def list_objects(s3: Any, bucket: str, prefix: str) -> list[ObjectInfo]:
    """Every object under `prefix` (all pages), in key order."""
    found: list[ObjectInfo] = []
    try:
        for page in s3.get_paginator("list_objects_v2").paginate(Bucket=bucket, Prefix=prefix):
            for item in page.get("Contents", []):
                found.append(ObjectInfo(key=item["Key"], size=int(item["Size"])))
    except (ClientError, BotoCoreError) as error:
        raise _fail("list", bucket, prefix, error) from error
    return found


def list_keys(s3: Any, bucket: str, prefix: str) -> list[str]:
    return [info.key for info in list_objects(s3, bucket, prefix)]


def list_prefixes(s3: Any, bucket: str, prefix: str) -> list[str]:
    """The immediate "folders" under `prefix` (each ending with `/`), in key order."""
    found: list[str] = []
    try:
        pages = s3.get_paginator("list_objects_v2").paginate(
            Bucket=bucket, Prefix=prefix, Delimiter="/"
        )
        for page in pages:
            found.extend(item["Prefix"] for item in page.get("CommonPrefixes", []))
    except (ClientError, BotoCoreError) as error:
        raise _fail("list", bucket, prefix, error) from error
    return sorted(found)


def delete_keys(s3: Any, bucket: str, keys: Iterable[str]) -> int:
    """Delete keys in batches of 1000; every per-key error is raised. Returns the count."""
    batch: list[str] = []
    count = 0
    for key in keys:
        batch.append(key)
        if len(batch) == DELETE_BATCH:
            count += _delete_batch(s3, bucket, batch)
            batch = []
    if batch:
        count += _delete_batch(s3, bucket, batch)
    return count


def _delete_batch(s3: Any, bucket: str, keys: list[str]) -> int:
    try:
        response = s3.delete_objects(
            Bucket=bucket, Delete={"Objects": [{"Key": k} for k in keys], "Quiet": True}
        )
    except (ClientError, BotoCoreError) as error:
        raise _fail("delete", bucket, keys[0], error) from error
    errors = response.get("Errors", [])
    if errors:
        first = errors[0]
        raise AwsError(
            f"S3 delete failed for {len(errors)} of {len(keys)} keys in s3://{bucket}/, "
            f"first {first.get('Key')}: {first.get('Code')} {first.get('Message')}"
        )
    return len(keys)


def delete_prefix(s3: Any, bucket: str, prefix: str) -> int:
    return delete_keys(s3, bucket, list_keys(s3, bucket, prefix))


class MultipartWriter:
    """Stream bytes into one S3 object with flat memory.

    Parts of `part_size` are uploaded as they fill; an object smaller than one part is
    written with a single PutObject at close. On an exception inside the `with` block (or
    `abort()`) the upload is aborted, so a partial object never appears. `sha256` and
    `bytes_written` describe exactly what was written.
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
        self._hash.update(data)
        self._buffer += data
        self.bytes_written += len(data)
        while len(self._buffer) >= self.part_size:
            chunk = bytes(self._buffer[: self.part_size])
            del self._buffer[: self.part_size]
            self._upload_part(chunk)
        return len(data)

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
            self.abort()
            raise _fail("multipart upload", self.bucket, self.key, error) from error
        self._parts.append({"PartNumber": number, "ETag": part["ETag"]})

    def close(self) -> None:
        """Upload what is buffered and complete the object."""
        if self._closed:
            return
        try:
            if self._upload_id is None:
                put_bytes(self.s3, self.bucket, self.key, bytes(self._buffer), self.content_type)
            else:
                if self._buffer:
                    self._upload_part(bytes(self._buffer))
                self._complete()
        except BaseException:
            self.abort()
            raise
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
            raise _fail("complete multipart upload", self.bucket, self.key, error) from error

    def abort(self) -> None:
        """Drop everything written so far; no object appears. Safe to call twice."""
        self._closed = True
        self._buffer = bytearray()
        upload_id, self._upload_id = self._upload_id, None
        if upload_id is None:
            return
        try:
            self.s3.abort_multipart_upload(Bucket=self.bucket, Key=self.key, UploadId=upload_id)
        except (ClientError, BotoCoreError) as error:
            # The original failure matters more; the bucket's lifecycle rule for
            # incomplete multipart uploads removes what is left.
            raise _fail("abort multipart upload", self.bucket, self.key, error) from error


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
            raise _fail("head", bucket, key, error) from error
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
            raise _fail("ranged get", self.bucket, self.key, error) from error


def iter_chunks(stream: Any, size: int = 1024 * 1024) -> Iterator[bytes]:
    """Read a file-like object in chunks until it is exhausted."""
    while True:
        chunk = stream.read(size)
        if not chunk:
            return
        yield chunk
