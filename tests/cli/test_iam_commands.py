"""`ppdw deployer-policy` and the secret-name rule of `ppdw validate`, through the CLI."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import pytest
from typer.testing import CliRunner

from ppdw.cli.app import app

ACCOUNT = "123456789012"


def invoke(project: Path, *args: str) -> Any:
    return CliRunner().invoke(app, ["--project", str(project), *args])


def set_auth(project: Path, dataset: str, auth: dict[str, str] | None) -> None:
    path = project / "fda" / dataset / "config" / "dataset.json"
    config = json.loads(path.read_text())
    config["source"].pop("auth", None)
    if auth is not None:
        config["source"]["auth"] = auth
    path.write_text(json.dumps(config, indent=2))


@pytest.fixture
def no_aws(monkeypatch: pytest.MonkeyPatch) -> None:
    """With --account-id the command must not open the target (no AWS call at all)."""

    def refuse(*_: object, **__: object) -> None:
        raise AssertionError("the target was opened")

    monkeypatch.setattr("ppdw.targets.open_target", refuse)


def policy(project: Path, *extra: str) -> dict[str, Any]:
    result = invoke(project, "--target", "aws", "deployer-policy", "--json", *extra)
    assert result.exit_code == 0, result.stderr
    document: dict[str, Any] = json.loads(result.stdout)  # one document, nothing else
    return document


def resources(document: dict[str, Any]) -> list[str]:
    out: list[str] = []
    for statement in document["Statement"]:
        value = statement["Resource"]
        out.extend(value if isinstance(value, list) else [value])
    return out


def actions(document: dict[str, Any]) -> set[str]:
    out: set[str] = set()
    for statement in document["Statement"]:
        value = statement["Action"]
        out.update(value if isinstance(value, list) else [value])
    return out


@pytest.mark.usefixtures("no_aws")
def test_deployer_policy_is_scoped_to_the_prefix(project: Path) -> None:
    document = policy(project, "--account-id", ACCOUNT)
    assert document["Version"] == "2012-10-17"
    catalog = f"arn:aws:glue:us-east-1:{ACCOUNT}:catalog"  # the account's, shared by all
    for resource in resources(document):
        if resource not in ("*", catalog):
            assert "pp-dw" in resource or "pp_dw" in resource, resource
            assert resource.startswith("arn:aws:"), resource
    (wildcard,) = [s for s in document["Statement"] if s["Resource"] == "*"]
    # only actions without resource-level permissions (Service Authorization Reference)
    assert sorted(wildcard["Action"]) == [
        "events:ListRules",
        "glue:CreateCrawler",
        "glue:GetCrawlers",
        "glue:GetJobs",
        "lambda:ListFunctions",
        "logs:DescribeLogGroups",
        "states:ListStateMachines",
    ]
    # what the hand-written list in the README used to miss (issue 9, defect 4)
    assert {
        "s3:PutEncryptionConfiguration",
        "s3:PutLifecycleConfiguration",
        "iam:ListRolePolicies",
        "iam:ListRoleTags",
        "states:ListTagsForResource",
        "events:ListTagsForResource",
        "logs:ListTagsLogGroup",
        "logs:TagResource",
        "lambda:ListTags",
    } <= actions(document)
    assert not any(a.startswith(("secretsmanager:", "ssm:")) for a in actions(document))


@pytest.mark.usefixtures("no_aws")
def test_deployer_policy_reads_exactly_the_configured_secrets(project: Path) -> None:
    set_auth(project, "rxnorm", {"kind": "secretsmanager", "name": "pp-dw/umls-api-key"})
    document = policy(project, "--account-id", ACCOUNT)
    (statement,) = [s for s in document["Statement"] if "secretsmanager" in json.dumps(s)]
    assert statement["Action"] == "secretsmanager:GetSecretValue"
    assert statement["Resource"] == [
        f"arn:aws:secretsmanager:us-east-1:{ACCOUNT}:secret:pp-dw/umls-api-key-??????"
    ]


@pytest.mark.usefixtures("no_aws")
def test_deployer_policy_follows_the_region_partition(
    project: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("AWS_REGION", "us-gov-west-1")
    document = policy(project, "--account-id", ACCOUNT)
    for resource in resources(document):
        assert resource == "*" or resource.startswith("arn:aws-us-gov:"), resource
    assert f"arn:aws-us-gov:glue:us-gov-west-1:{ACCOUNT}:catalog" in resources(document)


@pytest.mark.usefixtures("moto_aws")
def test_deployer_policy_asks_sts_for_the_account_when_not_given(project: Path) -> None:
    document = policy(project)
    assert f"arn:aws:s3:::pp-dw-{ACCOUNT}" in resources(document)


@pytest.mark.usefixtures("no_aws")
def test_deployer_policy_for_people_lists_statements_and_size(project: Path) -> None:
    result = invoke(project, "--target", "aws", "deployer-policy", "--account-id", ACCOUNT)
    assert result.exit_code == 0, result.stderr
    assert "deployer policy: account 123456789012, region us-east-1" in result.stdout
    assert "  actions: s3:ListBucket, s3:GetBucketLocation" in result.stdout
    assert "characters (a managed policy holds 6144)" in result.stderr


def test_deployer_policy_refuses_a_bad_account_id(project: Path) -> None:
    result = invoke(project, "--target", "aws", "deployer-policy", "--account-id", "12")
    assert result.exit_code == 2
    assert result.stderr.strip() == "Error: --account-id '12' is not a 12-digit AWS account id"


@pytest.mark.parametrize(
    ("auth", "accepted"),
    [
        ({"kind": "secretsmanager", "name": "pp-dw/umls-api-key"}, True),
        ({"kind": "ssm", "name": "/pp-dw/umls/key"}, True),
        ({"kind": "ssm", "name": "pp-dw/umls/key"}, True),
        ({"kind": "secretsmanager", "name": "umls-api-key"}, False),
        ({"kind": "secretsmanager", "name": "ppdw/umls-api-key"}, False),
        ({"kind": "secretsmanager", "name": "pp-dw-other/key"}, False),
        ({"kind": "ssm", "name": "/other/pp-dw/key"}, False),
        ({"kind": "secretsmanager", "name": "pp-dw/"}, False),
    ],
)
def test_validate_refuses_a_secret_outside_the_prefix(
    project: Path, auth: dict[str, str], accepted: bool
) -> None:
    set_auth(project, "rxnorm", auth)
    result = invoke(project, "validate")
    if accepted:
        assert result.exit_code == 0, result.stderr
        return
    assert result.exit_code == 2
    first = result.stderr.splitlines()[0]
    assert first.startswith(
        f"Error: fda/rxnorm/config/dataset.json: source.auth.name: '{auth['name']}' is outside "
        "the warehouse's namespace"
    ), result.stderr
    assert "pp-dw/" in first
