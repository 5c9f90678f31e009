"""The fetch Lambda's handler: take the dataset's lease, fetch unless applied, answer.

Rule: standard library, boto3 through `ppdw.aws.objects`, `ppdw.contracts.lambda_env`,
`ppdw.naming`, `ppdw.errors` and the runtime's fetch modules, `lease`, `holders`,
`manifest`, `download` only: this is the fetch Lambda's entry point (a dataset's
`lambdas/fetch/app.py` calls `lambda_handler`).

The Lambda takes the dataset's lease for its execution (`ppdw.runtime.lease`) before
anything else and keeps it for the execution's Glue jobs; it releases it when the run
ends here (unchanged, failed). A run already applied is not fetched again: the handler
answers `applied` and writes nothing.
"""

from __future__ import annotations

import functools
import json
import logging
import os
from collections.abc import Callable
from typing import Any

from ppdw.aws import objects
from ppdw.contracts.lambda_env import LambdaEnv
from ppdw.errors import ConfigError, UsageError
from ppdw.naming import is_valid_run_id
from ppdw.runtime import download, holders, manifest
from ppdw.runtime.fetch.config import FetchConfig, config_from_env, find_dataset_json
from ppdw.runtime.fetch.core import FetchResult
from ppdw.runtime.fetch.record import run_fetch_step
from ppdw.runtime.lease import EXECUTION_LEASE_SECONDS, Lease, acquire, release_after

log = logging.getLogger(__package__)  # one logger for the whole Lambda: ppdw.runtime.fetch


def _truthy(value: Any) -> bool:
    return value is True or str(value).strip().lower() in ("true", "1", "yes")


def lambda_handler(
    event: dict[str, Any],
    context: Any,
    *,
    session: Any | None = None,
    app_file: str | None = None,
) -> dict[str, Any]:
    """The fetch Lambda: run the fetch step and keep the run record.

    `session` (anything with `.client(service)`) lets an in-process runner pass its
    target's clients; in Lambda, boto3's default chain is used. `app_file` is the calling
    `app.py` (its `__file__`): dataset.json is looked for beside it and in its dataset's
    `config/` when neither PPDW_DATASET_CONFIG nor LAMBDA_TASK_ROOT names one.
    """
    data = json.loads(find_dataset_json(app_file).read_text(encoding="utf-8"))
    config = config_from_env(data, LambdaEnv.from_env(os.environ))
    client = session.client if session is not None else _lambda_clients()
    force = _truthy(event.get("force", False))
    source = event.get("source") or None
    run_id = str(event["run_id"])
    if not is_valid_run_id(run_id):
        raise UsageError(f"invalid run id {run_id!r}")
    s3, names = client("s3"), config.names
    lease = acquire(
        s3,
        config.bucket,
        names,
        holders.execution(run_id, names.state_machine),
        seconds=EXECUTION_LEASE_SECONDS,
        executions=holders.execution_status_from_sts(client),
        say=log.info,
    )
    try:
        with lease.heartbeat():
            result = _fetch_unless_applied(client, config, event, run_id, source, force, lease)
    except BaseException:
        release_after(lease, failed=True)
        raise
    if result is None or result.status != "unchanged":
        lease.leave()  # the execution's Glue jobs take it up
    else:
        lease.release()  # the execution ends here
    return {
        "status": "applied" if result is None else result.status,
        "run_id": run_id,
        "run_time": manifest.format_time(manifest.parse_time(str(event["run_time"]))),
        "force": "true" if force else "false",
        "source": download.describe(source or config.source_url),
        "members": [] if result is None else result.members,
        "bytes": 0 if result is None else result.manifest["bytes"],
    }


def _fetch_unless_applied(
    client: Callable[[str], Any],
    config: FetchConfig,
    event: dict[str, Any],
    run_id: str,
    source: str | None,
    force: bool,
    lease: Lease,
) -> FetchResult | None:
    """The fetch step, or None (nothing written) when the run was applied already."""
    if manifest.is_applied(manifest.read_run(client("s3"), config.bucket, config.names, run_id)):
        log.info("run %s of %s was applied already: nothing to do", run_id, config.dataset)
        return None
    return run_fetch_step(
        client,
        config,
        run_id=run_id,
        run_time=manifest.parse_time(str(event["run_time"])),
        source=source,
        force=force,
        fence=lease.check,
    )


def _lambda_clients() -> Callable[[str], Any]:
    """Clients in the Lambda's own region: Lambda sets AWS_REGION in every function."""
    region = os.environ.get("AWS_REGION")
    if not region:
        raise ConfigError(
            "environment variable AWS_REGION is not set",
            "the Lambda runtime sets it; elsewhere set it to the warehouse's region",
        )
    return functools.partial(objects.make_client, region=region)
