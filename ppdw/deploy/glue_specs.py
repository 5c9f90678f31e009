"""Config -> a dataset's Glue jobs and crawlers, pure.

The jobs' own arguments come from `ppdw.contracts.job_args` (what the jobs parse); this
module adds Glue's settings around them (workers, Spark, logging).
"""

from __future__ import annotations

import json
from typing import Any, Literal

from ppdw.config.models import GlueDefaults
from ppdw.contracts.job_args import JobDefaults, engine_choice_arguments
from ppdw.deploy.fields import crawler_fields, job_fields
from ppdw.deploy.resources import ResourceSpec, StackContext


def job_defaults(ctx: StackContext) -> JobDefaults:
    """The dataset's job arguments deploy writes (both layers get the same)."""
    glue = ctx.dataset.glue_settings(ctx.warehouse.glue)
    return JobDefaults(
        dataset=ctx.dataset.name,
        prefix=ctx.warehouse.prefix,
        bucket=ctx.bucket,
        bronze_database=ctx.warehouse.database("bronze"),
        silver_database=ctx.warehouse.database("silver"),
        config_key=f"{ctx.names.scripts_prefix}dataset.json",
        table_creation=glue.table_creation,
        crawler_wait_seconds=glue.crawler_wait_seconds,
        # The jobs' clients are built for this region, never from a default (a job that
        # guessed another region would not find its Glue databases).
        region=ctx.region,
        engine=glue.engine,
        spark_above_mb=glue.spark_above_mb,
    )


def job_spec(ctx: StackContext, layer: Literal["bronze", "silver"]) -> ResourceSpec:
    glue = ctx.dataset.glue_settings(ctx.warehouse.glue)
    names, wh = ctx.names, ctx.warehouse
    arguments = {
        "--job-language": "python",
        "--extra-py-files": f"s3://{ctx.bucket}/{wh.names.runtime_key}",
        # Run arguments override the run placeholders; a job asked for an argument it was
        # not given fails.
        **job_defaults(ctx).default_arguments(),
        # Glue 5.x logs every job to /aws-glue/jobs/output and /aws-glue/jobs/error on its
        # own; `--enable-continuous-cloudwatch-log` belongs to Glue 4.0 and earlier.
        "--enable-metrics": "true",
    }
    if glue.additional_python_modules:
        arguments["--additional-python-modules"] = ",".join(glue.additional_python_modules)
    arguments.update(engine_arguments(glue))
    definition_: dict[str, Any] = {
        "Name": names.job(layer),
        "Role": ctx.role(wh.names.glue_role),
        "Description": f"ppdw: {layer} layer of {ctx.dataset.name}, {engine_summary(glue)}",
        "Command": {
            "Name": "glueetl",
            "ScriptLocation": f"s3://{ctx.bucket}/{names.scripts_prefix}{layer}_job.py",
            "PythonVersion": "3",
        },
        "GlueVersion": glue.version,
        "WorkerType": glue.worker_type,
        "NumberOfWorkers": job_workers(glue),
        "Timeout": glue.timeout_minutes,
        "MaxRetries": glue.max_retries,
        "DefaultArguments": arguments,
    }
    return ResourceSpec(
        "job",
        names.job(layer),
        job_fields(definition_),
        names.tags(),
        exact_prefixes=("DefaultArguments.",),
        payload={"definition": definition_},
    )


#: vCPUs of one Glue worker by type (AWS's worker types table).
_WORKER_VCPUS = {
    "G.1X": 4,
    "G.2X": 8,
    "G.4X": 16,
    "G.8X": 32,
    "G.12X": 48,
    "G.16X": 64,
    "R.1X": 4,
    "R.2X": 8,
    "R.4X": 16,
    "R.8X": 32,
}


def engine_summary(glue: GlueDefaults) -> str:
    """The engine in words, as `plan` and the job's description show it."""
    if glue.engine == "auto":
        return f"engine auto (spark above {glue.spark_above_mb} MiB of raw data, else arrow)"
    return f"engine {glue.engine}"


def job_workers(glue: GlueDefaults) -> int:
    """The Arrow engine computes on the driver alone: the fewest workers Glue allows
    (more would idle, billed). Spark (or `auto`, which may pick it) gets the configured
    workers as the most auto-scaling may use."""
    return 2 if glue.engine == "arrow" else glue.workers


def engine_arguments(glue: GlueDefaults) -> dict[str, str]:
    """The job's engine arguments and, when Spark may run, its Spark settings."""
    arguments = engine_choice_arguments(glue.engine, glue.spark_above_mb)
    if glue.engine == "arrow":
        return arguments
    # The floor of the engine's shuffle width: two tasks per core of the two workers a
    # job starts with. The engine widens a shuffle with the data (500,000 rows a task),
    # and auto-scaling adds workers (up to `workers`) while tasks wait.
    floor = 2 * 2 * _WORKER_VCPUS.get(glue.worker_type, 4)
    settings = [
        f"spark.sql.shuffle.partitions={floor}",
        "spark.sql.session.timeZone=UTC",
        "spark.sql.adaptive.enabled=false",  # the engine sizes its own shuffles
    ]
    # Glue takes several Spark settings in one `--conf` value, joined by " --conf ".
    arguments["--conf"] = " --conf ".join(settings)
    arguments["--enable-auto-scaling"] = "true"
    return arguments


def crawler_spec(ctx: StackContext, layer: Literal["bronze", "silver"]) -> ResourceSpec:
    """The layer's crawler, for schema discovery on demand (never scheduled, never in the
    state machine).

    A crawler of the layer's S3 folder names its table after the folder (`bronze_nsde`)
    and turns silver's run-named version folders into a `partition_1` key, so it cannot
    make table `{dataset}`. With `table_creation: schema` (default) the crawler therefore
    crawls the table the jobs made (a catalog target): it adds new columns to `{dataset}`
    and keeps its partition key, and never makes a table of its own. `crawler` keeps the
    S3 crawler the crawler-first path starts; the job removes the table it names wrongly.
    """
    names, glue = ctx.names, ctx.dataset.glue_settings(ctx.warehouse.glue)
    database = ctx.warehouse.database(layer)
    location = f"s3://{ctx.bucket}/{names.layer_prefix(layer)}"
    output: dict[str, Any] = {
        # New columns only: the jobs' exact types stay (a crawler's guess never retypes).
        "Tables": {"AddOrUpdateBehavior": "MergeNewColumns"},
        "Partitions": {"AddOrUpdateBehavior": "InheritFromTable"},
    }
    configuration: dict[str, Any] = {"Version": 1.0, "CrawlerOutput": output}
    if glue.table_creation == "schema":
        targets: dict[str, Any] = {
            "CatalogTargets": [{"DatabaseName": database, "Tables": [names.table]}]
        }
        description = f"ppdw: adds new columns of {location} to {database}.{names.table}"
    else:
        targets = {"S3Targets": [{"Path": location}]}
        # One table at the layer folder (bucket = level 1), never one per partition folder.
        configuration["Grouping"] = {"TableLevelConfiguration": location.count("/") - 2}
        description = f"ppdw: creates {database}.{names.table} if missing"
    definition_: dict[str, Any] = {
        "Name": names.crawler(layer),
        "Role": ctx.role(ctx.warehouse.names.glue_role),
        "DatabaseName": database,
        "Description": description,
        "Targets": targets,
        "Configuration": json.dumps(configuration, sort_keys=True),
        # Never delete: a table is only ever removed by `ppdw destroy --delete-data`.
        "SchemaChangePolicy": {"UpdateBehavior": "UPDATE_IN_DATABASE", "DeleteBehavior": "LOG"},
    }
    return ResourceSpec(
        "crawler",
        names.crawler(layer),
        crawler_fields(definition_),
        names.tags(),
        payload={"definition": definition_},
    )
