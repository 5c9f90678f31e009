"""The checks AWS applies to IAM documents that moto does not, and ppdw's own rules.

Pure: no AWS calls. Least privilege (no `*` action, no `*` resource unless its Sid is in
`JUSTIFIED_WILDCARD_SIDS` with the reason), exactly one service principal per trust
policy, and IAM's size quotas. `ppdw.deploy.policies` checks every role it builds.
"""

from __future__ import annotations

import json
from dataclasses import dataclass
from typing import Any

from ppdw.errors import ConfigError

Document = dict[str, Any]

SERVICE_PRINCIPALS: dict[str, str] = {
    "glue": "glue.amazonaws.com",
    "lambda": "lambda.amazonaws.com",
    "states": "states.amazonaws.com",
    "events": "events.amazonaws.com",
}
#: Sids allowed to use `Resource: "*"`, and why.
JUSTIFIED_WILDCARD_SIDS: dict[str, str] = {
    # cloudwatch:PutMetricData has no resource-level permissions; the condition narrows
    # it to the Glue namespace (`--enable-metrics`).
    "GlueJobMetrics": "cloudwatch:PutMetricData supports no resource ARN",
    # The deployer's glue:CreateCrawler and logs:DescribeLogGroups take no resource ARN
    # (Service Authorization Reference); every other crawler and log action is scoped.
    "WildcardOnlyActions": "glue:CreateCrawler and logs:DescribeLogGroups support no ARN",
}
#: AWS limits (IAM quotas): inline policies of one role together, and a trust policy,
#: counted without white space.
MAX_INLINE_POLICY_CHARS = 10_240
MAX_TRUST_POLICY_CHARS = 2_048


@dataclass(frozen=True)
class RoleDocuments:
    name: str
    service: str
    description: str
    trust: Document
    policies: dict[str, Document]


def _as_list(value: Any) -> list[Any]:
    return value if isinstance(value, list) else [value]


def compact_size(document: Document) -> int:
    return len(json.dumps(document, separators=(",", ":")).replace(" ", ""))


def statement_problems(document: Document) -> list[str]:
    """Least-privilege rules: no `*` action, no `*` resource unless justified."""
    problems = []
    for index, statement in enumerate(_as_list(document.get("Statement", []))):
        sid = statement.get("Sid", f"#{index}")
        for action in _as_list(statement.get("Action", [])):
            if action == "*" or str(action).endswith(":*"):
                problems.append(f"statement {sid}: wildcard action {action!r}")
        if "NotAction" in statement or "NotResource" in statement:
            problems.append(f"statement {sid}: NotAction/NotResource is not allowed")
        resources = _as_list(statement.get("Resource", []))
        if "*" in resources and sid not in JUSTIFIED_WILDCARD_SIDS:
            problems.append(f"statement {sid}: Resource '*' without justification")
    return problems


def trust_problems(document: Document, service: str) -> list[str]:
    expected = SERVICE_PRINCIPALS[service]
    statements = _as_list(document.get("Statement", []))
    if len(statements) != 1:
        return [f"trust policy must have exactly one statement, has {len(statements)}"]
    statement = statements[0]
    principal = statement.get("Principal")
    problems = []
    if not isinstance(principal, dict) or set(principal) != {"Service"}:
        problems.append("trust principal must be a service")
    elif _as_list(principal["Service"]) != [expected]:
        problems.append(f"trust principal must be exactly {expected}, got {principal['Service']!r}")
    if statement.get("Action") != "sts:AssumeRole" or statement.get("Effect") != "Allow":
        problems.append("trust statement must Allow sts:AssumeRole")
    return problems


def check_role(role: RoleDocuments) -> None:
    """Raise ConfigError with every problem AWS (or our rules) would refuse."""
    problems = [f"trust: {p}" for p in trust_problems(role.trust, role.service)]
    for name, document in role.policies.items():
        problems.extend(f"{name}: {p}" for p in statement_problems(document))
    if compact_size(role.trust) > MAX_TRUST_POLICY_CHARS:
        problems.append(f"trust policy longer than {MAX_TRUST_POLICY_CHARS} characters")
    total = sum(compact_size(d) for d in role.policies.values())
    if total > MAX_INLINE_POLICY_CHARS:
        problems.append(
            f"inline policies total {total} characters, AWS allows {MAX_INLINE_POLICY_CHARS}"
        )
    if problems:
        raise ConfigError(f"role {role.name}: " + "; ".join(problems))
