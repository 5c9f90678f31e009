"""Config -> the resources of a dataset's stack (frozen specs), pure.

The core's specs are in `ppdw.deploy.core_specs`, the Glue jobs' and crawlers' in
`ppdw.deploy.glue_specs`; the spec types in `ppdw.deploy.resources`.
"""

from __future__ import annotations

from typing import Any, Literal

from ppdw.config.models import Warehouse
from ppdw.contracts.lambda_env import LambdaEnv
from ppdw.deploy.asl_quotas import quota_problems
from ppdw.deploy.bundle import Artifact, DatasetArtifacts, sha256_base64
from ppdw.deploy.fields import function_fields, rule_fields, state_machine_fields
from ppdw.deploy.glue_specs import crawler_spec, job_spec
from ppdw.deploy.resources import ResourceSpec, ResourceType, StackContext
from ppdw.deploy.statemachine import PipelineSettings, definition, schedule_input_template
from ppdw.errors import ConfigError
from ppdw.naming import DatasetNames

#: The layers a dataset's stack has a Glue job and a crawler for.
LAYERS: tuple[Literal["bronze", "silver"], ...] = ("bronze", "silver")
LOG_RETENTION_DAYS = 90  # a quarter of daily runs to debug from; logs are not data
RUNTIME_CONTENT_TYPE = "application/zip"


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


def dataset_resources(names: DatasetNames) -> list[tuple[ResourceType, str]]:
    """Every resource `dataset_specs` deploys, by type and name, the script objects as the
    prefix they live under: what `destroy` deletes. From names alone, so a dataset whose
    folder is gone (an orphan) is destroyed the same; a test pins it to the specs."""
    return [
        ("rule", names.schedule_rule),
        ("state_machine", names.state_machine),
        *(("crawler", names.crawler(layer)) for layer in LAYERS),
        *(("job", names.job(layer)) for layer in LAYERS),
        ("function", names.fetch_function),
        ("log_group", names.log_groups[0]),
        ("prefix", names.scripts_prefix),
    ]


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
    specs.extend(job_spec(ctx, layer) for layer in LAYERS)
    specs.extend(crawler_spec(ctx, layer) for layer in LAYERS)
    specs.append(state_machine_spec(ctx))
    specs.append(rule_spec(ctx))
    return specs
