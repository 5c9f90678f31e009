"""Stream one source (http(s) URL, local path, `file://` or `s3://`) into one S3 object.

Rule: standard library, boto3 via `ppdw.aws.streams`, and `ppdw.runtime.redact` only (runs
in the fetch Lambda). Memory stays flat: the body is read in chunks straight into a
`MultipartWriter`; sha256 is computed on the way. An attempt that fails for any reason
aborts its upload, so a partial download never appears in S3. Timeouts, connection
errors, short bodies and HTTP 5xx/429 are retried with exponential backoff; other HTTP
errors fail at once. Error texts never hold the secret or a credential-bearing URL.
"""

from __future__ import annotations

import base64
import email.message
import hashlib
import http.client
import logging
import os
import re
import socket
import urllib.error
import urllib.request
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from datetime import UTC
from email.utils import format_datetime
from pathlib import Path
from typing import Any
from urllib.parse import parse_qsl, unquote, urlsplit, urlunsplit

from ppdw.aws import objects, streams
from ppdw.aws.errors import AWS_ERRORS
from ppdw.errors import DataQualityError, PpdwError
from ppdw.runtime.redact import redact_text, redact_url

log = logging.getLogger(__name__)

MAX_ATTEMPTS = 5
BACKOFF_BASE_SECONDS = 1.0
MAX_RETRY_AFTER_SECONDS = 60.0
TIMEOUT_SECONDS = 60.0
CHUNK = 1024 * 1024
USER_AGENT = "ppdw-fetch/0.1"
RESERVED_NAMES = ("_manifest.json",)

Opener = Callable[..., Any]
Progress = Callable[[int, int | None], None]


class FetchError(PpdwError):
    """The source could not be downloaded."""


class _Retryable(Exception):
    def __init__(self, message: str, retry_after: float | None = None) -> None:
        super().__init__(message)
        self.retry_after = retry_after


@dataclass(frozen=True)
class Downloaded:
    name: str
    key: str
    bytes: int
    sha256: str
    etag: str | None = None
    last_modified: str | None = None


@dataclass(frozen=True)
class _Opened:
    stream: Any
    name: str
    total: int | None
    etag: str | None = None
    last_modified: str | None = None


def is_url(source: str) -> bool:
    return bool(re.match(r"^(https?|s3)://", source, re.IGNORECASE))


def safe_file_name(candidate: str | None) -> str | None:
    """A name usable as the last part of an S3 key, or None."""
    if not candidate:
        return None
    name = re.split(r"[/\\]", candidate.strip())[-1].strip()
    name = re.sub(r"[^A-Za-z0-9._() -]", "_", name)
    if not name or name in (".", "..") or name in RESERVED_NAMES:
        return None
    return name


def http_file_name(final_url: str, content_disposition: str | None) -> str:
    """Content-Disposition, else the URL's last path part (or its `url=` parameter)."""
    if content_disposition:
        message = email.message.Message()
        message["content-disposition"] = content_disposition
        name = safe_file_name(message.get_filename())
        if name:
            return name
    parts = urlsplit(final_url)
    from_path = safe_file_name(unquote(parts.path))
    if from_path and "." in from_path:
        return from_path
    # https://uts-ws.nlm.nih.gov/download?url=<file url>&apiKey=...
    inner = dict(parse_qsl(parts.query)).get("url")
    if inner:
        name = safe_file_name(unquote(urlsplit(inner).path))
        if name:
            return name
    return from_path or "download"


def download_to_s3(
    source: str,
    s3: Any,
    bucket: str,
    prefix: str,
    *,
    secrets: tuple[str, ...] = (),
    opener: Opener | None = None,
    sleep: Callable[[float], None],
    progress: Progress | None = None,
    store: bool = True,
) -> Downloaded:
    """Download `source` to `prefix + its file name`; retried when transient.

    `store=False` only hashes the source (nothing is written): a retry of a run whose raw
    is complete checks its source against what raw holds (raw is immutable).
    """
    shown = redact_text(source, secrets)
    for attempt in range(1, MAX_ATTEMPTS + 1):
        try:
            return _attempt(source, s3, bucket, prefix, opener, progress, store)
        except _Retryable as error:
            reason = redact_text(str(error), secrets)
            if attempt == MAX_ATTEMPTS:
                raise FetchError(
                    f"download of {shown} failed after {attempt} attempts: {reason}",
                    "the source may be down; run again later",
                ) from None
            delay = BACKOFF_BASE_SECONDS * 2 ** (attempt - 1)
            if error.retry_after is not None:
                delay = max(delay, min(error.retry_after, MAX_RETRY_AFTER_SECONDS))
            log.warning(
                "attempt %d of %s failed (%s); retrying in %.0fs", attempt, shown, reason, delay
            )
            sleep(delay)
        except FetchError as error:
            message = redact_text(f"download of {shown} failed: {error.message}", secrets)
            raise FetchError(message, error.hint) from None
    raise AssertionError("unreachable")  # pragma: no cover


def _attempt(
    source: str,
    s3: Any,
    bucket: str,
    prefix: str,
    opener: Opener | None,
    progress: Progress | None,
    store: bool = True,
) -> Downloaded:
    with _open(source, s3, opener) as opened:
        key = prefix + opened.name
        sink = streams.MultipartWriter(s3, bucket, key) if store else _HashOnly()
        with sink as writer:
            for chunk in _chunks(opened.stream):
                writer.write(chunk)
                if progress is not None:
                    progress(writer.bytes_written, opened.total)
            if opened.total is not None and writer.bytes_written != opened.total:
                raise _Retryable(
                    f"connection closed after {writer.bytes_written} of {opened.total} bytes"
                )
    return Downloaded(
        opened.name, key, writer.bytes_written, writer.sha256, opened.etag, opened.last_modified
    )


class _HashOnly:
    """The `MultipartWriter` interface without the upload: sha256 and size only."""

    def __init__(self) -> None:
        self._hash = hashlib.sha256()
        self.bytes_written = 0

    def __enter__(self) -> _HashOnly:
        return self

    def __exit__(self, *_: object) -> None:
        return None

    def write(self, chunk: bytes) -> None:
        self._hash.update(chunk)
        self.bytes_written += len(chunk)

    @property
    def sha256(self) -> str:
        return self._hash.hexdigest()


def _chunks(stream: Any) -> Iterator[bytes]:
    try:
        yield from streams.iter_chunks(stream, CHUNK)
    except (TimeoutError, ConnectionError, http.client.HTTPException, urllib.error.URLError) as e:
        raise _Retryable(f"reading the body failed: {type(e).__name__}: {e}") from None
    except AWS_ERRORS as error:
        raise _Retryable(f"reading from S3 failed: {error}") from None
    except OSError as error:
        raise _Retryable(f"reading the body failed: {type(error).__name__}: {error}") from None


@contextmanager
def _open(source: str, s3: Any, opener: Opener | None) -> Iterator[_Opened]:
    scheme = urlsplit(source).scheme.lower() if "://" in source else ""
    if scheme in ("http", "https"):
        with _open_http(source, opener or urllib.request.urlopen) as opened:
            yield opened
    elif scheme == "s3":
        yield _open_s3(source, s3)
    else:
        with _open_local(source) as opened:
            yield opened


def local_path(source: str) -> Path:
    if source.lower().startswith("file://"):
        return Path(urllib.request.url2pathname(urlsplit(source).path))
    return Path(source).expanduser()


@contextmanager
def _open_local(source: str) -> Iterator[_Opened]:
    path = local_path(source)
    if not path.is_file():
        raise DataQualityError(
            "source_missing",
            f"source file {path} does not exist or is not a file",
            "check --source or source.url in the dataset's config/dataset.json",
        )
    name = safe_file_name(path.name) or "download"
    with path.open("rb") as stream:
        yield _Opened(stream, name, os.fstat(stream.fileno()).st_size)


def _open_s3(source: str, s3: Any) -> _Opened:
    parts = urlsplit(source)
    bucket, key = parts.netloc, parts.path.lstrip("/")
    try:
        opened = objects.open_object(s3, bucket, key)
    except objects.ObjectReadError as error:
        code = error.code
        if code in ("NoSuchKey", "404", "NoSuchBucket", "403", "AccessDenied"):
            raise DataQualityError(
                "source_missing", f"source s3://{bucket}/{key} cannot be read ({code})"
            ) from None
        # No code: no answer at all; the message then is the transport's own.
        raise _Retryable(f"S3 GetObject failed: {code or error.__cause__}") from None
    return _Opened(
        opened.body,
        safe_file_name(key) or "download",
        opened.size,
        opened.etag,
        _http_date(opened.last_modified),
    )


def _http_date(value: Any) -> str | None:
    if value is None:
        return None
    return format_datetime(value.astimezone(UTC), usegmt=True)


def _request(url: str) -> urllib.request.Request:
    """A request for `url`; userinfo (`https://user:pw@host`) becomes Basic auth."""
    parts = urlsplit(url)
    headers = {"User-Agent": USER_AGENT, "Accept-Encoding": "identity"}
    if "@" in parts.netloc:
        userinfo, host = parts.netloc.rsplit("@", 1)
        token = base64.b64encode(unquote(userinfo).encode()).decode()
        headers["Authorization"] = f"Basic {token}"
        url = urlunsplit(parts._replace(netloc=host))
    return urllib.request.Request(url, headers=headers)


@contextmanager
def _open_http(url: str, opener: Opener) -> Iterator[_Opened]:
    try:
        response = opener(_request(url), timeout=TIMEOUT_SECONDS)
    except urllib.error.HTTPError as error:
        raise _http_error(error.code, error.reason, error.headers) from None
    except (TimeoutError, ConnectionError, http.client.HTTPException) as error:
        raise _Retryable(f"{type(error).__name__}: {error}") from None
    except urllib.error.URLError as error:
        if _unknown_host(error.reason):
            raise FetchError(
                f"cannot resolve the host {urlsplit(url).hostname!r} ({error.reason})",
                "check the host name in the source URL (and this machine's DNS)",
            ) from None
        raise _Retryable(f"connection failed: {error.reason}") from None
    except ValueError as error:
        raise FetchError(f"invalid source URL ({type(error).__name__})") from None
    with response:
        headers = response.headers
        length = headers.get("Content-Length")
        encoded = headers.get("Content-Encoding", "identity") != "identity"
        yield _Opened(
            response,
            http_file_name(response.geturl(), headers.get("Content-Disposition")),
            int(length) if length and length.isdigit() and not encoded else None,
            headers.get("ETag"),
            headers.get("Last-Modified"),
        )


def _unknown_host(reason: object) -> bool:
    """DNS answered that the name does not exist: no retry will change that. A temporary
    resolver failure (EAI_AGAIN) is retried like any connection failure."""
    return isinstance(reason, socket.gaierror) and reason.errno != socket.EAI_AGAIN


def _http_error(code: int, reason: Any, headers: Any) -> Exception:
    if code == 429 or code >= 500:
        return _Retryable(f"HTTP {code} {reason}", _retry_after(headers))
    hint = "check the URL" if code == 404 else "check the source and its credentials"
    return FetchError(f"HTTP {code} {reason} from the source", hint)


def _retry_after(headers: Any) -> float | None:
    value = headers.get("Retry-After") if headers is not None else None
    return float(value) if value and value.strip().isdigit() else None


def describe(source: str) -> str:
    """How a source is shown anywhere: credentials and secret parameters removed."""
    return redact_url(source) if "://" in source else source
