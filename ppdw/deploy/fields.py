"""Normalized, flat fields of each resource type, the planner's unit of comparison.

Pure. The same function normalizes the desired definition (in `desired`) and what AWS
answers (in `plan.AwsState`), so a fresh deploy plans clean and a config change shows as
exactly the fields it changes. Defaults AWS fills in are not picked, hence ignored.
"""

from __future__ import annotations

import json
from collections.abc import Mapping, Sequence
from typing import Any


def canonical(value: Any) -> str:
    return json.dumps(value, sort_keys=True, separators=(",", ":"))


def flatten(prefix: str, value: Mapping[str, Any]) -> dict[str, Any]:
    """`{"a": {"b": 1}}` -> `{"prefix.a.b": 1}`; lists stay whole (canonical JSON)."""
    out: dict[str, Any] = {}
    for key, item in value.items():
        name = f"{prefix}.{key}" if prefix else str(key)
        if isinstance(item, Mapping):
            out.update(flatten(name, item) or {name: "{}"})
        elif isinstance(item, list | tuple):
            out[name] = canonical(list(item))
        else:
            out[name] = item
    return out


# ----------------------------------------------------------------------- normalizers


def bucket_fields(
    region: str,
    encryption: Mapping[str, Any] | None,
    public_access_block: Mapping[str, bool] | None,
    policy: Mapping[str, Any] | None,
    lifecycle: Sequence[Mapping[str, Any]] | None,
    versioning: str,
) -> dict[str, Any]:
    rules = (encryption or {}).get("Rules", [])
    algorithm = (
        rules[0].get("ApplyServerSideEncryptionByDefault", {}).get("SSEAlgorithm")
        if rules
        else None
    )
    pab = public_access_block or {}
    flags = ("BlockPublicAcls", "IgnorePublicAcls", "BlockPublicPolicy", "RestrictPublicBuckets")
    return {
        "region": region,
        "encryption": algorithm,
        **{f"public_access_block.{f}": bool(pab.get(f, False)) for f in flags},
        "policy": canonical(policy) if policy else None,
        "lifecycle": canonical(
            sorted((_lifecycle_rule(r) for r in lifecycle or []), key=canonical)
        ),
        # Never enabled and suspended both mean "no new versions kept".
        "versioning": "Enabled" if versioning == "Enabled" else "Disabled",
    }


def _lifecycle_rule(rule: Mapping[str, Any]) -> dict[str, Any]:
    filter_ = rule.get("Filter") or {}
    out: dict[str, Any] = {
        "ID": rule.get("ID"),
        "Status": rule.get("Status"),
        "Prefix": filter_.get("Prefix", rule.get("Prefix", "")),
    }
    if rule.get("Expiration", {}).get("Days") is not None:
        out["ExpirationDays"] = rule["Expiration"]["Days"]
    abort = rule.get("AbortIncompleteMultipartUpload", {}).get("DaysAfterInitiation")
    if abort is not None:
        out["AbortIncompleteMultipartDays"] = abort
    return out


def role_fields(
    trust: Mapping[str, Any], description: str | None, policies: Mapping[str, Mapping[str, Any]]
) -> dict[str, Any]:
    return {
        "trust": canonical(trust),
        "Description": description or "",
        **{f"policy.{name}": canonical(doc) for name, doc in policies.items()},
    }


def function_fields(configuration: Mapping[str, Any]) -> dict[str, Any]:
    storage = configuration.get("EphemeralStorage") or {}
    variables = (configuration.get("Environment") or {}).get("Variables") or {}
    return {
        "Runtime": configuration.get("Runtime"),
        "Role": configuration.get("Role"),
        "Handler": configuration.get("Handler"),
        "Timeout": configuration.get("Timeout"),
        "MemorySize": configuration.get("MemorySize"),
        "EphemeralStorage.Size": storage.get("Size", 512),
        "Description": configuration.get("Description") or "",
        "CodeSha256": configuration.get("CodeSha256"),
        **flatten("Environment.Variables", variables),
    }


_JOB_KEYS = ("Role", "GlueVersion", "WorkerType", "NumberOfWorkers", "Timeout", "MaxRetries")


def job_fields(job: Mapping[str, Any]) -> dict[str, Any]:
    command = job.get("Command") or {}
    return {
        **{key: job.get(key) for key in _JOB_KEYS},
        "Description": job.get("Description") or "",
        "Command.Name": command.get("Name"),
        "Command.ScriptLocation": command.get("ScriptLocation"),
        "Command.PythonVersion": str(command.get("PythonVersion") or "3"),
        **flatten("DefaultArguments", job.get("DefaultArguments") or {}),
    }


def crawler_fields(crawler: Mapping[str, Any]) -> dict[str, Any]:
    all_targets = crawler.get("Targets") or {}
    targets = all_targets.get("S3Targets") or []
    catalog = [
        f"{t.get('DatabaseName')}.{table}"
        for t in all_targets.get("CatalogTargets") or []
        for table in t.get("Tables") or []
    ]
    # AWS may re-serialize the JSON string: compare what it says, not its spelling.
    configuration = json.loads(crawler.get("Configuration") or "{}")
    schedule = crawler.get("Schedule")
    if isinstance(schedule, Mapping):
        schedule = schedule.get("ScheduleExpression")
    policy = crawler.get("SchemaChangePolicy") or {}
    return {
        "Role": crawler.get("Role"),
        "DatabaseName": crawler.get("DatabaseName"),
        "Description": crawler.get("Description") or "",
        "Targets.S3Targets": canonical(sorted(str(t.get("Path")) for t in targets)),
        "Targets.CatalogTargets": canonical(sorted(catalog)),
        "Configuration": canonical(configuration),
        "Schedule": schedule or None,
        "SchemaChangePolicy.UpdateBehavior": policy.get("UpdateBehavior"),
        "SchemaChangePolicy.DeleteBehavior": policy.get("DeleteBehavior"),
    }


def state_machine_fields(
    machine_definition: Mapping[str, Any], role_arn: str | None, machine_type: str | None
) -> dict[str, Any]:
    return {
        "roleArn": role_arn,
        "type": machine_type,
        **flatten("definition", machine_definition),
    }


def rule_fields(rule: Mapping[str, Any], target: Mapping[str, Any] | None) -> dict[str, Any]:
    target = target or {}
    transformer = target.get("InputTransformer") or {}
    return {
        "ScheduleExpression": rule.get("ScheduleExpression"),
        "State": rule.get("State"),
        "Description": rule.get("Description") or "",
        "target.Id": target.get("Id"),
        "target.Arn": target.get("Arn"),
        "target.RoleArn": target.get("RoleArn"),
        "target.InputPathsMap": canonical(transformer.get("InputPathsMap") or {}),
        "target.InputTemplate": transformer.get("InputTemplate"),
    }


def workgroup_fields(description: str | None, configuration: Mapping[str, Any]) -> dict[str, Any]:
    """The settings ppdw decides for the Athena workgroup (AWS adds others it defaults)."""
    result = configuration.get("ResultConfiguration") or {}
    encryption = result.get("EncryptionConfiguration") or {}
    engine = configuration.get("EngineVersion") or {}
    return {
        "Description": description or "",
        "ResultConfiguration.OutputLocation": result.get("OutputLocation"),
        "ResultConfiguration.EncryptionOption": encryption.get("EncryptionOption"),
        "EnforceWorkGroupConfiguration": bool(configuration.get("EnforceWorkGroupConfiguration")),
        "PublishCloudWatchMetricsEnabled": bool(
            configuration.get("PublishCloudWatchMetricsEnabled")
        ),
        "EngineVersion": engine.get("SelectedEngineVersion"),
    }
