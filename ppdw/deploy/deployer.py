"""The least-privilege policy of a deployer: what every ppdw command needs on this project.

Pure: no AWS calls. In the spirit of Chalice's `gen-policy`, it is derived from what ppdw
manages, not written by hand:

- `RESOURCE_ACCESS` (`ppdw.deploy.permissions`) lists, for each resource type, every action
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
from collections.abc import Iterable
from typing import Any

from ppdw.config.models import Dataset, Warehouse
from ppdw.deploy.permissions import RESOURCE_ACCESS
from ppdw.deploy.policies import VERSION, Scope, glue_policy, lambda_policy, source_secrets
from ppdw.deploy.policy_checks import (
    SERVICE_PRINCIPALS,
    Document,
    compact_size,
    statement_problems,
)
from ppdw.deploy.resources import ORDER
from ppdw.errors import ConfigError

#: IAM's limit for a customer managed policy, counted without white space.
MAX_MANAGED_POLICY_CHARS = 6_144
#: Runtime statements the deployer does not need: the services' own logs and metrics.
SERVICE_ONLY_SIDS = frozenset({"Logs", "GlueJobMetrics"})
#: Actions that take no resource ARN (Service Authorization Reference): `Resource: "*"`.
WILDCARD_ONLY_ACTIONS = (
    "glue:CreateCrawler",
    "logs:DescribeLogGroups",
    # listing what ppdw manages, to find stacks whose dataset folder is gone
    "lambda:ListFunctions",
    "glue:GetJobs",
    "glue:GetCrawlers",
    "states:ListStateMachines",
    "events:ListRules",
)
WILDCARD_SID = "WildcardOnlyActions"


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


def merge_same_actions(statements: list[Document]) -> list[Document]:
    """One statement per (actions, condition), on every resource given those actions: the
    same permissions in fewer characters (IAM counts a managed policy's size)."""
    merged: dict[str, Document] = {}
    for statement in statements:
        actions = statement["Action"]
        actions = sorted(actions) if isinstance(actions, list) else [actions]
        key = json.dumps([actions, statement.get("Condition")], sort_keys=True)
        if key not in merged:
            merged[key] = dict(statement)
            continue
        kept = merged[key]
        resources = [*_as_list(kept["Resource"])]
        resources += [r for r in _as_list(statement["Resource"]) if r not in resources]
        kept["Resource"] = resources
    return list(merged.values())


def _as_list(value: Any) -> list[Any]:
    return list(value) if isinstance(value, list) else [value]


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
    kept = merge_same_actions(merge(drop_covered(statements)))
    # Sids are left out of the document: optional, and IAM counts them in the managed
    # policy's 6,144 characters (about 450 here); the readable view labels statements.
    unlabelled = [{k: v for k, v in s.items() if k != "Sid"} for s in kept]
    document: Document = {"Version": VERSION, "Statement": unlabelled}
    check_deployer_policy({"Version": VERSION, "Statement": kept}, document)
    return document


def check_deployer_policy(labelled: Document, document: Document) -> None:
    """The rules on the statements as labelled (a `*` resource is justified by its Sid),
    IAM's size limit on the document as printed."""
    problems = statement_problems(labelled)
    size = compact_size(document)
    if size > MAX_MANAGED_POLICY_CHARS:
        problems.append(
            f"{size} characters, IAM allows {MAX_MANAGED_POLICY_CHARS} in a managed policy"
        )
    if problems:
        raise ConfigError("deployer policy: " + "; ".join(problems))


def describe(document: Document) -> list[dict[str, Any]]:
    """Rows for a human view: a label (number and services), actions, resources."""

    def as_list(value: Any) -> list[str]:
        return [str(v) for v in value] if isinstance(value, list) else [str(value)]

    def label(index: int, statement: Document) -> str:
        services = sorted({a.split(":", 1)[0] for a in as_list(statement["Action"])})
        return statement.get("Sid") or f"{index}. {', '.join(services)}"

    return [
        {
            "sid": label(index, s),
            "actions": as_list(s["Action"]),
            "resources": as_list(s["Resource"]),
            "condition": s.get("Condition"),
        }
        for index, s in enumerate(document["Statement"], start=1)
    ]
