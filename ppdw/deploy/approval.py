"""What a plan amounts to, and whether applying it needs a person's approval. Pure.

Counts follow Terraform: a replacement is one add and one destroy. Approval levels follow
the CDK's `--require-approval`: `never`, `broadening` (the default: a change that grants
more IAM permissions, replaces or deletes something), `any-change`.
"""

from __future__ import annotations

import json
from collections.abc import Iterable, Iterator
from dataclasses import dataclass
from typing import Any, Literal

from ppdw.deploy.plan import Action

ApprovalLevel = Literal["never", "broadening", "any-change"]
APPROVAL_LEVELS: tuple[ApprovalLevel, ...] = ("never", "broadening", "any-change")
Symbol = Literal["+", "~", "-", "-/+"]


@dataclass(frozen=True)
class Summary:
    add: int
    change: int
    destroy: int

    @property
    def total(self) -> int:
        return self.add + self.change + self.destroy

    def line(self) -> str:
        return f"{self.add} to add, {self.change} to change, {self.destroy} to destroy"

    def to_json(self) -> dict[str, int]:
        return {"add": self.add, "change": self.change, "destroy": self.destroy}


def symbol(action: Action) -> Symbol | None:
    if action.kind == "create":
        return "+"
    if action.kind == "delete":
        return "-"
    if action.kind == "update":
        return "-/+" if action.replace else "~"
    return None


def summarize(actions: Iterable[Action]) -> Summary:
    add = change = destroy = 0
    for action in actions:
        mark = symbol(action)
        add += mark in ("+", "-/+")
        change += mark == "~"
        destroy += mark in ("-", "-/+")
    return Summary(add, change, destroy)


# ---------------------------------------------------------------------------- IAM


def _as_list(value: Any) -> list[Any]:
    return value if isinstance(value, list) else [value]


def grants(document: str | None) -> set[tuple[str, str, str]]:
    """(action, resource, condition) triples an IAM document allows (lower-case actions:
    IAM compares them case-insensitively)."""
    if not document:
        return set()
    parsed = json.loads(document) if isinstance(document, str) else document
    out: set[tuple[str, str, str]] = set()
    for statement in _as_list(parsed.get("Statement", [])):
        if statement.get("Effect") != "Allow":
            continue
        condition = json.dumps(statement.get("Condition"), sort_keys=True)
        principal = json.dumps(statement.get("Principal"), sort_keys=True)
        for action in _as_list(statement.get("Action", [])):
            for resource in _as_list(statement.get("Resource", principal)):
                out.add((str(action).lower(), str(resource), condition))
    return out


def _iam_fields(action: Action) -> Iterator[tuple[str, Any, Any]]:
    for change in action.changes:
        if change.field == "trust" or change.field.startswith("policy."):
            yield change.field, change.old, change.new


def broadens_iam(action: Action) -> bool:
    """A new role, or a role whose policies or trust now allow something they did not."""
    if action.resource_type != "role" or action.kind == "delete":
        return False
    if action.kind == "create":
        return True
    return any(grants(new) - grants(old) for _, old, new in _iam_fields(action))


def approval_reasons(actions: Iterable[Action], level: ApprovalLevel) -> list[str]:
    """Why applying `actions` needs approval at `level` (empty: it does not)."""
    if level == "never":
        return []
    reasons: list[str] = []
    for action in actions:
        label = f"{action.resource_type.replace('_', ' ')} {action.name}"
        if action.kind == "noop":
            continue
        if broadens_iam(action):
            reasons.append(f"{label}: grants new IAM permissions")
        elif action.kind == "delete":
            reasons.append(f"{label}: deleted")
        elif action.replace:
            reasons.append(f"{label}: replaced (deleted and created again)")
        elif level == "any-change":
            reasons.append(f"{label}: {action.kind}")
    return reasons
