"""Config -> the resources that should exist (frozen specs), pure.

Each spec carries `fields`: the flat, normalized values the planner compares (built by
`ppdw.deploy.fields`), and a `payload` the executor sends.
"""

from __future__ import annotations

import json
import re
from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field
from typing import Any, Literal

from ppdw.config.models import Dataset, GlueDefaults, Warehouse
from ppdw.contracts.lambda_env import LambdaEnv
from ppdw.deploy.asl_quotas import quota_problems
from ppdw.deploy.bundle import Artifact, DatasetArtifacts, sha256_base64
from ppdw.deploy.fields import (
    bucket_fields,
    crawler_fields,
    function_fields,
    job_fields,
    role_fields,
    rule_fields,
    state_machine_fields,
    workgroup_fields,
)
from ppdw.deploy.policies import role_documents, source_secrets
from ppdw.deploy.statemachine import PipelineSettings, definition, schedule_input_template
from ppdw.errors import ConfigError
from ppdw.naming import Arns, DatasetNames, core_tags

ResourceType = Literal[
    "bucket",
    "database",
    "workgroup",
    "role",
    "object",
    "log_group",
    "function",
    "job",
    "crawler",
    "state_machine",
    "rule",
    "table",
    "prefix",
]
#: Creation order; deletion runs it backwards. Tables and data prefixes are only ever
#: deleted (`destroy --delete-data`): jobs create them.
ORDER: tuple[ResourceType, ...] = (
    "bucket",
    "database",
    "workgroup",
    "role",
    "prefix",
    "table",
    "object",
    "log_group",
    "function",
    "job",
    "crawler",
    "state_machine",
    "rule",
)
#: Resources without tags of their own: S3 objects and prefixes and Glue tables belong to
#: the managed bucket and databases; a Lambda log group is created by Lambda itself on
#: first invocation, so ppdw adopts it.
ADOPTABLE: frozenset[str] = frozenset({"object", "prefix", "table", "log_group"})
LOG_RETENTION_DAYS = 90  # a quarter of daily runs to debug from; logs are not data
#: Athena query results are copies of warehouse rows kept for re-download only: a week is
#: enough to fetch them again, and nothing else reads them.
ATHENA_RESULTS_DAYS = 7
ATHENA_ENGINE = "Athena engine version 3"  # reads ZSTD parquet and ms timestamps right
RUNTIME_CONTENT_TYPE = "application/zip"
_BUCKET_RE = re.compile(r"^[a-z0-9][a-z0-9.-]{1,61}[a-z0-9]$")


@dataclass(frozen=True)
class ResourceSpec:
    resource_type: ResourceType
    name: str
    fields: Mapping[str, Any]
    tags: Mapping[str, str] = field(default_factory=dict)
    #: Field-name prefixes whose keys must match exactly (extra keys in AWS are drift).
    exact_prefixes: tuple[str, ...] = ()
    #: What the executor sends; not compared.
    payload: Mapping[str, Any] = field(default_factory=dict, compare=False, repr=False)


# -------------------------------------------------------------------------- builders


def check_bucket_name(name: str) -> None:
    """S3's naming rules (moto accepts any name; AWS refuses these)."""
    if (
        not _BUCKET_RE.match(name)
        or ".." in name
        or re.fullmatch(r"\d+\.\d+\.\d+\.\d+", name)
        or name.startswith(("xn--", "sthree-"))
        or name.endswith(("-s3alias", "--ol-s3"))
    ):
        raise ConfigError(
            f"config/warehouse.json: bucket: {name!r} is not a valid S3 bucket name",
            "3-63 characters: lower-case letters, digits, '.', '-', starting and ending "
            "with a letter or digit",
        )


def bucket_spec(warehouse: Warehouse, account_id: str, region: str) -> ResourceSpec:
    name = warehouse.names.bucket(account_id)
    check_bucket_name(name)
    encryption = {"Rules": [{"ApplyServerSideEncryptionByDefault": {"SSEAlgorithm": "AES256"}}]}
    flags = ("BlockPublicAcls", "IgnorePublicAcls", "BlockPublicPolicy", "RestrictPublicBuckets")
    public_access_block = dict.fromkeys(flags, True)
    arn = Arns(region, account_id).bucket(name)
    policy = {
        "Version": "2012-10-17",
        "Statement": [
            {
                "Sid": "DenyInsecureTransport",
                "Effect": "Deny",
                "Principal": "*",
                # IAM action names are case-insensitive on AWS ("The prefix and the action
                # name are case insensitive", IAM JSON policy reference), so "S3:*" is
                # "s3:*". The capital keeps moto usable: moto 5.2.5 ignores the Condition
                # of a bucket-policy Deny and would refuse every object call.
                "Action": "S3:*",
                "Resource": [arn, f"{arn}/*"],
                "Condition": {"Bool": {"aws:SecureTransport": "false"}},
            }
        ],
    }
    lifecycle: list[dict[str, Any]] = [
        {
            "ID": "abort-incomplete-multipart-uploads",
            "Status": "Enabled",
            "Filter": {"Prefix": ""},
            "AbortIncompleteMultipartUpload": {
                "DaysAfterInitiation": warehouse.lifecycle.abort_incomplete_multipart_days
            },
        }
    ]
    lifecycle.append(
        {
            "ID": "expire-athena-results",
            "Status": "Enabled",
            "Filter": {"Prefix": warehouse.names.athena_results_prefix},
            "Expiration": {"Days": ATHENA_RESULTS_DAYS},
        }
    )
    if warehouse.lifecycle.raw_expiration_days is not None:
        lifecycle.append(
            {
                "ID": "expire-raw",
                "Status": "Enabled",
                "Filter": {"Prefix": "raw/"},
                "Expiration": {"Days": warehouse.lifecycle.raw_expiration_days},
            }
        )
    # Versioning stays off on purpose: raw runs are immutable (one folder per run_id),
    # silver keeps its own SCD2 history, and versions of every rewritten partition would
    # only grow the bill. `destroy --core --delete-data` removes any versions anyway.
    return ResourceSpec(
        "bucket",
        name,
        bucket_fields(region, encryption, public_access_block, policy, lifecycle, "Disabled"),
        core_tags(),
        payload={
            "region": region,
            "encryption": encryption,
            "public_access_block": public_access_block,
            "policy": policy,
            "lifecycle": lifecycle,
            "versioning": "Suspended",
        },
    )


def workgroup_spec(warehouse: Warehouse, account_id: str) -> ResourceSpec:
    """Athena workgroup `{prefix}`: its settings are enforced (a query cannot send results
    elsewhere or unencrypted), results go to the bucket's expiring `athena-results/`."""
    names = warehouse.names
    description = f"ppdw: queries over the {warehouse.prefix} warehouse"
    configuration: dict[str, Any] = {
        "ResultConfiguration": {
            "OutputLocation": f"s3://{names.bucket(account_id)}/{names.athena_results_prefix}",
            "EncryptionConfiguration": {"EncryptionOption": "SSE_S3"},
        },
        "EnforceWorkGroupConfiguration": True,
        "PublishCloudWatchMetricsEnabled": True,
        "EngineVersion": {"SelectedEngineVersion": ATHENA_ENGINE},
    }
    updates = {
        "ResultConfigurationUpdates": configuration["ResultConfiguration"],
        "EnforceWorkGroupConfiguration": True,
        "PublishCloudWatchMetricsEnabled": True,
        "EngineVersion": configuration["EngineVersion"],
    }
    return ResourceSpec(
        "workgroup",
        names.workgroup,
        workgroup_fields(description, configuration),
        core_tags(),
        payload={"description": description, "configuration": configuration, "updates": updates},
    )


def core_specs(
    warehouse: Warehouse,
    account_id: str,
    region: str,
    datasets: Iterable[Dataset] = (),
    *,
    athena: bool = True,
) -> list[ResourceSpec]:
    """Bucket, databases, roles (the fetch role may read the `datasets`' source secrets),
    and the Athena workgroup; `athena=False` leaves the workgroup out (the local target
    runs no Athena: its queries run on DuckDB, and moto cannot serve the Athena API boto3
    speaks)."""
    specs = [bucket_spec(warehouse, account_id, region)]
    if athena:
        specs.append(workgroup_spec(warehouse, account_id))
    for layer in ("bronze", "silver", "gold"):
        description = f"ppdw {layer} layer of the {warehouse.prefix} warehouse"
        specs.append(
            ResourceSpec(
                "database",
                warehouse.database(layer),
                {"Description": description},
                core_tags(),
                payload={"Description": description},
            )
        )
    for role in role_documents(warehouse, account_id, region, source_secrets(datasets)):
        specs.append(
            ResourceSpec(
                "role",
                role.name,
                role_fields(role.trust, role.description, role.policies),
                core_tags(),
                exact_prefixes=("policy.",),
                payload={
                    "trust": role.trust,
                    "description": role.description,
                    "policies": role.policies,
                },
            )
        )
    return specs


def object_spec(bucket: str, artifact: Artifact) -> ResourceSpec:
    return ResourceSpec(
        "object",
        artifact.key,
        {"sha256": artifact.sha256},
        payload={
            "bucket": bucket,
            "body": artifact.body,
            "content_type": artifact.content_type,
            "sha256": artifact.sha256,
        },
    )


def runtime_spec(warehouse: Warehouse, account_id: str, runtime_zip: bytes) -> ResourceSpec:
    names = warehouse.names
    artifact = Artifact(names.runtime_key, runtime_zip, RUNTIME_CONTENT_TYPE)
    return object_spec(names.bucket(account_id), artifact)


@dataclass(frozen=True)
class StackContext:
    warehouse: Warehouse
    dataset: Dataset
    account_id: str
    region: str

    @property
    def names(self) -> DatasetNames:
        return self.warehouse.names.dataset(self.dataset.name)

    @property
    def bucket(self) -> str:
        return self.warehouse.names.bucket(self.account_id)

    @property
    def arns(self) -> Arns:
        return Arns(self.region, self.account_id)

    def role(self, name: str) -> str:
        return self.arns.role(name)


def function_spec(ctx: StackContext, fetch_zip: bytes) -> ResourceSpec:
    settings = ctx.dataset.lambda_settings(ctx.warehouse.lambda_)
    names = ctx.names
    configuration: dict[str, Any] = {
        "FunctionName": names.fetch_function,
        "Runtime": settings.runtime,
        "Role": ctx.role(ctx.warehouse.names.lambda_role),
        "Handler": "app.handler",
        "Timeout": settings.timeout_seconds,
        "MemorySize": settings.memory_mb,
        "EphemeralStorage": {"Size": settings.ephemeral_storage_mb},
        "Description": f"ppdw: fetch {ctx.dataset.name} into raw/",
        "Environment": {
            "Variables": LambdaEnv(
                bucket=ctx.bucket,
                prefix=ctx.warehouse.prefix,
                dataset=ctx.dataset.name,
                max_uncompressed_bytes=ctx.warehouse.max_uncompressed_bytes,
                max_compression_ratio=ctx.warehouse.max_compression_ratio,
            ).to_env()
        },
    }
    fields = function_fields({**configuration, "CodeSha256": sha256_base64(fetch_zip)})
    return ResourceSpec(
        "function",
        names.fetch_function,
        fields,
        names.tags(),
        exact_prefixes=("Environment.Variables.",),
        payload={"configuration": configuration, "zip": fetch_zip},
    )


def job_spec(ctx: StackContext, layer: Literal["bronze", "silver"]) -> ResourceSpec:
    glue = ctx.dataset.glue_settings(ctx.warehouse.glue)
    names, wh = ctx.names, ctx.warehouse
    arguments = {
        "--job-language": "python",
        "--extra-py-files": f"s3://{ctx.bucket}/{wh.names.runtime_key}",
        "--dataset": ctx.dataset.name,
        "--prefix": wh.prefix,
        "--bucket": ctx.bucket,
        "--bronze_database": wh.database("bronze"),
        "--silver_database": wh.database("silver"),
        "--config_key": f"{names.scripts_prefix}dataset.json",
        "--table_creation": glue.table_creation,
        "--crawler_wait_seconds": str(glue.crawler_wait_seconds),
        # The jobs' clients are built for this region, never from a default (a job that
        # guessed another region would not find its Glue databases).
        "--aws_region": ctx.region,
        # Run arguments override these; a job asked for an argument it was not given fails.
        "--run_id": "none",
        "--run_time": "none",
        "--force": "false",
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
    arguments = {"--engine": glue.engine, "--spark_above_mb": str(glue.spark_above_mb)}
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


def pipeline_settings(ctx: StackContext) -> PipelineSettings:
    glue = ctx.dataset.glue_settings(ctx.warehouse.glue)
    names = ctx.names
    return PipelineSettings(
        dataset=ctx.dataset.name,
        function_name=names.fetch_function,
        bronze_job=names.job("bronze"),
        silver_job=names.job("silver"),
        lambda_timeout_seconds=ctx.dataset.lambda_settings(ctx.warehouse.lambda_).timeout_seconds,
        glue_timeout_minutes=glue.timeout_minutes,
        glue_max_retries=glue.max_retries,
        partition=ctx.arns.partition,
    )


def state_machine_spec(ctx: StackContext) -> ResourceSpec:
    names = ctx.names
    machine = definition(pipeline_settings(ctx))
    # Step Functions refuses what breaks its quotas only at create or at run time (a
    # scheduled run once died of 13 intrinsics in one field): refuse it before deploy.
    problems = quota_problems(machine, [f"{ctx.dataset.name}-20261101-060000"])
    if problems:
        raise ConfigError(
            f"state machine {names.state_machine}: " + "; ".join(problems),
            "this is a ppdw bug: report it with the dataset's name",
        )
    role = ctx.role(ctx.warehouse.names.states_role)
    return ResourceSpec(
        "state_machine",
        names.state_machine,
        state_machine_fields(machine, role, "STANDARD"),
        names.tags(),
        exact_prefixes=("definition.",),
        payload={"definition": machine, "role_arn": role},
    )


def state_machine_arn(ctx: StackContext) -> str:
    return ctx.arns.state_machine(ctx.names.state_machine)


def rule_spec(ctx: StackContext) -> ResourceSpec:
    names, schedule = ctx.names, ctx.dataset.schedule
    rule = {
        "ScheduleExpression": schedule.expression,
        "State": "ENABLED" if schedule.enabled else "DISABLED",
        "Description": f"ppdw: scheduled runs of {ctx.dataset.name}",
    }
    target = {
        "Id": "pipeline",
        "Arn": state_machine_arn(ctx),
        "RoleArn": ctx.role(ctx.warehouse.names.events_role),
        "InputTransformer": {
            "InputPathsMap": {"time": "$.time"},
            "InputTemplate": schedule_input_template(),
        },
    }
    return ResourceSpec(
        "rule",
        names.schedule_rule,
        rule_fields(rule, target),
        names.tags(),
        payload={"rule": rule, "target": target, "enabled": schedule.enabled},
    )


def dataset_specs(ctx: StackContext, artifacts: DatasetArtifacts) -> list[ResourceSpec]:
    specs = [object_spec(ctx.bucket, artifact) for artifact in artifacts.scripts]
    specs.append(
        ResourceSpec(
            "log_group",
            ctx.names.log_groups[0],
            {"retentionInDays": LOG_RETENTION_DAYS},
            ctx.names.tags(),
            payload={"retention": LOG_RETENTION_DAYS},
        )
    )
    specs.append(function_spec(ctx, artifacts.fetch_zip))
    specs.extend(job_spec(ctx, layer) for layer in ("bronze", "silver"))
    specs.extend(crawler_spec(ctx, layer) for layer in ("bronze", "silver"))
    specs.append(state_machine_spec(ctx))
    specs.append(rule_spec(ctx))
    return specs
