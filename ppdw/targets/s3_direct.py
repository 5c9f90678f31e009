"""The embedded local target's S3 data path: object reads and writes without HTTP.

Rule: this is part of the emulator, not of the runtime. The runtime still calls the S3
API through boto3; on the embedded `local` target, GetObject, PutObject and UploadPart
calls are answered here, from moto's S3 backend and the body files, before botocore
serializes, signs and checksums a request that moto would then parse again. Everything
moto decides stays moto's: the objects are created by its backend (versioning, default
encryption, notifications), the response headers come from its `FakeKey.response_dict`,
and botocore parses them as it parses any response (`ppdw.aws.responses`).

A call is answered here only when it is a plain one: no conditional or checksum headers,
no version id, no customer key, at most one byte range, an existing bucket and (reading)
an existing object, no bucket logging and no IAM access control. Anything else (and every
error) goes to moto unchanged, so errors, status codes and edge cases are moto's own.

Why: moto copies every body several times, hashes it for the signature and the checksum,
and answers a ranged GET by reading the whole object; on a 1M-row run that was most of
the time spent outside the transforms (bench/RESULTS.md).
"""

from __future__ import annotations

import hashlib
import io
import math
import os
import re
from collections.abc import Iterator
from typing import Any

from ppdw.aws.responses import Answer, rest_xml_answer
from ppdw.targets.bodies import FileBody

OPERATIONS = ("GetObject", "PutObject", "UploadPart")
_PARAMS = "ppdw.s3_direct.params"
_RANGE = re.compile(r"^bytes=(\d*)-(\d*)$")
#: Parameters of a call this path answers; any other one sends the call to moto.
_PLAIN = {
    "GetObject": {"Bucket", "Key", "Range"},
    "PutObject": {"Bucket", "Key", "Body", "ContentType"},
    "UploadPart": {"Bucket", "Key", "Body", "UploadId", "PartNumber"},
}


def install(session: Any, access_key: str) -> None:
    """Answer plain object calls of every client `session` creates from now on."""
    answer = _Answerer(access_key)
    for operation in OPERATIONS:
        session.events.register(f"before-parameter-build.s3.{operation}", _remember)
        session.events.register(f"before-call.s3.{operation}", answer)


def _remember(params: dict[str, Any], context: dict[str, Any], **_: Any) -> None:
    context[_PARAMS] = dict(params)


class _BodyStream(io.RawIOBase):
    """The raw HTTP body of a GetObject answer: `length` bytes of a FileBody."""

    def __init__(self, body: FileBody, offset: int, length: int) -> None:
        super().__init__()
        self._body, self._pos, self._end = body, offset, offset + length

    def readable(self) -> bool:
        return True

    def read(self, size: int | None = -1) -> bytes:
        left = self._end - self._pos
        want = left if size is None or size < 0 else min(size, left)
        data = self._body.read_range(self._pos, want)
        self._pos += len(data)
        return data

    def readinto(self, buffer: Any) -> int:
        view = memoryview(buffer).cast("B")
        data = self.read(len(view))
        view[: len(data)] = data
        return len(data)

    def stream(self, **_: Any) -> Iterator[bytes]:
        yield from self._body.chunks(self._pos, self._end - self._pos)
        self._pos = self._end


class _Answerer:
    def __init__(self, access_key: str) -> None:
        self.access_key = access_key

    def __call__(
        self, model: Any, params: dict[str, Any], context: dict[str, Any], **_: Any
    ) -> Answer | None:
        api = context.pop(_PARAMS, None)
        if api is None or not set(api) <= _PLAIN[model.name] or not _moto_allows_shortcut():
            return None
        backend = self._backend()
        bucket = backend.buckets.get(api["Bucket"])
        if bucket is None or bucket.logging:
            return None
        if model.name == "GetObject":
            answer = _get(backend, api)
        elif model.name == "PutObject":
            answer = _put(backend, bucket, api, params["headers"])
        else:
            answer = _upload_part(backend, bucket, api)
        if answer is None:
            return None
        status, headers, raw = answer
        if isinstance(raw, bytes):
            from moto.core.botocore_stubber import MockRawResponse

            raw = MockRawResponse(raw)
        return rest_xml_answer(params["url"], status, headers, raw, model)

    def _backend(self) -> Any:
        from moto.iam.models import get_account_id_from
        from moto.s3.models import s3_backends

        account = os.environ.get("MOTO_ACCOUNT_ID") or get_account_id_from(self.access_key)
        return s3_backends[account]["aws"]


def _moto_allows_shortcut() -> bool:
    """No IAM access control and no request recording: both need moto to see the call."""
    from moto import settings
    from moto.moto_api import recorder

    unlimited = math.isinf(settings.INITIAL_NO_AUTH_ACTION_COUNT)
    return unlimited and not recorder._user_enabled


def _body_bytes(body: Any) -> bytes | bytearray | memoryview | None:
    return body if isinstance(body, bytes | bytearray | memoryview) else None


def _headers(extra: dict[str, str]) -> dict[str, str]:
    from moto.utilities.aws_headers import gen_amzn_requestid_long

    gen_amzn_requestid_long(extra)  # what moto adds to every answer
    return extra


def _get(backend: Any, api: dict[str, Any]) -> tuple[int, dict[str, str], Any] | None:
    key = backend.get_object(api["Bucket"], api["Key"])
    if key is None or key.storage_class != "STANDARD":
        return None  # moto answers NoSuchKey / InvalidObjectState
    body = key._value_buffer
    if type(body) is not FileBody:
        return None
    headers: dict[str, str] = {}
    if key.version_id != "null":
        headers["x-amz-version-id"] = key.version_id
    headers.update(key.response_dict)
    headers.update(key.metadata)
    headers["Accept-Ranges"] = "bytes"
    size = body.size
    offset, length, status = 0, size, 200
    if "Range" in api:
        chosen = _byte_range(str(api["Range"]), size)
        if chosen is None:
            return None  # unsatisfiable or unusual: moto decides
        offset, length = chosen
        status = 206  # moto answers any satisfiable range with 206, even the whole object
        headers["content-range"] = f"bytes {offset}-{offset + length - 1}/{size}"
        headers["content-length"] = str(length)
    return status, _headers(headers), _BodyStream(body, offset, length)


def _byte_range(spec: str, size: int) -> tuple[int, int] | None:
    """(offset, length) of one `bytes=a-b` / `bytes=a-` / `bytes=-n` range, as moto
    serves it; None when moto would refuse it or answer the whole object."""
    match = _RANGE.match(spec.strip())
    if match is None or size == 0:
        return None
    first, last = (int(g) if g else None for g in match.groups())
    if first is not None:
        if first > size - 1:
            return None
        end = size - 1 if last is None else min(last, size - 1)
    elif last:
        first, end = size - min(last, size), size - 1
    else:
        return None
    if first > end:
        return None
    return first, end - first + 1


def _md5(data: bytes | bytearray | memoryview) -> str:
    return hashlib.md5(data, usedforsecurity=False).hexdigest()


def _put(
    backend: Any, bucket: Any, api: dict[str, Any], request_headers: dict[str, str]
) -> tuple[int, dict[str, str], Any] | None:
    from moto.s3.utils import metadata_from_headers

    data = _body_bytes(api.get("Body", b""))
    if data is None or bucket.object_lock_enabled:
        return None
    key = backend.put_object(
        api["Bucket"],
        api["Key"],
        data,
        storage="STANDARD",
        etag=_md5(data),
    )
    key.set_metadata(metadata_from_headers(request_headers))
    key.set_acl(bucket.acl)
    key.website_redirect_location = None
    backend.put_object_tagging(key, {})
    headers = dict(key.response_dict)
    headers.pop("content-length", None)
    return 200, _headers(headers), b""


def _upload_part(
    backend: Any, bucket: Any, api: dict[str, Any]
) -> tuple[int, dict[str, str], Any] | None:
    data = _body_bytes(api.get("Body", b""))
    number = int(api["PartNumber"])
    if data is None or api["UploadId"] not in bucket.multiparts or not 1 <= number <= 10000:
        return None
    part = backend.upload_part(api["Bucket"], api["UploadId"], number, data)
    part._etag = _md5(data)
    headers = dict(part.response_dict)
    headers["content-length"] = "0"
    return 200, _headers(headers), b""
