"""The least-privilege policy of a deployer: what every ppdw command needs on this project.

Pure: no AWS calls. In the spirit of Chalice's `gen-policy`, it is derived from what ppdw
manages, not written by hand:

- `RESOURCE_ACCESS` lists, for each resource type of `ppdw.deploy.desired`, every action
  plan, deploy, status and destroy make on it and the ARNs of the prefix's resources of
  that type (a new resource type has no policy until it is listed here, and a test fails
  until then);
- handing the shared roles to their services is iam:PassRole, each role to its service;
- `run --runner local` does in this process what the fetch Lambda and the Glue jobs do,
  so it needs the data access of those roles: their statements are included (not their
  services' own logging);
- `run` on Step Functions starts and follows executions of the prefix's state machines.

A statement whose every action and resource another one already allows is left out, and
statements with the same resources and condition are merged, so the policy stays within
IAM's size limit for a managed policy.
"""

from __future__ import annotations

import json
from collections.abc import Callable, Iterable
from dataclasses import dataclass
from typing import Any

from ppdw.config.models import Dataset, Warehouse
from ppdw.deploy.desired import ORDER, ResourceType
from ppdw.deploy.policies import (
    SERVICE_PRINCIPALS,
    VERSION,
    Document,
    Scope,
    compact_size,
    glue_policy,
    lambda_policy,
    source_secrets,
    statement_problems,
)
from ppdw.errors import ConfigError

#: IAM's limit for a customer managed policy, counted without white space.
MAX_MANAGED_POLICY_CHARS = 6_144
#: Runtime statements the deployer does not need: the services' own logs and metrics.
SERVICE_ONLY_SIDS = frozenset({"Logs", "GlueJobMetrics"})
#: Actions that take no resource ARN (Service Authorization Reference): `Resource: "*"`.
WILDCARD_ONLY_ACTIONS = ("glue:CreateCrawler", "logs:DescribeLogGroups")
WILDCARD_SID = "WildcardOnlyActions"

Resources = Callable[[Scope], list[str]]


@dataclass(frozen=True)
class Grant:
    """Actions on the ARNs of one resource type."""

    actions: tuple[str, ...]
    resources: Resources


def _bucket(scope: Scope) -> list[str]:
    return [scope.bucket_arn]


def _databases(scope: Scope) -> list[str]:
    arns = scope.arns
    return [
        arns.glue_catalog(),
        *(arns.glue_database(p) for p in scope.database_patterns),
        *(arns.glue_table(p, "*") for p in scope.database_patterns),
        # DeleteDatabase also acts on the database's functions
        *(arns.glue_user_defined_function(p, "*") for p in scope.database_patterns),
    ]


def _roles(scope: Scope) -> list[str]:
    return [scope.arns.role(scope.named())]


def _fetch_logs(scope: Scope) -> list[str]:
    return scope.log_groups(f"/aws/lambda/{scope.named('raw-fetch-')}")


#: What plan, deploy, status and destroy do to each resource type, and where.
RESOURCE_ACCESS: dict[ResourceType, tuple[Grant, ...]] = {
    "bucket": (
        Grant(
            (
                "s3:ListBucket",  # also HeadBucket
                "s3:GetBucketLocation",
                "s3:CreateBucket",
                "s3:DeleteBucket",
                "s3:GetEncryptionConfiguration",
                "s3:PutEncryptionConfiguration",
                "s3:GetBucketPublicAccessBlock",
                "s3:PutBucketPublicAccessBlock",
                "s3:GetBucketPolicy",
                "s3:PutBucketPolicy",
                "s3:GetLifecycleConfiguration",
                "s3:PutLifecycleConfiguration",
                "s3:GetBucketVersioning",
                "s3:PutBucketVersioning",
                "s3:GetBucketTagging",
                "s3:PutBucketTagging",
                "s3:ListBucketVersions",  # emptied before `destroy --core --delete-data`
            ),
            _bucket,
        ),
        Grant(("s3:DeleteObjectVersion",), lambda s: s.objects("")),
    ),
    "database": (
        Grant(
            (
                "glue:GetDatabase",
                "glue:CreateDatabase",
                "glue:UpdateDatabase",
                "glue:DeleteDatabase",
            ),
            _databases,
        ),
        Grant(
            ("glue:GetTags", "glue:TagResource"),
            lambda s: [s.arns.glue_database(p) for p in s.database_patterns],
        ),
    ),
    "role": (
        Grant(
            (
                "iam:GetRole",
                "iam:ListRoleTags",
                "iam:ListRolePolicies",
                "iam:GetRolePolicy",
                "iam:CreateRole",
                "iam:TagRole",
                "iam:PutRolePolicy",
                "iam:DeleteRolePolicy",
                "iam:UpdateAssumeRolePolicy",
                "iam:UpdateRole",
                "iam:ListAttachedRolePolicies",
                "iam:DetachRolePolicy",
                "iam:DeleteRole",
            ),
            _roles,
        ),
    ),
    "prefix": (
        Grant(("s3:DeleteObject",), lambda s: s.objects("raw/", "bronze/", "silver/", "gold/")),
    ),
    "table": (Grant(("glue:GetTable", "glue:DeleteTable"), lambda s: s.catalog),),
    "object": (
        Grant(("s3:GetObject", "s3:PutObject", "s3:DeleteObject"), lambda s: s.objects("scripts/")),
    ),
    "log_group": (
        Grant(
            (
                "logs:ListTagsLogGroup",
                "logs:CreateLogGroup",
                "logs:TagResource",  # tags given at creation
                "logs:TagLogGroup",
                "logs:PutRetentionPolicy",
                "logs:DeleteLogGroup",
            ),
            _fetch_logs,
        ),
    ),
    "function": (
        Grant(
            (
                "lambda:GetFunction",
                # without it GetFunction returns no tags, and ppdw would not know its own
                "lambda:ListTags",
                "lambda:CreateFunction",
                "lambda:TagResource",
                "lambda:UpdateFunctionCode",
                "lambda:UpdateFunctionConfiguration",
                "lambda:DeleteFunction",
            ),
            lambda s: [s.arns.function(s.named("raw-fetch-"))],
        ),
    ),
    "job": (
        Grant(
            (
                "glue:GetJob",
                "glue:CreateJob",
                "glue:UpdateJob",
                "glue:DeleteJob",
                "glue:GetTags",
                "glue:TagResource",
            ),
            lambda s: [s.arns.glue_job(s.named())],
        ),
    ),
    "crawler": (
        Grant(
            (
                "glue:GetCrawler",
                "glue:UpdateCrawler",
                "glue:DeleteCrawler",
                "glue:GetTags",
                "glue:TagResource",
            ),
            lambda s: [s.arns.glue_crawler(s.named())],
        ),
    ),
    "state_machine": (
        Grant(
            (
                "states:DescribeStateMachine",
                "states:ListTagsForResource",
                "states:CreateStateMachine",
                "states:TagResource",
                "states:UpdateStateMachine",
                "states:DeleteStateMachine",
                "states:StartExecution",  # `ppdw run` on Step Functions
            ),
            lambda s: [s.arns.state_machine(s.named("pipeline-"))],
        ),
        Grant(
            ("states:DescribeExecution", "states:GetExecutionHistory"),
            lambda s: [s.arns.execution(s.named("pipeline-"), "*")],
        ),
    ),
    "rule": (
        Grant(
            (
                "events:DescribeRule",
                "events:ListTargetsByRule",
                "events:ListTagsForResource",
                "events:PutRule",
                "events:TagResource",
                "events:PutTargets",
                "events:RemoveTargets",
                "events:DeleteRule",
            ),
            lambda s: [s.arns.rule(s.named("schedule-"))],
        ),
    ),
}


def _sid(resource_type: str, index: int) -> str:
    words = "".join(part.capitalize() for part in resource_type.split("_"))
    return words if index == 0 else f"{words}{index + 1}"


def resource_statements(scope: Scope) -> list[Document]:
    missing = [t for t in ORDER if t not in RESOURCE_ACCESS]
    if missing:
        raise ConfigError(f"internal: no deployer permissions for {', '.join(missing)}")
    return [
        {
            "Sid": _sid(resource_type, index),
            "Effect": "Allow",
            "Action": list(grant.actions),
            "Resource": grant.resources(scope),
        }
        for resource_type in ORDER
        for index, grant in enumerate(RESOURCE_ACCESS[resource_type])
    ]


def pass_role_statements(scope: Scope) -> list[Document]:
    """Each shared role may be handed to its own service only."""
    names = scope.warehouse.names
    roles = {
        "glue": names.glue_role,
        "lambda": names.lambda_role,
        "states": names.states_role,
        "events": names.events_role,
    }
    return [
        {
            "Sid": f"Pass{service.capitalize()}Role",
            "Effect": "Allow",
            "Action": "iam:PassRole",
            "Resource": scope.arns.role(role),
            "Condition": {"StringEquals": {"iam:PassedToService": SERVICE_PRINCIPALS[service]}},
        }
        for service, role in roles.items()
    ]


def runtime_statements(scope: Scope, datasets: Iterable[Dataset]) -> list[Document]:
    """`run --runner local` runs the fetch and the jobs here: their roles' data access."""
    documents = (lambda_policy(scope, source_secrets(datasets)), glue_policy(scope))
    return [
        {**statement, "Sid": f"Run{statement['Sid']}"}
        for document in documents
        for statement in document["Statement"]
        if statement["Sid"] not in SERVICE_ONLY_SIDS
    ]


def _key(statement: Document) -> str:
    resources = statement["Resource"]
    resources = sorted(resources) if isinstance(resources, list) else [resources]
    return json.dumps([resources, statement.get("Condition")], sort_keys=True)


def merge(statements: list[Document]) -> list[Document]:
    """One statement per (resources, condition), holding every action granted there."""
    merged: dict[str, Document] = {}
    for statement in statements:
        key = _key(statement)
        actions = statement["Action"]
        actions = actions if isinstance(actions, list) else [actions]
        if key in merged:
            known = merged[key]["Action"]
            known.extend(a for a in actions if a not in known)
        else:
            merged[key] = {**statement, "Action": list(actions)}
    for statement in merged.values():
        if len(statement["Action"]) == 1:
            statement["Action"] = statement["Action"][0]
    return list(merged.values())


def _pairs(statement: Document) -> list[tuple[str, str]]:
    actions, resources = statement["Action"], statement["Resource"]
    actions = actions if isinstance(actions, list) else [actions]
    resources = resources if isinstance(resources, list) else [resources]
    return [(a, r) for a in actions for r in resources]


def _covers(pattern: str, resource: str) -> bool:
    """Whether every ARN `resource` matches is matched by `pattern` (sound, not complete)."""
    return pattern == resource or (pattern.endswith("*") and resource.startswith(pattern[:-1]))


def drop_covered(statements: list[Document]) -> list[Document]:
    """Leave out a statement whose every (action, resource) another unconditional one
    already allows: the runtime's statements repeat much of what the resources need."""
    kept = list(statements)
    for statement in statements:
        others = [s for s in kept if s is not statement and "Condition" not in s]
        granted = [pair for other in others for pair in _pairs(other)]
        if all(
            any(a == action and _covers(r, resource) for a, r in granted)
            for action, resource in _pairs(statement)
        ):
            kept.remove(statement)
    return kept


def deployer_policy(
    warehouse: Warehouse, account_id: str, region: str, datasets: Iterable[Dataset] = ()
) -> Document:
    """The policy document; raises ConfigError if IAM would refuse it."""
    scope = Scope(warehouse, account_id, region)
    chosen = list(datasets)
    statements: list[Document] = [
        *resource_statements(scope),
        *pass_role_statements(scope),
        *runtime_statements(scope, chosen),
        {
            "Sid": WILDCARD_SID,
            "Effect": "Allow",
            "Action": list(WILDCARD_ONLY_ACTIONS),
            "Resource": "*",
        },
    ]
    document: Document = {"Version": VERSION, "Statement": merge(drop_covered(statements))}
    check_deployer_policy(document)
    return document


def check_deployer_policy(document: Document) -> None:
    problems = statement_problems(document)
    size = compact_size(document)
    if size > MAX_MANAGED_POLICY_CHARS:
        problems.append(
            f"{size} characters, IAM allows {MAX_MANAGED_POLICY_CHARS} in a managed policy"
        )
    if problems:
        raise ConfigError("deployer policy: " + "; ".join(problems))


def describe(document: Document) -> list[dict[str, Any]]:
    """Rows for a human view: Sid, actions, resources."""

    def as_list(value: Any) -> list[str]:
        return [str(v) for v in value] if isinstance(value, list) else [str(value)]

    return [
        {
            "sid": s.get("Sid", ""),
            "actions": as_list(s["Action"]),
            "resources": as_list(s["Resource"]),
            "condition": s.get("Condition"),
        }
        for s in document["Statement"]
    ]
