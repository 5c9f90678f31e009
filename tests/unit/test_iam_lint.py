"""Every IAM document ppdw writes, through parliament (the ecosystem's IAM linter).

The four roles' policies (with and without source secrets), their trust policies, and the
deployer policy, in the standard, GovCloud and China partitions. No finding may remain
except the ones listed in `JUSTIFIED`, each with the reason it does not apply.
"""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import pytest
from parliament import analyze_policy_string

from ppdw.config.loader import load_project
from ppdw.config.models import SourceAuth
from ppdw.deploy.deployer import deployer_policy
from ppdw.deploy.policies import role_documents

REPO = Path(__file__).resolve().parents[2]
ACCOUNT = "123456789012"
SECRETS = [
    SourceAuth(kind="secretsmanager", name="pp-dw/umls-api-key"),
    SourceAuth(kind="ssm", name="/pp-dw/other/key"),
]

#: (kind of document, parliament issue, text in its detail) -> why it does not apply.
JUSTIFIED: dict[tuple[str, str, str], str] = {
    ("trust", "MALFORMED", "neither Resource nor NotResource"): (
        "a trust policy has no Resource element: the role it belongs to is the resource "
        "(parliament lints every document as an identity policy)"
    ),
    ("deployer", "RESOURCE_POLICY_PRIVILEGE_ESCALATION", "s3:PutBucketPolicy"): (
        "the deployer creates the bucket and sets its policy (deny plain HTTP); whoever "
        "sets a bucket policy could grant itself more. Inherent to deploying the bucket"
    ),
    ("deployer", "RESOURCE_POLICY_PRIVILEGE_ESCALATION", "s3:PutLifecycleConfiguration"): (
        "the deployer sets the bucket's lifecycle (expire raw, abort stale uploads); an "
        "expiration rule deletes objects. Inherent to deploying the bucket"
    ),
    ("deployer", "RESOURCE_MISMATCH", '"action": "athena:ListTagsForResource"'): (
        "Athena's tag actions take a workgroup, data catalog or capacity reservation ARN; "
        "ppdw tags only its workgroup, and parliament expects every format to match"
    ),
    ("deployer", "RESOURCE_MISMATCH", "states:DescribeExecution"): (
        "DescribeExecution takes an execution ARN (STANDARD machines, ppdw's) or an express "
        "execution ARN; parliament expects both formats to match"
    ),
    ("role", "RESOURCE_MISMATCH", "states:DescribeExecution"): (
        "the runtime roles ask whether the execution holding a dataset's run lease still "
        "runs: the same execution ARN (STANDARD machines), same reason as the deployer's"
    ),
}


def documents(region: str) -> dict[str, tuple[str, dict[str, Any]]]:
    """name -> (kind, document)."""
    project = load_project(REPO)
    out: dict[str, tuple[str, dict[str, Any]]] = {}
    for secrets in ((), SECRETS):
        for role in role_documents(project.warehouse, ACCOUNT, region, secrets):
            out[f"{role.name} trust"] = ("trust", role.trust)
            for name, document in role.policies.items():
                out[f"{role.name} {name} secrets={len(secrets)}"] = ("role", document)
    datasets = list(project.datasets.values())
    out["deployer"] = ("deployer", deployer_policy(project.warehouse, ACCOUNT, region, datasets))
    return out


def unjustified(kind: str, document: dict[str, Any]) -> list[str]:
    policy = analyze_policy_string(json.dumps(document), ignore_private_auditors=True)
    found = []
    for finding in policy.findings:
        detail = (
            json.dumps(finding.detail) if not isinstance(finding.detail, str) else finding.detail
        )
        if any(
            kind == k and finding.issue == issue and text in detail
            for (k, issue, text) in JUSTIFIED
        ):
            continue
        found.append(f"{finding.issue}: {detail}")
    return found


@pytest.mark.parametrize("region", ["us-east-1", "us-gov-west-1", "cn-north-1"])
def test_every_iam_document_passes_parliament(region: str) -> None:
    problems = {
        name: found
        for name, (kind, document) in documents(region).items()
        if (found := unjustified(kind, document))
    }
    assert problems == {}


def test_parliament_finds_what_it_should() -> None:
    """The check is not blind: a wrong action name and a wildcard are reported."""
    bad = {
        "Version": "2012-10-17",
        "Statement": [
            {
                "Effect": "Allow",
                "Action": ["s3:PutBucketEncryption", "s3:*"],
                "Resource": "arn:aws:s3:::pp-dw-123456789012",
            }
        ],
    }
    issues = {f.split(":")[0] for f in unjustified("role", bad)}
    assert "UNKNOWN_ACTION" in issues
