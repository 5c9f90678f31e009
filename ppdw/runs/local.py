"""The local runner: fetch, bronze and silver in this process, against the target's S3/Glue.

Rule: it runs exactly what the cloud runs: the fetch handler's code with the FetchConfig
the Lambda builds, and the Glue jobs' entry points with the argument list the Glue job
would get (the deployed job's DefaultArguments plus the run's arguments).

One run of a dataset at a time, on every target: the runner holds the dataset's lease
(`ppdw.runtime.lease`) as this process for the whole run, renews it from a heartbeat
thread, and hands it to the fetch step and the jobs, which check it before each commit.
A run already applied changes nothing and writes nothing (data.md, silver rule 6).
"""

from __future__ import annotations

import json
import time
from collections.abc import Callable
from dataclasses import dataclass
from datetime import datetime
from pathlib import Path
from typing import Any, Final, Literal

from ppdw.aws.glue import Glue
from ppdw.aws.objects import bucket_state
from ppdw.config.loader import Project
from ppdw.contracts.job_args import flag, run_arguments, to_argv
from ppdw.contracts.lambda_env import LambdaEnv
from ppdw.contracts.run_record import CHANGE_TYPES, RunRecord
from ppdw.deploy.glue_specs import job_defaults
from ppdw.deploy.resources import StackContext
from ppdw.errors import PpdwError, UsageError
from ppdw.runs.progress import RunProgress
from ppdw.runtime import holders, lease, manifest
from ppdw.runtime.lease import Lease, release_after
from ppdw.targets import TargetContext

FromStep = Literal["raw", "bronze", "silver"]
Layer = Literal["bronze", "silver"]


@dataclass(frozen=True)
class RunRequest:
    dataset: str
    run_id: str
    run_time: datetime
    source: str | None = None
    from_step: FromStep = "raw"
    force: bool = False
    engine: str | None = None  # arrow | spark: overrides the deployed job's --engine


#: Key of the record `run_local` returns when the run was applied already (not stored).
ALREADY_APPLIED: Final = "already_applied"


def take_lease(
    target: TargetContext, project: Project, run_id: str, dataset: str, say: Callable[[str], None]
) -> Lease:
    """The dataset's lease for this process; an execution holding it is judged alive or
    dead by asking Step Functions with the target's credentials."""
    names = project.warehouse.names.dataset(dataset)
    executions = holders.execution_status(
        target.aws.client("stepfunctions"),
        partition=holders.partition_of(target.region),
        region=target.region,
        account=target.account_id,
    )
    return lease.acquire(
        target.aws.client("s3"),
        project.warehouse.names.bucket(target.account_id),
        names,
        holders.this_process(run_id),
        seconds=lease.PROCESS_LEASE_SECONDS,
        executions=executions,
        say=say,
    )


def job_argv(
    target: TargetContext, project: Project, request: RunRequest, layer: Layer
) -> list[str]:
    """The argument list the Glue job would receive: DefaultArguments + run arguments."""
    script = f"{layer}_job.py"
    names = project.warehouse.names.dataset(request.dataset)
    arguments = deployed_job_arguments(target, names.job(layer))
    if arguments is None:  # not deployed: the arguments deploy would give the job
        dataset = project.dataset(request.dataset)
        stack = StackContext(project.warehouse, dataset, target.account_id, target.region)
        defaults = job_defaults(stack)
        run = defaults.for_run(request.run_id, request.run_time, request.force, request.engine)
        return run.to_argv(script)
    arguments.update(run_arguments(request.run_id, request.run_time, request.force))
    if request.engine is not None:
        arguments[flag("engine")] = request.engine
    return to_argv(script, arguments)


def deployed_job_arguments(target: TargetContext, job_name: str) -> dict[str, str] | None:
    job = Glue(target.aws, target.account_id, target.region).job(job_name)
    if job is None:
        return None
    return {str(k): str(v) for k, v in (job.get("DefaultArguments") or {}).items()}


def dataset_json(project: Project, dataset: str) -> dict[str, Any]:
    path = project.dataset_dir(dataset) / "config" / "dataset.json"
    document = json.loads(path.read_text(encoding="utf-8"))
    if not isinstance(document, dict):
        raise PpdwError(f"{path}: not a JSON object")
    return document


def default_source(project: Project, dataset: str) -> str:
    """The dataset's first bundled sample (the `local` target's default source)."""
    samples = project.dataset(dataset).source.samples
    if not samples:
        raise UsageError(
            f"{dataset} has no bundled sample and no --source was given",
            "pass --source URL|PATH",
        )
    return str((project.dataset_dir(dataset) / samples[0]).resolve())


def resolve_source(
    source: str | None, project: Project, target: TargetContext, dataset: str
) -> str | None:
    """`--source`: a URL as given, a local path made absolute (and required to exist)."""
    if source is None:
        return default_source(project, dataset) if target.kind == "local" else None
    if "://" in source:
        return source
    path = Path(source).expanduser().resolve()
    if not path.is_file():
        raise UsageError(f"--source {source}: no such file", "give a URL or an existing file")
    return str(path)


def fetch_config(target: TargetContext, project: Project, dataset: str) -> Any:
    """The FetchConfig the deployed Lambda builds: dataset.json under the environment
    deploy gives the function."""
    from ppdw.runtime.fetch import config_from_env

    warehouse = project.warehouse
    env = LambdaEnv(
        bucket=warehouse.names.bucket(target.account_id),
        prefix=warehouse.prefix,
        dataset=project.dataset(dataset).name,
        max_uncompressed_bytes=warehouse.max_uncompressed_bytes,
        max_compression_ratio=warehouse.max_compression_ratio,
    )
    return config_from_env(dataset_json(project, dataset), env)


def _run_fetch(
    target: TargetContext,
    project: Project,
    request: RunRequest,
    held: Lease,
    progress: RunProgress | None = None,
) -> str:
    """Fetch into raw with the Lambda's own step code; returns "fetched" or "unchanged"."""
    from ppdw.runtime.fetch import run_fetch_step

    result = run_fetch_step(
        target.aws.client,
        fetch_config(target, project, request.dataset),
        run_id=request.run_id,
        run_time=request.run_time,
        source=request.source,
        force=request.force,
        progress=None if progress is None else progress.transfer("fetch", "downloaded"),
        extract_progress=None if progress is None else progress.transfer("fetch", "extracted"),
        fence=held.check,
    )
    return str(result.status)


def check_resumable(target: TargetContext, project: Project, request: RunRequest) -> datetime:
    """`--from bronze|silver`: the named run must exist; returns its recorded run time."""
    names = project.warehouse.names.dataset(request.dataset)
    bucket = project.warehouse.names.bucket(target.account_id)
    s3 = target.aws.client("s3")
    record = manifest.read_run(s3, bucket, names, request.run_id)
    if record is None or not record.get("run_time"):
        raise UsageError(
            f"--from {request.from_step}: run {request.run_id} of {request.dataset} not found",
            "name an existing run with --run-id (see `ppdw status`)",
        )
    if manifest.read_raw_manifest(s3, bucket, names, request.run_id) is None:
        raise UsageError(f"--from {request.from_step}: run {request.run_id} has no raw data")
    bronze = (record.get("steps") or {}).get("bronze") or {}
    if request.from_step == "silver" and bronze.get("status") != "succeeded":
        raise UsageError(
            f"--from silver: run {request.run_id} has no successful bronze step",
            f"use --from bronze --run-id {request.run_id}",
        )
    return manifest.parse_time(str(record["run_time"]))


def run_local(
    target: TargetContext,
    project: Project,
    request: RunRequest,
    progress: RunProgress,
    *,
    sleep: Callable[[float], None] = time.sleep,
) -> RunRecord:
    """Run the pipeline in this process; returns the final run record."""
    bucket = project.warehouse.names.bucket(target.account_id)
    _require_bucket(target.aws.client("s3"), bucket)
    held = take_lease(target, project, request.run_id, request.dataset, progress.note)
    try:
        with held.heartbeat():
            record = _run_steps(target, project, request, progress, sleep, held)
    except BaseException:
        release_after(held, failed=True)
        raise
    release_after(held, failed=False)
    return record


def _run_steps(
    target: TargetContext,
    project: Project,
    request: RunRequest,
    progress: RunProgress,
    sleep: Callable[[float], None],
    held: Lease,
) -> RunRecord:
    names = project.warehouse.names.dataset(request.dataset)
    bucket = project.warehouse.names.bucket(target.account_id)
    s3 = target.aws.client("s3")
    record = manifest.read_run(s3, bucket, names, request.run_id)
    # A layer of an applied run changes nothing (silver rule 6); a fetch under its run id
    # is refused by the fetch itself (raw is immutable), naming the way out.
    if record is not None and manifest.is_applied(record) and request.from_step != "raw":
        for step in manifest.STEPS:
            progress.set(step, "skipped")
        return {**record, ALREADY_APPLIED: True}
    if request.from_step == "raw":
        progress.start("fetch")
        try:
            status = _run_fetch(target, project, request, held, progress)
        except BaseException as exc:
            progress.stopped("fetch", exc)
            raise
        progress.set("fetch", "unchanged" if status == "unchanged" else "succeeded")
        if status == "unchanged":
            progress.set("bronze", "skipped")
            progress.set("silver", "skipped")
            return manifest.read_run(s3, bucket, names, request.run_id) or {}
    else:
        progress.set("fetch", "skipped")
        manifest.start_run(s3, bucket, names, request.run_id, request.run_time)
    if request.from_step != "silver":
        _layer(target, project, request, "bronze", progress, sleep, held)
    else:
        progress.set("bronze", "skipped")
    _layer(target, project, request, "silver", progress, sleep, held)
    return manifest.read_run(s3, bucket, names, request.run_id) or {}


def _layer(
    target: TargetContext,
    project: Project,
    request: RunRequest,
    layer: Layer,
    progress: RunProgress,
    sleep: Callable[[float], None],
    held: Lease,
) -> dict[str, Any]:
    # The jobs (and the Arrow engine) are imported by a run that reaches them, not by one
    # that stops after the fetch (an unchanged source).
    from ppdw.runtime.jobs import run_bronze_job, run_silver_job

    argv = job_argv(target, project, request, layer)
    job = run_bronze_job if layer == "bronze" else run_silver_job
    progress.start(layer)
    try:
        stats = job(argv, aws=target.aws, sleep=sleep, lease=held)
    except BaseException as exc:
        progress.stopped(layer, exc)
        raise
    progress.done(layer, summarize(layer, stats))
    return stats


def summarize(layer: str, stats: dict[str, Any]) -> str:
    engine = f" [{stats['engine']} engine]" if stats.get("engine") else ""
    if layer == "bronze":
        return f"{stats.get('rows', 0)} rows -> partition {stats.get('partition', '')}{engine}"
    counts = stats.get("changes") or {}
    changes = " ".join(f"{k} {counts.get(k, 0)}" for k in CHANGE_TYPES)
    return (
        f"{changes}, unchanged {counts.get('unchanged', 0)}"
        + (" (already applied)" if stats.get("noop") else "")
        + engine
    )


def _require_bucket(s3: Any, bucket: str) -> None:
    if bucket_state(s3, bucket) != "exists":
        raise PpdwError(
            f"bucket {bucket} not found or not accessible",
            "create the core first: ppdw bootstrap-core (then ppdw deploy DATASET)",
        )


def prepare_local_target(
    target: TargetContext, project: Project, dataset: str, *, say: Callable[[str], None]
) -> bool:
    """On `local` only: deploy what the run needs and is missing, and say so; True when it
    deployed (the stack is then exactly the config's).

    Uses the deploy executor when the dataset stack is missing; never acts on AWS targets.
    """
    if target.kind != "local":
        return False
    from ppdw.runs.status import is_deployed

    names = project.warehouse.names.dataset(dataset)
    s3 = target.aws.client("s3")
    bucket = project.warehouse.names.bucket(target.account_id)
    if bucket_state(s3, bucket) == "exists" and is_deployed(target, names):
        return False
    from ppdw.deploy.service import ControlPlane

    say(f"Deploying what {dataset} needs on the local target first:")
    plane = ControlPlane(project, target)
    plane.apply(plane.plan_core(), lambda action: say(f"  {action.message}"))
    plane.apply(plane.plan_datasets([dataset]), lambda action: say(f"  {action.message}"))
    return True
