"""Every ARN ppdw builds, in each partition, and the state machine's integration ARNs."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from ppdw.config.loader import load_project
from ppdw.deploy.desired import rule_spec, state_machine_spec
from ppdw.deploy.resources import StackContext
from ppdw.naming import Arns, partition, service_integration_arn

ACCOUNT = "123456789012"
REPO = Path(__file__).resolve().parents[2]


@pytest.mark.parametrize(
    ("region", "expected"),
    [
        ("us-east-1", "aws"),
        ("eu-west-1", "aws"),
        ("us-gov-west-1", "aws-us-gov"),
        ("us-gov-east-1", "aws-us-gov"),
        ("cn-north-1", "aws-cn"),
        ("cn-northwest-1", "aws-cn"),
    ],
)
def test_partition_of_region(region: str, expected: str) -> None:
    assert partition(region) == expected


GOV = Arns("us-gov-west-1", ACCOUNT)


@pytest.mark.parametrize(
    ("built", "expected"),
    [
        (GOV.bucket("pp-dw-1"), "arn:aws-us-gov:s3:::pp-dw-1"),
        (GOV.objects("pp-dw-1", "raw/*"), "arn:aws-us-gov:s3:::pp-dw-1/raw/*"),
        (GOV.role("pp-dw-glue-role"), f"arn:aws-us-gov:iam::{ACCOUNT}:role/pp-dw-glue-role"),
        (GOV.glue_catalog(), f"arn:aws-us-gov:glue:us-gov-west-1:{ACCOUNT}:catalog"),
        (GOV.glue_database("db"), f"arn:aws-us-gov:glue:us-gov-west-1:{ACCOUNT}:database/db"),
        (GOV.glue_table("db", "t"), f"arn:aws-us-gov:glue:us-gov-west-1:{ACCOUNT}:table/db/t"),
        (
            GOV.glue_user_defined_function("db", "*"),
            f"arn:aws-us-gov:glue:us-gov-west-1:{ACCOUNT}:userDefinedFunction/db/*",
        ),
        (GOV.glue_job("j"), f"arn:aws-us-gov:glue:us-gov-west-1:{ACCOUNT}:job/j"),
        (GOV.glue_crawler("c"), f"arn:aws-us-gov:glue:us-gov-west-1:{ACCOUNT}:crawler/c"),
        (GOV.function("f"), f"arn:aws-us-gov:lambda:us-gov-west-1:{ACCOUNT}:function:f"),
        (GOV.state_machine("m"), f"arn:aws-us-gov:states:us-gov-west-1:{ACCOUNT}:stateMachine:m"),
        (
            GOV.execution("m", "r1"),
            f"arn:aws-us-gov:states:us-gov-west-1:{ACCOUNT}:execution:m:r1",
        ),
        (GOV.rule("r"), f"arn:aws-us-gov:events:us-gov-west-1:{ACCOUNT}:rule/r"),
        (GOV.log_group("/a/b"), f"arn:aws-us-gov:logs:us-gov-west-1:{ACCOUNT}:log-group:/a/b"),
        (
            GOV.log_streams("/a/b"),
            f"arn:aws-us-gov:logs:us-gov-west-1:{ACCOUNT}:log-group:/a/b:*",
        ),
        (
            GOV.secret("pp-dw/k"),
            f"arn:aws-us-gov:secretsmanager:us-gov-west-1:{ACCOUNT}:secret:pp-dw/k-??????",
        ),
        (
            GOV.parameter("/pp-dw/k"),
            f"arn:aws-us-gov:ssm:us-gov-west-1:{ACCOUNT}:parameter/pp-dw/k",
        ),
        (service_integration_arn("aws-cn", "lambda:invoke"), "arn:aws-cn:states:::lambda:invoke"),
    ],
)
def test_arn_formats(built: str, expected: str) -> None:
    assert built == expected


@pytest.mark.parametrize(
    ("region", "prefix"),
    [
        ("us-east-1", "arn:aws:"),
        ("us-gov-west-1", "arn:aws-us-gov:"),
        ("cn-north-1", "arn:aws-cn:"),
    ],
)
def test_pipeline_and_schedule_arns_follow_the_region(region: str, prefix: str) -> None:
    project = load_project(REPO)
    ctx = StackContext(project.warehouse, project.dataset("nsde"), ACCOUNT, region)
    machine = state_machine_spec(ctx).payload
    tasks = [s for s in machine["definition"]["States"].values() if s["Type"] == "Task"]
    assert [t["Resource"] for t in tasks] == [
        f"{prefix}states:::lambda:invoke",
        f"{prefix}states:::glue:startJobRun.sync",
        f"{prefix}states:::glue:startJobRun.sync",
    ]
    assert machine["role_arn"] == f"{prefix}iam::{ACCOUNT}:role/pp-dw-states-role"
    target = rule_spec(ctx).payload["target"]
    assert target["Arn"].startswith(f"{prefix}states:{region}:{ACCOUNT}:stateMachine:")
    assert target["RoleArn"] == f"{prefix}iam::{ACCOUNT}:role/pp-dw-events-role"
    assert "arn:aws:" not in json.dumps(machine["definition"]) or prefix == "arn:aws:"
