"""The deployer policy is derived from what ppdw deploys: every resource type has its
permissions, every resource the specs describe is inside them, and IAM's limits hold."""

from __future__ import annotations

import json
from fnmatch import fnmatchcase
from pathlib import Path
from typing import Any

import pytest

from ppdw.config.loader import load_project
from ppdw.config.models import SourceAuth
from ppdw.deploy import deployer
from ppdw.deploy.bundle import read_dataset_artifacts
from ppdw.deploy.core_specs import core_specs
from ppdw.deploy.desired import dataset_specs
from ppdw.deploy.policy_checks import compact_size
from ppdw.deploy.resources import ORDER, ResourceSpec, StackContext
from ppdw.errors import ConfigError
from ppdw.naming import Arns

REPO = Path(__file__).resolve().parents[2]
ACCOUNT = "123456789012"
REGION = "us-east-1"


def as_list(value: Any) -> list[str]:
    return [str(v) for v in value] if isinstance(value, list) else [str(value)]


def allows(document: dict[str, Any], action: str, arn: str) -> bool:
    """An unconditional Allow of `action` on `arn` (IAM wildcards: `*` and `?`)."""
    return any(
        action in as_list(s["Action"])
        and "Condition" not in s
        and any(fnmatchcase(arn, pattern) for pattern in as_list(s["Resource"]))
        for s in document["Statement"]
    )


def spec_arn(spec: ResourceSpec, arns: Arns, bucket: str) -> str:
    name = spec.name
    return {
        "bucket": lambda: arns.bucket(name),
        "database": lambda: arns.glue_database(name),
        "workgroup": lambda: arns.workgroup(name),
        "role": lambda: arns.role(name),
        "prefix": lambda: arns.objects(bucket, f"{name}part-00000.parquet"),
        "table": lambda: arns.glue_table(*name.split(".", 1)),
        "object": lambda: arns.objects(bucket, name),
        "log_group": lambda: arns.log_group(name),
        "function": lambda: arns.function(name),
        "job": lambda: arns.glue_job(name),
        "crawler": lambda: arns.glue_crawler(name),
        "state_machine": lambda: arns.state_machine(name),
        "rule": lambda: arns.rule(name),
    }[spec.resource_type]()


def all_specs() -> list[ResourceSpec]:
    project = load_project(REPO)
    warehouse = project.warehouse
    specs = core_specs(warehouse, ACCOUNT, REGION, project.datasets.values())
    for name in ("nsde", "rxnorm"):
        ctx = StackContext(warehouse, project.dataset(name), ACCOUNT, REGION)
        artifacts = read_dataset_artifacts(project.dataset_dir(name), ctx.names.scripts_prefix)
        specs.extend(dataset_specs(ctx, artifacts))
    return specs


def test_every_resource_type_has_deployer_permissions() -> None:
    assert set(deployer.RESOURCE_ACCESS) == set(ORDER)


def test_a_resource_type_without_permissions_is_refused(monkeypatch: pytest.MonkeyPatch) -> None:
    access = dict(deployer.RESOURCE_ACCESS)
    del access["rule"]
    monkeypatch.setattr(deployer, "RESOURCE_ACCESS", access)
    warehouse = load_project(REPO).warehouse
    with pytest.raises(ConfigError, match="no deployer permissions for rule"):
        deployer.deployer_policy(warehouse, ACCOUNT, REGION)


def test_every_resource_ppdw_deploys_is_inside_the_deployer_policy() -> None:
    project = load_project(REPO)
    document = deployer.deployer_policy(
        project.warehouse, ACCOUNT, REGION, project.datasets.values()
    )
    arns, bucket = Arns(REGION, ACCOUNT), project.warehouse.names.bucket(ACCOUNT)
    specs = all_specs()
    assert {s.resource_type for s in specs} >= set(ORDER) - {"prefix", "table"}
    missing = [
        f"{action} on {spec_arn(spec, arns, bucket)}"
        for spec in specs
        for action in deployer.RESOURCE_ACCESS[spec.resource_type][0].actions
        if not allows(document, action, spec_arn(spec, arns, bucket))
    ]
    assert missing == []


def test_destroy_targets_are_inside_the_deployer_policy() -> None:
    """Data prefixes and tables are only deleted (`destroy --delete-data`)."""
    project = load_project(REPO)
    document = deployer.deployer_policy(project.warehouse, ACCOUNT, REGION)
    arns, bucket = Arns(REGION, ACCOUNT), project.warehouse.names.bucket(ACCOUNT)
    names = project.warehouse.names.dataset("nsde")
    for prefix in (
        names.raw_prefix,
        names.layer_prefix("bronze"),
        names.layer_prefix("silver"),
        names.layer_prefix("gold"),
        names.runs_prefix,
        names.scripts_prefix,
    ):
        assert allows(document, "s3:DeleteObject", arns.objects(bucket, f"{prefix}x")), prefix
    table = arns.glue_table(project.warehouse.database("silver"), "nsde")
    assert allows(document, "glue:DeleteTable", table)


def test_each_role_is_passed_to_its_own_service_only() -> None:
    warehouse = load_project(REPO).warehouse
    document = deployer.deployer_policy(warehouse, ACCOUNT, REGION)
    passing = [s for s in document["Statement"] if s["Action"] == "iam:PassRole"]
    assert {
        s["Resource"]: s["Condition"]["StringEquals"]["iam:PassedToService"] for s in passing
    } == {
        f"arn:aws:iam::{ACCOUNT}:role/pp-dw-glue-role": "glue.amazonaws.com",
        f"arn:aws:iam::{ACCOUNT}:role/pp-dw-lambda-role": "lambda.amazonaws.com",
        f"arn:aws:iam::{ACCOUNT}:role/pp-dw-states-role": "states.amazonaws.com",
        f"arn:aws:iam::{ACCOUNT}:role/pp-dw-events-role": "events.amazonaws.com",
    }


def test_the_policy_fits_a_managed_policy_with_secrets() -> None:
    project = load_project(REPO)
    secrets = [SourceAuth(kind="secretsmanager", name=f"pp-dw/source-{i}") for i in range(5)]
    datasets = [
        d.model_copy(update={"source": d.source.model_copy(update={"auth": auth})})
        for d, auth in zip(project.datasets.values(), secrets, strict=False)
    ]
    document = deployer.deployer_policy(project.warehouse, ACCOUNT, REGION, datasets)
    assert compact_size(document) <= deployer.MAX_MANAGED_POLICY_CHARS
    # one statement per set of actions and condition: nothing left to merge
    shapes = [(sorted(as_list(s["Action"])), s.get("Condition")) for s in document["Statement"]]
    assert len(shapes) == len({json.dumps(shape, sort_keys=True) for shape in shapes})
