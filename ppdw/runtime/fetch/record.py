"""The fetch step with its run record: started, fetch step recorded, finished if
unchanged or failed.

Rule: standard library and the runtime's fetch modules, `manifest`, `download`, `redact`
only (the fetch Lambda imports it). What the Lambda does, and what an in-process runner
calls. Secrets are redacted from the recorded error.
"""

from __future__ import annotations

import functools
import time
from collections.abc import Callable
from datetime import datetime
from typing import Any

from ppdw.errors import LeaseLostError
from ppdw.runtime import download, manifest
from ppdw.runtime.fetch.config import FetchConfig
from ppdw.runtime.fetch.core import FetchResult, fetch, guard_raw
from ppdw.runtime.redact import redact_text


def run_fetch_step(
    client: Callable[[str], Any],
    config: FetchConfig,
    *,
    run_id: str,
    run_time: datetime,
    source: str | None = None,
    force: bool = False,
    progress: Callable[[int, int | None], None] | None = None,
    extract_progress: Callable[[int, int | None], None] | None = None,
    sleep: Callable[[float], None] = time.sleep,
    fence: Callable[[], None] = lambda: None,
) -> FetchResult:
    """`fetch` plus the run record: started, fetch step recorded, finished if unchanged
    or failed. What the Lambda does, and what an in-process runner calls.

    `client(service)` returns a boto3 client (e.g. `AwsSession.client`); `fence` is the
    lease's check, called before the fetch is committed. A run that lost its lease
    records nothing: the record belongs to the run holding the lease now.
    """
    s3, names = client("s3"), config.names
    shown = download.describe(source or config.source_url)
    step = functools.partial(
        fetch,
        s3,
        config,
        run_id=run_id,
        run_time=run_time,
        source=source,
        force=force,
        secrets=client("secretsmanager") if config.auth_kind == "secretsmanager" else None,
        ssm=client("ssm") if config.auth_kind == "ssm" else None,
        progress=progress,
        extract_progress=extract_progress,
        sleep=sleep,
        fence=fence,
    )
    if guard_raw(s3, config, run_id) is not None:
        # Resuming with complete raw: the source is checked before the run record is
        # touched, so a refused retry leaves raw, bronze and silver (records too) as they were.
        started = manifest.format_time(manifest.utc_now())
        result = step()
        manifest.start_run(s3, config.bucket, names, run_id, run_time, source=shown)
        _record_success(s3, config, result, started)
        return result
    manifest.start_run(s3, config.bucket, names, run_id, run_time, source=shown)
    started = manifest.format_time(manifest.utc_now())
    try:
        result = step()
    except LeaseLostError:
        raise
    except Exception as error:
        _record_failure(s3, config, run_id, started, error)
        raise
    _record_success(s3, config, result, started)
    return result


def _record_failure(
    s3: Any, config: FetchConfig, run_id: str, started: str, error: Exception
) -> None:
    message = redact_text(str(error))
    step = {"status": "failed", "started_at": started, "error": message}
    step["finished_at"] = manifest.format_time(manifest.utc_now())
    manifest.update_step(s3, config.bucket, config.names, run_id, "fetch", step)
    manifest.finish_run(
        s3, config.bucket, config.names, run_id, "failed", error=f"fetch: {message}"
    )


def _record_success(s3: Any, config: FetchConfig, result: FetchResult, started: str) -> None:
    doc = result.manifest
    step = {
        "status": result.status,
        "started_at": started,
        "finished_at": manifest.format_time(manifest.utc_now()),
        **{k: doc.get(k) for k in ("source", "file", "bytes", "sha256", "etag", "last_modified")},
        "members": doc.get("members", []),
    }
    if result.status == "unchanged":
        step["unchanged_since"] = doc.get("unchanged_since")
        step["unchanged_by"] = doc.get("unchanged_by")
    manifest.update_step(s3, config.bucket, config.names, result.run_id, "fetch", step)
    if result.status == "unchanged":
        manifest.finish_run(s3, config.bucket, config.names, result.run_id, "unchanged")
