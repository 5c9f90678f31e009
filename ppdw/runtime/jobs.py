"""The bronze and silver Glue jobs: arguments in, one layer written, run record updated.

Rule: the same functions run inside Glue (called by `fda/{dataset}/glue/*_job.py` with
`sys.argv`) and in-process on the local runner (with an injected `AwsSession`). A job
reads everything it needs from its arguments and S3 (the dataset config is the copy
uploaded at deploy time), writes its layer, and records its step in the run record; on
failure the step and the run are recorded as failed and the error is re-raised.

The dataset's lease (`ppdw.runtime.lease`): the local runner holds it for the whole run
and passes it in; in Glue the job takes it as its execution's (re-entering the lease the
fetch Lambda took), renews it while it works, leaves it for the next step after bronze,
and releases it after silver or a failure. A run already applied is a no-op that writes
nothing, not even its record (data.md, silver rule 6).
"""

from __future__ import annotations

import logging
import time
from collections.abc import Callable, Iterator, Sequence
from contextlib import contextmanager
from typing import Any

from pydantic import ValidationError

from ppdw.aws import objects
from ppdw.aws.session import AwsSession, make_session
from ppdw.config.loader import format_validation_error
from ppdw.config.models import Dataset
from ppdw.contracts.job_args import JobArgs
from ppdw.errors import ConfigError, DataQualityError, LeaseLostError, PpdwError
from ppdw.naming import CoreNames
from ppdw.runtime import holders, manifest
from ppdw.runtime.catalog import Sleep
from ppdw.runtime.context import JobContext
from ppdw.runtime.layers import write_bronze, write_silver
from ppdw.runtime.lease import EXECUTION_LEASE_SECONDS, Lease, acquire, release_after
from ppdw.runtime.memory import use_jemalloc
from ppdw.runtime.spark import job as spark_job
from ppdw.runtime.spark.choice import choose, raw_bytes

log = logging.getLogger(__name__)


def load_dataset_config(s3: Any, bucket: str, key: str, expected: str) -> Dataset:
    document = objects.get_json(s3, bucket, key)
    if document is None:
        raise ConfigError(
            f"dataset config s3://{bucket}/{key} not found",
            f"deploy the dataset first: ppdw deploy {expected}",
        )
    try:
        dataset = Dataset.model_validate(document)
    except ValidationError as exc:
        raise ConfigError(format_validation_error(f"s3://{bucket}/{key}", exc)) from exc
    if dataset.name != expected:
        raise ConfigError(f"s3://{bucket}/{key}: name {dataset.name!r} is not {expected!r}")
    return dataset


def build_context(
    argv: Sequence[str],
    *,
    aws: AwsSession | None = None,
    sleep: Sleep = time.sleep,
    clock: Callable[[], float] = time.monotonic,
) -> JobContext:
    args = JobArgs.from_argv(argv)
    use_jemalloc()
    if aws is None and args.region is None:
        # Inside Glue nothing else says the region reliably; a guess would point the
        # job's Glue calls at another region's (empty) catalog.
        raise ConfigError(
            "job argument missing: --aws_region",
            f"deploy the dataset again (DefaultArguments): ppdw deploy {args.dataset}",
        )
    session = aws or make_session(region=args.region)
    s3 = session.client("s3")
    dataset = load_dataset_config(s3, args.bucket, args.config_key, args.dataset)
    names = CoreNames(prefix=args.prefix).dataset(args.dataset)
    context = JobContext(args, dataset, names, s3, session.client("glue"), sleep, clock, session)
    context.engine = _engine(context)
    return context


def _engine(ctx: JobContext) -> str:
    """`--engine`, with `auto` decided by the raw snapshot's size (both layers agree)."""
    requested = ctx.args.engine
    size = 0
    if requested == "auto":
        size = raw_bytes(manifest.read_raw_manifest(ctx.s3, ctx.bucket, ctx.names, ctx.args.run_id))
    return choose(requested, size, ctx.args.spark_above_mb)


@contextmanager
def held_lease(ctx: JobContext, client: Callable[[str], Any], *, last_step: bool) -> Iterator[None]:
    """The job's hold on the dataset's lease; see the module docstring."""
    if ctx.lease is not None:  # the local runner's, held and released by the runner
        yield
        return
    lease = acquire(
        ctx.s3,
        ctx.bucket,
        ctx.names,
        holders.execution(ctx.args.run_id, ctx.names.state_machine),
        seconds=EXECUTION_LEASE_SECONDS,
        executions=holders.execution_status_from_sts(client),
        say=log.info,
    )
    ctx.lease = lease
    try:
        with lease.heartbeat():
            yield
    except BaseException:
        release_after(lease, failed=True)
        raise
    if last_step:
        lease.release()
    else:
        lease.leave()  # the execution's next step takes it up


@contextmanager
def recorded_step(ctx: JobContext, step: str) -> Iterator[dict[str, Any]]:
    """Record the step running, then succeeded with the stats put in the yielded dict,
    or failed (step and run) with the error before re-raising it.

    A silver step left `committing` by a killed attempt stays so until its commit is
    finished (a failure meanwhile records the error, not `failed`), so every retry
    knows the commit is pending. A run that lost its lease records nothing: the record
    belongs to the run holding the lease now."""
    s3, bucket, names, run_id = ctx.s3, ctx.bucket, ctx.names, ctx.args.run_id
    record = manifest.read_run(s3, bucket, names, run_id)
    if record is None:
        record = manifest.start_run(s3, bucket, names, run_id, ctx.args.run_time)
    data: dict[str, Any] = {"started_at": _now_text(), "error": None}
    if manifest.step_status(record, step) != manifest.COMMITTING:
        data["status"] = "running"
    manifest.update_step(s3, bucket, names, run_id, step, data)
    stats: dict[str, Any] = {}
    try:
        yield stats
    except LeaseLostError:
        raise
    except BaseException as exc:
        message = exc.message if isinstance(exc, PpdwError) else f"{type(exc).__name__}: {exc}"
        failed: dict[str, Any] = {"error": message, "finished_at": _now_text()}
        current = manifest.read_run(s3, bucket, names, run_id)
        if manifest.step_status(current, step) != manifest.COMMITTING:
            failed["status"] = "failed"
        manifest.update_step(s3, bucket, names, run_id, step, failed)
        manifest.finish_run(s3, bucket, names, run_id, "failed", f"{step}: {message}")
        raise
    done: dict[str, Any] = {"status": "succeeded", "finished_at": _now_text(), "stats": stats}
    manifest.update_step(s3, bucket, names, run_id, step, done)


def already_applied(ctx: JobContext, step: str) -> dict[str, Any] | None:
    """The recorded stats of `step` (marked `noop`) when the run was applied already."""
    record = manifest.read_run(ctx.s3, ctx.bucket, ctx.names, ctx.args.run_id)
    if not manifest.is_applied(record):
        return None
    assert record is not None
    recorded = ((record.get("steps") or {}).get(step) or {}).get("stats") or {}
    log.info("run %s of %s was applied already: nothing to do", ctx.args.run_id, ctx.dataset.name)
    return {**recorded, "noop": True}


def _now_text() -> str:
    return manifest.format_time(manifest.utc_now())


def run_bronze_job(
    argv: Sequence[str],
    *,
    aws: AwsSession | None = None,
    sleep: Sleep = time.sleep,
    lease: Lease | None = None,
) -> dict[str, Any]:
    """Raw members of the run -> one bronze partition + its Glue partition. Returns stats.

    `lease`: the local runner's; without it the job takes its execution's."""
    # The session comes from the job's arguments (`--aws_region`) unless one is given.
    ctx = build_context(argv, aws=aws, sleep=sleep)
    ctx.lease = lease
    with held_lease(ctx, ctx.aws.client, last_step=False):
        applied = already_applied(ctx, "bronze")
        if applied is not None:
            return applied
        with recorded_step(ctx, "bronze") as stats:
            on_spark = ctx.engine == "spark"
            stats.update(spark_job.write_bronze(ctx) if on_spark else write_bronze(ctx))
            stats["engine"] = ctx.engine
    return stats


def run_silver_job(
    argv: Sequence[str],
    *,
    aws: AwsSession | None = None,
    sleep: Sleep = time.sleep,
    hooks: dict[str, Callable[[], None]] | None = None,
    lease: Lease | None = None,
) -> dict[str, Any]:
    """Bronze partition of the run -> SCD2 merge -> rewritten silver partitions. Stats.

    `hooks` (tests only) are called at named points, e.g. "before_register". `lease`:
    the local runner's; without it the job takes its execution's.
    """
    # The session comes from the job's arguments (`--aws_region`) unless one is given.
    ctx = build_context(argv, aws=aws, sleep=sleep)
    ctx.lease = lease
    with held_lease(ctx, ctx.aws.client, last_step=True):
        applied = already_applied(ctx, "silver")
        if applied is not None:
            return applied
        with recorded_step(ctx, "silver") as stats:
            try:
                engine = spark_job.merge_and_commit if ctx.engine == "spark" else None
                stats.update(write_silver(ctx, hooks or {}, engine))
            except DataQualityError as exc:
                raise naming_source(ctx, exc) from exc
            stats.setdefault("engine", ctx.engine)
        manifest.finish_run(ctx.s3, ctx.bucket, ctx.names, ctx.args.run_id, "succeeded")
    return stats


def naming_source(ctx: JobContext, error: DataQualityError) -> DataQualityError:
    """Silver's rules judge the whole snapshot: say which source file it came from."""
    raw = manifest.read_raw_manifest(ctx.s3, ctx.bucket, ctx.names, ctx.args.run_id) or {}
    files = [str(m["name"]) for m in raw.get("members") or [] if m.get("name")]
    if not files or any(name in error.message for name in files):
        return error
    detail = error.message.removeprefix(f"{error.rule}: ")
    return DataQualityError(error.rule, f"{', '.join(files)}: {detail}", error.hint)
