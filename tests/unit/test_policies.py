"""IAM documents statement by statement: least privilege, exact trust, AWS limits."""

from __future__ import annotations

from pathlib import Path

import pytest

from ppdw.config.loader import load_project
from ppdw.config.models import SourceAuth
from ppdw.deploy.policies import role_documents
from ppdw.deploy.policy_checks import (
    JUSTIFIED_WILDCARD_SIDS,
    RoleDocuments,
    check_role,
    statement_problems,
    trust_problems,
)
from ppdw.errors import ConfigError

REPO = Path(__file__).resolve().parents[2]
ACCOUNT = "123456789012"
BUCKET_ARN = f"arn:aws:s3:::pp-dw-{ACCOUNT}"


@pytest.fixture(scope="module")
def roles() -> dict[str, RoleDocuments]:
    warehouse = load_project(REPO).warehouse
    return {r.name: r for r in role_documents(warehouse, ACCOUNT, "us-east-1")}


def statements(role: RoleDocuments) -> list[dict[str, object]]:
    return [s for doc in role.policies.values() for s in doc["Statement"]]


def as_list(value: object) -> list[str]:
    return [str(v) for v in value] if isinstance(value, list) else [str(value)]


def test_four_roles_each_trusting_exactly_its_service(roles: dict[str, RoleDocuments]) -> None:
    expected = {
        "pp-dw-glue-role": "glue.amazonaws.com",
        "pp-dw-lambda-role": "lambda.amazonaws.com",
        "pp-dw-states-role": "states.amazonaws.com",
        "pp-dw-events-role": "events.amazonaws.com",
    }
    assert set(roles) == set(expected)
    for name, service in expected.items():
        (statement,) = roles[name].trust["Statement"]
        assert statement["Principal"] == {"Service": service}
        assert statement["Action"] == "sts:AssumeRole"


def test_no_wildcard_action_anywhere(roles: dict[str, RoleDocuments]) -> None:
    for role in roles.values():
        for statement in statements(role):
            for action in as_list(statement["Action"]):
                assert action != "*"
                assert not action.endswith(":*"), (role.name, action)


def test_star_resource_only_where_justified(roles: dict[str, RoleDocuments]) -> None:
    for role in roles.values():
        for statement in statements(role):
            if "*" in as_list(statement["Resource"]):
                assert statement["Sid"] in JUSTIFIED_WILDCARD_SIDS
                assert statement["Condition"]  # narrowed anyway


def test_every_resource_is_the_warehouse_own(roles: dict[str, RoleDocuments]) -> None:
    allowed_prefixes = (
        BUCKET_ARN,
        f"arn:aws:glue:us-east-1:{ACCOUNT}:catalog",
        f"arn:aws:glue:us-east-1:{ACCOUNT}:database/pp_dw_",
        f"arn:aws:glue:us-east-1:{ACCOUNT}:table/pp_dw_",
        f"arn:aws:glue:us-east-1:{ACCOUNT}:crawler/pp-dw-",
        f"arn:aws:glue:us-east-1:{ACCOUNT}:job/pp-dw-",
        f"arn:aws:logs:us-east-1:{ACCOUNT}:log-group:/aws-glue/",
        f"arn:aws:logs:us-east-1:{ACCOUNT}:log-group:/aws/lambda/pp-dw-raw-fetch-",
        f"arn:aws:lambda:us-east-1:{ACCOUNT}:function:pp-dw-raw-fetch-",
        f"arn:aws:states:us-east-1:{ACCOUNT}:stateMachine:pp-dw-pipeline-",
        f"arn:aws:states:us-east-1:{ACCOUNT}:execution:pp-dw-pipeline-",
    )
    for role in roles.values():
        for statement in statements(role):
            for resource in as_list(statement["Resource"]):
                assert resource == "*" or resource.startswith(allowed_prefixes), resource


def actions_on(role: RoleDocuments, action: str) -> list[str]:
    return [
        r
        for s in statements(role)
        if action in as_list(s["Action"])
        for r in as_list(s["Resource"])
    ]


def test_lambda_writes_raw_and_run_records_only(roles: dict[str, RoleDocuments]) -> None:
    fetch = roles["pp-dw-lambda-role"]
    runs = f"{BUCKET_ARN}/silver/_runs/*/*"
    assert actions_on(fetch, "s3:PutObject") == [f"{BUCKET_ARN}/raw/*", runs]
    assert actions_on(fetch, "s3:GetObject") == [f"{BUCKET_ARN}/raw/*", runs]
    # clearing a run folder, and the download of an unchanged source; releasing the run
    # lease when the execution ends in the fetch step
    assert actions_on(fetch, "s3:DeleteObject") == [
        f"{BUCKET_ARN}/raw/*",
        f"{BUCKET_ARN}/silver/_runs/*/_lock",
    ]


def test_lambda_lists_exactly_the_prefixes_it_reads(roles: dict[str, RoleDocuments]) -> None:
    # Without s3:ListBucket on a prefix, S3 answers 403 (not 404) for a missing key there:
    # the first run of a dataset reads a `_last_success.json` that does not exist yet.
    (listing,) = [
        s for s in statements(roles["pp-dw-lambda-role"]) if s["Action"] == "s3:ListBucket"
    ]
    assert listing["Resource"] == BUCKET_ARN
    assert listing["Condition"] == {"StringLike": {"s3:prefix": ["raw/*", "silver/_runs/*/*"]}}


def test_no_secret_access_unless_a_dataset_names_one(roles: dict[str, RoleDocuments]) -> None:
    for role in roles.values():
        for statement in statements(role):
            for action in as_list(statement["Action"]):
                assert not action.startswith(("secretsmanager:", "ssm:")), (role.name, action)


def test_secret_access_is_exactly_the_named_secrets() -> None:
    warehouse = load_project(REPO).warehouse
    secrets = [
        SourceAuth(kind="secretsmanager", name="pp-dw/umls-api-key"),
        SourceAuth(kind="ssm", name="/pp-dw/other/key"),
    ]
    documents = role_documents(warehouse, ACCOUNT, "us-east-1", secrets)
    (fetch,) = [r for r in documents if r.name == "pp-dw-lambda-role"]
    assert actions_on(fetch, "secretsmanager:GetSecretValue") == [
        f"arn:aws:secretsmanager:us-east-1:{ACCOUNT}:secret:pp-dw/umls-api-key-??????"
    ]
    assert actions_on(fetch, "ssm:GetParameter") == [
        f"arn:aws:ssm:us-east-1:{ACCOUNT}:parameter/pp-dw/other/key"
    ]
    others = [r for r in documents if r.name != "pp-dw-lambda-role"]
    assert not any(actions_on(r, "secretsmanager:GetSecretValue") for r in others)


@pytest.mark.parametrize(
    ("region", "partition"),
    [("us-east-1", "aws"), ("us-gov-west-1", "aws-us-gov"), ("cn-north-1", "aws-cn")],
)
def test_every_arn_is_in_the_region_partition(region: str, partition: str) -> None:
    warehouse = load_project(REPO).warehouse
    secrets = [SourceAuth(kind="secretsmanager", name="pp-dw/key")]
    for role in role_documents(warehouse, ACCOUNT, region, secrets):
        for statement in statements(role):
            for resource in as_list(statement["Resource"]):
                assert resource == "*" or resource.startswith(f"arn:{partition}:"), resource


def test_events_role_only_starts_pipelines(roles: dict[str, RoleDocuments]) -> None:
    (statement,) = statements(roles["pp-dw-events-role"])
    assert statement["Action"] == "states:StartExecution"
    assert statement["Resource"] == (
        f"arn:aws:states:us-east-1:{ACCOUNT}:stateMachine:pp-dw-pipeline-*"
    )


def test_checks_catch_what_moto_would_accept() -> None:
    bad = {"Statement": [{"Sid": "x", "Effect": "Allow", "Action": "*", "Resource": "*"}]}
    assert statement_problems(bad) == [
        "statement x: wildcard action '*'",
        "statement x: Resource '*' without justification",
    ]
    trust = {
        "Statement": [
            {
                "Effect": "Allow",
                "Action": "sts:AssumeRole",
                "Principal": {"Service": ["glue.amazonaws.com", "ec2.amazonaws.com"]},
            }
        ]
    }
    assert trust_problems(trust, "glue")
    role = RoleDocuments(
        "r",
        "glue",
        "d",
        trust,
        {
            "big": {
                "Statement": [
                    {
                        "Sid": "s",
                        "Effect": "Allow",
                        "Action": "s3:GetObject",
                        "Resource": "a" * 11_000,
                    }
                ]
            }
        },
    )
    with pytest.raises(ConfigError, match="inline policies total") as caught:
        check_role(role)
    assert "trust principal must be exactly glue.amazonaws.com" in caught.value.message
