"""The bronze and silver Glue jobs: arguments in, one layer written, run record updated.

Rule: the same functions run inside Glue (called by `fda/{dataset}/glue/*_job.py` with
`sys.argv`) and in-process on the local runner (with an injected `AwsSession`). A job
reads everything it needs from its arguments and S3 (the dataset config is the copy
uploaded at deploy time), writes its layer, and records its step in the run record; on
failure the step and the run are recorded as failed and the error is re-raised.
"""

from __future__ import annotations

import json
import time
from collections.abc import Callable, Iterator, Sequence
from contextlib import contextmanager
from dataclasses import dataclass
from datetime import datetime
from typing import Any, cast

from ppdw.aws import objects
from ppdw.aws.session import AwsSession, make_session
from ppdw.config.models import SPARK_ABOVE_MB, Dataset
from ppdw.errors import ConfigError, DataQualityError, PpdwError
from ppdw.naming import CoreNames, DatasetNames, is_valid_run_id
from ppdw.runtime import manifest
from ppdw.runtime.catalog import Sleep, TableCreation

#: Arguments every job needs (deploy puts them in the job's DefaultArguments).
REQUIRED_ARGS = (
    "dataset",
    "bucket",
    "bronze_database",
    "silver_database",
    "config_key",
    "run_id",
    "run_time",
)
OPTIONAL_ARGS = {
    "prefix": "pp-dw",
    "table_creation": "schema",
    "crawler_wait_seconds": "600",
    "force": "false",
    # Required inside Glue (see `build_context`); an in-process run passes its session.
    "aws_region": "",
    # Jobs deployed before engines existed ran the Arrow engine.
    "engine": "arrow",
    "spark_above_mb": str(SPARK_ABOVE_MB),
}


def parse_args(argv: Sequence[str]) -> dict[str, str]:
    """`--key value` / `--key=value` pairs, like Glue's getResolvedOptions.

    Positional words (the script path) are skipped; every pair is kept, so Glue's own
    system arguments (`--JOB_ID`, `--TempDir`, ...) pass through and are ignored later.
    """
    out: dict[str, str] = {}
    items = list(argv)
    index = 0
    while index < len(items):
        item = items[index]
        index += 1
        if not item.startswith("--"):
            continue
        key, sep, value = item[2:].partition("=")
        if not sep:
            if index < len(items) and not items[index].startswith("--"):
                value = items[index]
                index += 1
            else:
                value = ""
        out[key] = value
    return out


@dataclass(frozen=True)
class JobArgs:
    dataset: str
    bucket: str
    prefix: str
    bronze_database: str
    silver_database: str
    config_key: str
    run_id: str
    run_time: datetime
    table_creation: TableCreation
    crawler_wait_seconds: int
    force: bool
    #: The region of the job's clients (`--aws_region`); None when not given.
    region: str | None = None
    engine: str = "arrow"  # arrow | spark | auto, as asked; JobContext.engine is what runs
    spark_above_mb: int = SPARK_ABOVE_MB

    @classmethod
    def from_argv(cls, argv: Sequence[str]) -> JobArgs:
        raw = {**OPTIONAL_ARGS, **parse_args(argv)}
        missing = [name for name in REQUIRED_ARGS if not raw.get(name)]
        if missing:
            raise ConfigError(
                "job arguments missing: " + ", ".join(f"--{name}" for name in missing),
                "deploy the dataset again (DefaultArguments) or pass them to the job run",
            )
        if not is_valid_run_id(raw["run_id"]):
            raise ConfigError(f"--run_id {raw['run_id']!r} is not a valid run id")
        creation = raw["table_creation"]
        if creation not in ("crawler", "schema"):
            raise ConfigError(f"--table_creation must be crawler or schema, not {creation!r}")
        if raw["engine"] not in ("arrow", "spark", "auto"):
            raise ConfigError(f"--engine must be arrow, spark or auto, not {raw['engine']!r}")
        try:
            run_time = manifest.parse_time(raw["run_time"])
            wait = int(raw["crawler_wait_seconds"])
            spark_above_mb = int(raw["spark_above_mb"])
        except ValueError as exc:
            raise ConfigError(f"invalid job argument: {exc}") from exc
        return cls(
            dataset=raw["dataset"],
            bucket=raw["bucket"],
            prefix=raw["prefix"],
            bronze_database=raw["bronze_database"],
            silver_database=raw["silver_database"],
            config_key=raw["config_key"],
            run_id=raw["run_id"],
            run_time=run_time.replace(microsecond=0),
            table_creation=cast(TableCreation, creation),
            crawler_wait_seconds=wait,
            force=raw["force"].strip().lower() in ("true", "1", "yes"),
            region=raw["aws_region"] or None,
            engine=raw["engine"],
            spark_above_mb=spark_above_mb,
        )


@dataclass
class JobContext:
    """Everything a layer step uses: arguments, dataset config, names and clients."""

    args: JobArgs
    dataset: Dataset
    names: DatasetNames
    s3: Any
    glue: Any
    sleep: Sleep
    clock: Callable[[], float]
    aws: AwsSession | None = None  # the session the clients came from (for Spark's tasks)
    engine: str = "arrow"  # the engine this step runs (`auto` resolved)

    @property
    def bucket(self) -> str:
        return self.args.bucket


def load_dataset_config(s3: Any, bucket: str, key: str, expected: str) -> Dataset:
    from pydantic import ValidationError

    document = objects.get_json(s3, bucket, key)
    if document is None:
        raise ConfigError(
            f"dataset config s3://{bucket}/{key} not found",
            f"deploy the dataset first: ppdw deploy {expected}",
        )
    try:
        dataset = Dataset.model_validate(document)
    except ValidationError as exc:
        from ppdw.config.loader import format_validation_error

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
    from ppdw.runtime.spark.choice import choose, raw_bytes

    requested = ctx.args.engine
    size = 0
    if requested == "auto":
        size = raw_bytes(manifest.read_raw_manifest(ctx.s3, ctx.bucket, ctx.names, ctx.args.run_id))
    return choose(requested, size, ctx.args.spark_above_mb)


@contextmanager
def recorded_step(ctx: JobContext, step: str) -> Iterator[dict[str, Any]]:
    """Record the step running, then succeeded with the stats put in the yielded dict,
    or failed (step and run) with the error before re-raising it."""
    s3, bucket, names, run_id = ctx.s3, ctx.bucket, ctx.names, ctx.args.run_id
    if manifest.read_run(s3, bucket, names, run_id) is None:
        manifest.start_run(s3, bucket, names, run_id, ctx.args.run_time)
    started = manifest.utc_now()
    manifest.update_step(
        s3,
        bucket,
        names,
        run_id,
        step,
        {"status": "running", "started_at": manifest.format_time(started), "error": None},
    )
    stats: dict[str, Any] = {}
    try:
        yield stats
    except BaseException as exc:
        message = exc.message if isinstance(exc, PpdwError) else f"{type(exc).__name__}: {exc}"
        data = {"status": "failed", "error": message, "finished_at": _now_text()}
        manifest.update_step(s3, bucket, names, run_id, step, data)
        manifest.finish_run(s3, bucket, names, run_id, "failed", f"{step}: {message}")
        raise
    done: dict[str, Any] = {"status": "succeeded", "finished_at": _now_text(), "stats": stats}
    manifest.update_step(s3, bucket, names, run_id, step, done)


def _now_text() -> str:
    return manifest.format_time(manifest.utc_now())


def as_dict(value: Any) -> dict[str, Any]:
    """Stats objects of the transforms (dataclass, pydantic or dict) as plain JSON data."""
    import dataclasses

    if value is None:
        return {}
    if dataclasses.is_dataclass(value) and not isinstance(value, type):
        value = dataclasses.asdict(value)
    elif hasattr(value, "model_dump"):
        value = value.model_dump()
    return cast(dict[str, Any], json.loads(json.dumps(value, default=str)))


def run_bronze_job(
    argv: Sequence[str],
    *,
    aws: AwsSession | None = None,
    sleep: Sleep = time.sleep,
) -> dict[str, Any]:
    """Raw members of the run -> one bronze partition + its Glue partition. Returns stats."""
    from ppdw.runtime.layers import write_bronze

    ctx = build_context(argv, aws=aws, sleep=sleep)
    with recorded_step(ctx, "bronze") as stats:
        stats.update(write_bronze(ctx))
        stats["engine"] = ctx.engine
    return stats


def run_silver_job(
    argv: Sequence[str],
    *,
    aws: AwsSession | None = None,
    sleep: Sleep = time.sleep,
    hooks: dict[str, Callable[[], None]] | None = None,
) -> dict[str, Any]:
    """Bronze partition of the run -> SCD2 merge -> rewritten silver partitions. Stats.

    `hooks` (tests only) are called at named points, e.g. "before_register".
    """
    from ppdw.runtime.layers import write_silver

    ctx = build_context(argv, aws=aws, sleep=sleep)
    with recorded_step(ctx, "silver") as stats:
        try:
            stats.update(write_silver(ctx, hooks or {}))
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
