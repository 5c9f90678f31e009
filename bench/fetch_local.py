"""ppdw's fetch step on a large local file, into S3 served by a moto server.

Rule: the fetch Lambda's own entry (`ppdw.runtime.fetch.fetch`) with a real boto3 client
(`ppdw.aws.session`) pointed at the server's endpoint, so every byte crosses HTTP as it
would to S3, and the process measured holds only what fetch itself holds.
"""

from __future__ import annotations

import resource
import time
from datetime import datetime
from pathlib import Path
from typing import Any

BUCKET = "pp-dw-123456789012"


def fetch_file(params: dict[str, Any]) -> dict[str, Any]:
    from ppdw.aws.session import make_session
    from ppdw.runtime.fetch import FetchConfig, fetch

    s3 = make_session(region="us-east-1", endpoint_url=params["endpoint"]).client("s3")
    source = Path(params["source"])
    config = FetchConfig(
        dataset="nsde",
        bucket=params.get("bucket", BUCKET),
        prefix="pp-dw",
        source_url=source.as_uri(),
        compression="none",
        members=(),
    )
    cpu_start = _cpu_seconds()
    start = time.perf_counter()
    result = fetch(
        s3,
        config,
        run_id=params["run_id"],
        run_time=datetime.fromisoformat(params["run_time"]),
        source=str(source),
    )
    seconds = time.perf_counter() - start
    cpu = _cpu_seconds() - cpu_start
    size = int(result.manifest.get("bytes") or source.stat().st_size)
    # CPU seconds of this process: what fetch itself costs; the rest of the wall time is
    # waiting for the endpoint (here moto, much slower than S3).
    return {"status": result.status, "bytes": size, "seconds": seconds, "cpu_seconds": cpu}


def _cpu_seconds() -> float:
    usage = resource.getrusage(resource.RUSAGE_SELF)
    return float(usage.ru_utime + usage.ru_stime)
