"""The Glue jobs' arguments: deploy writes them, the state machine and the local runner
add the run's, the jobs parse them.

Rule: every argument name and every spelling of the arguments lives here. Deploy puts
`JobDefaults.default_arguments()` in the job's DefaultArguments; a run overrides the
`RUN_ARGS` (the state machine with `state_machine_arguments()`, the local runner with
`run_arguments()`); Glue hands the job the merged dict as `--key value` argv, which
`JobArgs.from_argv` parses like Glue's getResolvedOptions.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from datetime import datetime
from typing import Literal, cast

from ppdw.contracts.times import format_time, parse_time
from ppdw.errors import ConfigError
from ppdw.naming import is_valid_run_id

TableCreation = Literal["crawler", "schema"]

#: The engine threshold a job uses when its arguments do not say; equal to the config's
#: default (`ppdw.config.models.SPARK_ABOVE_MB`, pinned by a test) so old deploys behave
#: as new ones.
DEFAULT_SPARK_ABOVE_MB = 640

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
    "spark_above_mb": str(DEFAULT_SPARK_ABOVE_MB),
}
#: The arguments each run sets; the execution input carries them under the same names.
RUN_ARGS = ("run_id", "run_time", "force")
#: What DefaultArguments holds for them: a run overrides these; a job started without run
#: arguments fails (`none` is no run time) instead of running as some other run.
RUN_PLACEHOLDERS = {"run_id": "none", "run_time": "none", "force": "false"}


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


def to_argv(script: str, arguments: Mapping[str, str]) -> list[str]:
    """The argv Glue gives a job for its merged argument dict (`{"--k": "v"}`)."""
    argv = [script]
    for key, value in arguments.items():
        argv.extend([key, value])
    return argv


def flag(name: str) -> str:
    """An argument's key in a Glue argument dict: `run_id` -> `--run_id`."""
    return f"--{name}"


def format_flag(force: bool) -> str:
    return "true" if force else "false"


def run_arguments(run_id: str, run_time: datetime, force: bool) -> dict[str, str]:
    """The arguments one run passes to a job, over the job's DefaultArguments."""
    values = {"run_id": run_id, "run_time": format_time(run_time), "force": format_flag(force)}
    return {flag(name): values[name] for name in RUN_ARGS}


def state_machine_arguments() -> dict[str, str]:
    """A Glue task's `Arguments`: each run argument from the execution input's field."""
    return {f"{flag(name)}.$": f"$.{name}" for name in RUN_ARGS}


def engine_choice_arguments(engine: str, spark_above_mb: int) -> dict[str, str]:
    """The arguments choosing the job's engine (`auto` decides by `spark_above_mb`)."""
    return {flag("engine"): engine, flag("spark_above_mb"): str(spark_above_mb)}


@dataclass(frozen=True)
class JobDefaults:
    """The deploy-level arguments of a dataset's jobs (the same for both layers)."""

    dataset: str
    prefix: str
    bucket: str
    bronze_database: str
    silver_database: str
    config_key: str
    table_creation: TableCreation
    crawler_wait_seconds: int
    #: The jobs' clients are built for this region, never from a default.
    region: str
    engine: str
    spark_above_mb: int

    def default_arguments(self) -> dict[str, str]:
        """The job arguments of DefaultArguments, run placeholders included."""
        values = {
            "dataset": self.dataset,
            "prefix": self.prefix,
            "bucket": self.bucket,
            "bronze_database": self.bronze_database,
            "silver_database": self.silver_database,
            "config_key": self.config_key,
            "table_creation": self.table_creation,
            "crawler_wait_seconds": str(self.crawler_wait_seconds),
            "aws_region": self.region,
            **RUN_PLACEHOLDERS,
        }
        arguments = {flag(name): value for name, value in values.items()}
        return {**arguments, **engine_choice_arguments(self.engine, self.spark_above_mb)}

    def for_run(
        self, run_id: str, run_time: datetime, force: bool, engine: str | None = None
    ) -> JobArgs:
        """The arguments a job of one run gets (`engine` overrides the deployed one)."""
        return JobArgs(
            dataset=self.dataset,
            bucket=self.bucket,
            prefix=self.prefix,
            bronze_database=self.bronze_database,
            silver_database=self.silver_database,
            config_key=self.config_key,
            run_id=run_id,
            run_time=run_time.replace(microsecond=0),
            table_creation=self.table_creation,
            crawler_wait_seconds=self.crawler_wait_seconds,
            force=force,
            region=self.region,
            engine=self.engine if engine is None else engine,
            spark_above_mb=self.spark_above_mb,
        )


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
    spark_above_mb: int = DEFAULT_SPARK_ABOVE_MB

    @classmethod
    def from_argv(cls, argv: Sequence[str]) -> JobArgs:
        raw = {**OPTIONAL_ARGS, **parse_args(argv)}
        missing = [name for name in REQUIRED_ARGS if not raw.get(name)]
        if missing:
            raise ConfigError(
                "job arguments missing: " + ", ".join(flag(name) for name in missing),
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
            run_time = parse_time(raw["run_time"])
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

    def arguments(self) -> dict[str, str]:
        """The merged Glue argument dict these arguments come from."""
        values = {
            "dataset": self.dataset,
            "prefix": self.prefix,
            "bucket": self.bucket,
            "bronze_database": self.bronze_database,
            "silver_database": self.silver_database,
            "config_key": self.config_key,
            "table_creation": self.table_creation,
            "crawler_wait_seconds": str(self.crawler_wait_seconds),
        }
        if self.region is not None:
            values["aws_region"] = self.region
        return {
            **{flag(name): value for name, value in values.items()},
            **engine_choice_arguments(self.engine, self.spark_above_mb),
            **run_arguments(self.run_id, self.run_time, self.force),
        }

    def to_argv(self, script: str) -> list[str]:
        """The argv a job started with these arguments gets (the local runner's)."""
        return to_argv(script, self.arguments())
