"""Orphans: ppdw-managed dataset stacks whose dataset folder is gone from `fda/`.

Deleting `fda/ndc/` after `ppdw deploy ndc` leaves its Lambda, jobs, crawlers, state
machine, schedule and log group running with nobody managing them. They are found by
listing the resource types whose names carry the dataset (the names `naming.py` gives
every dataset stack), keeping those with the `ppdw:managed` tag, and naming the datasets
that no folder declares. Each orphan's resources are then exactly what
`ControlPlane.plan_destroy_dataset` deletes, so plan, status and destroy agree.
"""

from __future__ import annotations

from collections.abc import Callable, Iterator
from dataclasses import dataclass
from typing import Any

from ppdw.aws import listing
from ppdw.config.loader import Project
from ppdw.deploy.plan import Action
from ppdw.deploy.resources import ResourceType
from ppdw.naming import DatasetNames, is_valid_dataset_name
from ppdw.targets import TargetContext

# A character no dataset name holds: in the names of this placeholder dataset it marks
# where a real dataset's name goes.
_SLOT = "\x00"


@dataclass(frozen=True)
class Orphan:
    dataset: str
    actions: tuple[Action, ...]  # what `ppdw destroy DATASET` deletes

    @property
    def command(self) -> str:
        return f"ppdw destroy {self.dataset}"

    def to_json(self) -> dict[str, Any]:
        return {
            "dataset": self.dataset,
            "command": self.command,
            "resources": [{"type": a.resource_type, "name": a.name} for a in self.actions],
        }


def _templates(project: Project) -> dict[ResourceType, list[str]]:
    """Per listable resource type, the names a dataset stack gives it (with the slot)."""
    names: DatasetNames = project.warehouse.names.dataset(_SLOT)
    return {
        "function": [names.fetch_function],
        "job": [names.job("bronze"), names.job("silver")],
        "crawler": [names.crawler("bronze"), names.crawler("silver")],
        "state_machine": [names.state_machine],
        "rule": [names.schedule_rule],
    }


def dataset_of(name: str, template: str) -> str | None:
    """The dataset a resource name belongs to under `template`, if it fits."""
    head, _, tail = template.partition(_SLOT)
    if not (name.startswith(head) and name.endswith(tail)) or len(name) <= len(head + tail):
        return None
    middle = name[len(head) : len(name) - len(tail)]
    return middle if is_valid_dataset_name(middle) else None


def _listed(target: TargetContext) -> dict[ResourceType, Callable[[], Iterator[str]]]:
    def pages(service: str, operation: str, key: str, field: str) -> Iterator[str]:
        return listing.names(target.aws, service, operation, key, field)

    return {
        "function": lambda: pages("lambda", "list_functions", "Functions", "FunctionName"),
        "job": lambda: pages("glue", "get_jobs", "Jobs", "Name"),
        "crawler": lambda: pages("glue", "get_crawlers", "Crawlers", "Name"),
        "state_machine": lambda: pages(
            "stepfunctions", "list_state_machines", "stateMachines", "name"
        ),
        "rule": lambda: pages("events", "list_rules", "Rules", "Name"),
    }


def candidate_datasets(target: TargetContext, project: Project) -> set[str]:
    """Datasets named by a stack resource on the target that no folder declares."""
    found: set[str] = set()
    listed = _listed(target)
    for resource_type, templates in _templates(project).items():
        for name in listed[resource_type]():
            for template in templates:
                dataset = dataset_of(name, template)
                if dataset is not None and dataset not in project.datasets:
                    found.add(dataset)
    return found


def find_orphans(
    target: TargetContext,
    project: Project,
    plan_destroy: Callable[[str], list[Action]],
) -> list[Orphan]:
    """Every orphaned stack with the managed resources `destroy` would delete."""
    orphans = []
    for dataset in sorted(candidate_datasets(target, project)):
        actions = tuple(a for a in plan_destroy(dataset) if a.kind == "delete")
        # Only the scripts prefix left, or only unmanaged look-alikes: nothing ppdw runs.
        if any(a.resource_type != "prefix" for a in actions):
            orphans.append(Orphan(dataset, actions))
    return orphans
