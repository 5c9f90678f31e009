"""Data-plane S3 object I/O shared by the fetch Lambda and the jobs.

Rule: standard library and boto3/botocore only (this module ships inside the fetch
Lambda). Whole small objects, listings and deletes only: large objects are streamed
through `ppdw.aws.streams`, never held whole. A missing object is a domain answer
(`None` / `False`), any other S3 failure an `AwsError` naming the action and the key.

S3 answers a read of a missing key with 404 only to a caller that may also list the
bucket at that prefix (s3:ListBucket); to anyone else it answers 403 AccessDenied, for a
missing key exactly as for a forbidden one. So 403 is never taken for "missing": it is an
error naming both permissions, and each role may list the prefixes it reads.
"""

from __future__ import annotations

import json
from collections.abc import Iterable
from dataclasses import dataclass
from datetime import UTC, datetime
from email.utils import parsedate_to_datetime
from typing import Any, Literal

from botocore.config import Config
from botocore.exceptions import BotoCoreError, ClientError

from ppdw.aws.errors import DENIED_HINT, error_code
from ppdw.errors import AwsError

#: DeleteObjects takes at most 1000 keys per call.
DELETE_BATCH = 1000
_MISSING_CODES = {"NoSuchKey", "404", "NotFound"}
#: HeadObject has no body: its 403 comes back as code "403".
_DENIED_CODES = {"AccessDenied", "403", "Forbidden"}
_NO_BUCKET_CODES = {"404", "NoSuchBucket", "NotFound"}
_EXISTS_CODES = {"PreconditionFailed", "412", "ConditionalRequestConflict", "409"}

_CLIENT_CONFIG = Config(retries={"mode": "adaptive", "max_attempts": 10}, read_timeout=120)


def make_client(service: str, region: str) -> Any:
    """A client for the Lambda: credentials from boto3's default chain (honours
    `AWS_ENDPOINT_URL`), the region always given, never a default."""
    import boto3  # deferred: importing this module must stay cheap and client-free

    session = boto3.session.Session(region_name=region)
    return session.client(service, config=_CLIENT_CONFIG)  # type: ignore[call-overload]


def s3_failure(action: str, bucket: str, key: str, error: Exception) -> AwsError:
    """The `AwsError` of a failed S3 call, naming the action and the object (and, for a
    refusal, the permission hint)."""
    detail = error_code(error) if isinstance(error, ClientError) else type(error).__name__
    hint = DENIED_HINT if detail in _DENIED_CODES else None
    return AwsError(f"S3 {action} s3://{bucket}/{key} failed: {detail}: {error}", hint)


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
        raise s3_failure("get", bucket, key, error) from error
    except BotoCoreError as error:
        raise s3_failure("get", bucket, key, error) from error


def get_json(s3: Any, bucket: str, key: str) -> Any | None:
    """Parsed JSON of an object; None when missing."""
    data = get_bytes(s3, bucket, key)
    if data is None:
        return None
    try:
        return json.loads(data)
    except ValueError as error:
        raise AwsError(f"s3://{bucket}/{key} is not valid JSON: {error}") from error


class ObjectReadError(AwsError):
    """A GetObject that failed; `code` is AWS's error code ("" when there was no answer),
    for callers whose answer depends on it (a missing source is the data's fault)."""

    def __init__(self, message: str, code: str, hint: str | None = None) -> None:
        super().__init__(message, hint)
        self.code = code


@dataclass(frozen=True)
class OpenedObject:
    """An object being read: its body stream (read it once) and what S3 said of it."""

    body: Any
    size: int
    etag: str | None
    last_modified: datetime | None


def open_object(s3: Any, bucket: str, key: str, action: str = "get") -> OpenedObject:
    """Start reading the object; every failure is an `ObjectReadError` naming `action`."""
    try:
        answer = s3.get_object(Bucket=bucket, Key=key)
    except (ClientError, BotoCoreError) as error:
        failure = s3_failure(action, bucket, key, error)
        raise ObjectReadError(failure.message, error_code(error), failure.hint) from error
    return OpenedObject(
        body=answer["Body"],
        size=int(answer.get("ContentLength", 0)),
        etag=str(answer.get("ETag", "")).strip('"') or None,
        last_modified=answer.get("LastModified"),
    )


def read_object(s3: Any, bucket: str, key: str) -> bytes:
    """The whole object, which must exist (a missing one is an `ObjectReadError`)."""
    opened = open_object(s3, bucket, key)
    try:
        return bytes(opened.body.read())
    except (ClientError, BotoCoreError) as error:
        raise s3_failure("get", bucket, key, error) from error


def put_bytes(s3: Any, bucket: str, key: str, data: bytes, content_type: str | None = None) -> None:
    extra = {"ContentType": content_type} if content_type else {}
    try:
        s3.put_object(Bucket=bucket, Key=key, Body=data, **extra)
    except (ClientError, BotoCoreError) as error:
        raise s3_failure("put", bucket, key, error) from error


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
        raise s3_failure("conditional put", bucket, key, error) from error
    except BotoCoreError as error:
        raise s3_failure("conditional put", bucket, key, error) from error
    return str(answer["ETag"])


def put_if_match(s3: Any, bucket: str, key: str, data: bytes, etag: str) -> str | None:
    """Replace the object only if it is still the version `etag` (`If-Match`); returns the
    new ETag, or None if the object changed or is gone (S3 answers 412 or 404)."""
    try:
        answer = s3.put_object(Bucket=bucket, Key=key, Body=data, IfMatch=etag)
    except ClientError as error:
        if error_code(error) in _EXISTS_CODES | _MISSING_CODES:
            return None
        raise s3_failure("conditional put", bucket, key, error) from error
    except BotoCoreError as error:
        raise s3_failure("conditional put", bucket, key, error) from error
    return str(answer["ETag"])


def delete_if_match(s3: Any, bucket: str, key: str, etag: str) -> bool:
    """Delete the object only if it is still the version `etag`; False if it changed or
    is gone."""
    try:
        s3.delete_object(Bucket=bucket, Key=key, IfMatch=etag)
    except ClientError as error:
        if error_code(error) in _EXISTS_CODES | _MISSING_CODES:
            return False
        raise s3_failure("conditional delete", bucket, key, error) from error
    except BotoCoreError as error:
        raise s3_failure("conditional delete", bucket, key, error) from error
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
        raise s3_failure("get", bucket, key, error) from error
    except BotoCoreError as error:
        raise s3_failure("get", bucket, key, error) from error
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
        raise s3_failure("head", bucket, key, error) from error
    except BotoCoreError as error:
        raise s3_failure("head", bucket, key, error) from error
    return True


#: What HeadBucket says of a bucket to these credentials.
BucketState = Literal["exists", "missing", "forbidden"]


def bucket_state(s3: Any, bucket: str) -> BucketState:
    """The one reading of HeadBucket: "exists" (these credentials may use it), "missing"
    (404: no bucket has the name), "forbidden" (403: a bucket has the name, but these
    credentials may not use it: another account's, or a policy refuses). Bucket names are
    global, so "forbidden" is never "ours"; each caller words it for its user. Any other
    failure is an `AwsError` naming the bucket."""
    try:
        s3.head_bucket(Bucket=bucket)
    except ClientError as error:
        if error_code(error) in _NO_BUCKET_CODES:
            return "missing"
        if error_code(error) in _DENIED_CODES:
            return "forbidden"
        raise _bucket_failure(bucket, error) from error
    except BotoCoreError as error:
        raise _bucket_failure(bucket, error) from error
    return "exists"


def _bucket_failure(bucket: str, error: Exception) -> AwsError:
    detail = error_code(error) or type(error).__name__
    return AwsError(f"S3 head bucket {bucket} failed: {detail}: {error}")


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
        raise s3_failure("list", bucket, prefix, error) from error
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
        raise s3_failure("list", bucket, prefix, error) from error
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
        raise s3_failure("delete", bucket, keys[0], error) from error
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
