"""The Store the Spark tasks of a job use, for the S3 the job's own clients talk to.

Rule: tasks run in other processes (Spark's Python workers), so they cannot share the
job's in-process clients. On Glue they build their own from the default chain (the job's
role). Against an endpoint (`ppdw local serve`, or any `AWS_ENDPOINT_URL`) they use that
endpoint. On the embedded `local` target, where the emulator (moto) lives inside this
process and has no address, the job serves it on a loopback port for as long as it runs:
the tasks' requests then reach the very same buckets the job's clients see.
"""

from __future__ import annotations

import sys
from collections.abc import Iterator
from contextlib import contextmanager
from typing import Any

from ppdw.runtime.spark.store import S3Store

_AWS_HOSTS = ("amazonaws.com", "amazonaws.com.cn")


def emulator_in_process() -> bool:
    """moto is active in this process (the embedded `local` target, or tests)."""
    models = sys.modules.get("moto.core.models")
    stubber = getattr(models, "botocore_stubber", None)
    return bool(getattr(stubber, "enabled", False))


def _credentials(session: Any) -> tuple[str | None, str | None]:
    found = session.get_credentials() if session is not None else None
    if found is None:
        return None, None
    frozen = found.get_frozen_credentials()
    return frozen.access_key, frozen.secret_key


@contextmanager
def task_store(bucket: str, s3: Any, session: Any) -> Iterator[S3Store]:
    """A store for `bucket` reachable from the tasks (see module docstring)."""
    region = s3.meta.region_name
    endpoint = str(s3.meta.endpoint_url or "")
    access, secret = _credentials(session)
    if emulator_in_process():
        import logging

        from moto.server import ThreadedMotoServer

        logging.getLogger("werkzeug").setLevel(logging.WARNING)  # no line per request
        server = ThreadedMotoServer(ip_address="127.0.0.1", port=0, verbose=False)
        server.start()
        try:
            host, port = server.get_host_and_port()
            yield S3Store(bucket, region, f"http://{host}:{port}", access, secret)
        finally:
            server.stop()
        return
    if endpoint and not any(endpoint.rstrip("/").endswith(h) for h in _AWS_HOSTS):
        yield S3Store(bucket, region, endpoint, access, secret)
        return
    yield S3Store(bucket, region)  # Glue: the default chain and AWS's own endpoint
