"""Desired specs + current state -> actions. No mutating AWS calls here.

`AwsState` reads through the wrappers (get/describe/list only) and normalizes answers with
the same `ppdw.deploy.fields` functions the specs use. The planner itself is pure: give it
any `StateReader` (tests use a dict).
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field
from typing import Any, Literal, Protocol

from ppdw.deploy.resources import ADOPTABLE, ORDER, ResourceSpec, ResourceType
from ppdw.errors import PpdwError
from ppdw.naming import MANAGED_TAG

ActionKind = Literal["create", "update", "delete", "noop"]
TargetKind = Literal["local", "aws"]
#: moto lacks update_job / update_crawler: on `local` these are replaced instead.
REPLACED_ON_LOCAL: frozenset[str] = frozenset({"job", "crawler"})


@dataclass(frozen=True)
class Observed:
    """A resource as it exists: normalized fields and its tags."""

    fields: Mapping[str, Any]
    tags: Mapping[str, str] = field(default_factory=dict)

    @property
    def managed(self) -> bool:
        return self.tags.get(MANAGED_TAG) == "true"


class StateReader(Protocol):
    def read(self, resource_type: ResourceType, name: str) -> Observed | None: ...


@dataclass(frozen=True)
class FieldChange:
    field: str
    old: Any
    new: Any


@dataclass(frozen=True)
class Action:
    kind: ActionKind
    resource_type: ResourceType
    name: str
    message: str
    changes: tuple[FieldChange, ...] = ()
    #: Update by delete + create (local target, where moto cannot update in place).
    replace: bool = False
    spec: ResourceSpec | None = field(default=None, compare=False, repr=False)

    def to_json(self) -> dict[str, Any]:
        return {
            "kind": self.kind,
            "resource_type": self.resource_type,
            "name": self.name,
            "message": self.message,
            "changes": [{"field": c.field, "old": c.old, "new": c.new} for c in self.changes],
        }


class UnmanagedResourceError(PpdwError):
    """A resource with a ppdw name exists without the ppdw:managed tag."""


def diff_fields(spec: ResourceSpec, observed: Observed) -> tuple[FieldChange, ...]:
    """Field-by-field differences; extra keys only count under `exact_prefixes`."""
    changes = [
        FieldChange(name, observed.fields.get(name), value)
        for name, value in spec.fields.items()
        if observed.fields.get(name) != value
    ]
    changes.extend(
        FieldChange(name, value, None)
        for name, value in observed.fields.items()
        if name not in spec.fields and name.startswith(spec.exact_prefixes or ("\0",))
    )
    changes.extend(
        FieldChange(f"tags.{key}", observed.tags.get(key), value)
        for key, value in spec.tags.items()
        if observed.tags.get(key) != value
    )
    return tuple(sorted(changes, key=lambda c: c.field))


def plan_resource(
    spec: ResourceSpec, observed: Observed | None, target_kind: TargetKind = "aws"
) -> Action:
    label = spec.resource_type.replace("_", " ")
    if observed is None:
        return Action(
            "create", spec.resource_type, spec.name, f"create {label} {spec.name}", spec=spec
        )
    if spec.tags and not observed.managed and spec.resource_type not in ADOPTABLE:
        raise UnmanagedResourceError(
            f"{label} {spec.name} exists but is not managed by ppdw "
            f"(tag {MANAGED_TAG}=true missing): ppdw will not change it",
            f"delete or rename it, or tag it {MANAGED_TAG}=true to let ppdw manage it",
        )
    changes = diff_fields(spec, observed)
    if not changes:
        return Action(
            "noop", spec.resource_type, spec.name, f"{label} {spec.name} up to date", spec=spec
        )
    fields = ", ".join(c.field for c in changes)
    replace = (
        target_kind == "local"
        and spec.resource_type in REPLACED_ON_LOCAL
        and any(not c.field.startswith("tags.") for c in changes)
    )
    how = " (local target: delete + create, moto cannot update it in place)" if replace else ""
    return Action(
        "update",
        spec.resource_type,
        spec.name,
        f"update {label} {spec.name}: {fields}{how}",
        changes,
        replace,
        spec,
    )


def plan(
    specs: Iterable[ResourceSpec], state: StateReader, target_kind: TargetKind = "aws"
) -> list[Action]:
    """One action per spec, in creation order (stable within a type)."""
    ordered = sorted(specs, key=lambda s: ORDER.index(s.resource_type))
    return [plan_resource(s, state.read(s.resource_type, s.name), target_kind) for s in ordered]


def plan_destroy(targets: Iterable[tuple[ResourceType, str]], state: StateReader) -> list[Action]:
    """Delete actions for what exists and is ppdw-managed, in reverse creation order.

    Resources of the same name without the managed tag are reported and left alone.
    """
    ordered = sorted(targets, key=lambda t: -ORDER.index(t[0]))
    actions = []
    for resource_type, name in ordered:
        label = resource_type.replace("_", " ")
        observed = state.read(resource_type, name)
        if observed is None:
            continue
        if not observed.managed and resource_type not in ADOPTABLE:
            actions.append(
                Action(
                    "noop",
                    resource_type,
                    name,
                    f"{label} {name} is not managed by ppdw "
                    f"(no tag {MANAGED_TAG}=true): left alone",
                )
            )
            continue
        actions.append(Action("delete", resource_type, name, f"delete {label} {name}"))
    return actions


def has_changes(actions: Iterable[Action]) -> bool:
    return any(a.kind != "noop" for a in actions)
