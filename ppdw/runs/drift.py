"""Config drift: the deployed dataset stack no longer matches the dataset's folder.

A run executes the deployed stack (its jobs read the deployed `dataset.json`), so a run
after an edit would silently use the old config. On `local`, where deploying is free and
expected, the run redeploys and says what changed; on AWS targets ppdw never deploys
implicitly (product.md), so the run is refused until the user plans and deploys.

Detection is the deploy planner's own diff (`ControlPlane.plan_datasets`): one read per
resource of the stack, no separate notion of "deployed config".
"""

from __future__ import annotations

import json
from collections.abc import Callable
from typing import Any

from ppdw.aws import objects
from ppdw.config.loader import Project
from ppdw.deploy.plan import Action
from ppdw.errors import UsageError
from ppdw.targets import TargetContext


def stack_changes(target: TargetContext, project: Project, dataset: str) -> list[Action]:
    """What `ppdw deploy DATASET` would change; empty when the stack matches the config."""
    from ppdw.deploy.service import ControlPlane

    return [a for a in ControlPlane(project, target).plan_datasets([dataset]) if a.kind != "noop"]


def describe(target: TargetContext, project: Project, dataset: str, actions: list[Action]) -> str:
    """What changed, in the user's words: dataset.json keys first, else the resources."""
    keys = _changed_config_keys(target, project, dataset)
    if keys:
        return "config changed (" + ", ".join(keys) + ")"
    changed = [f"{a.resource_type.replace('_', ' ')} {a.name}" for a in actions]
    shown = ", ".join(changed[:3]) + (f" and {len(changed) - 3} more" if len(changed) > 3 else "")
    return f"deployed stack differs ({shown})"


def _changed_config_keys(target: TargetContext, project: Project, dataset: str) -> list[str]:
    """Top-level keys of dataset.json that differ from the deployed copy (dotted one level
    down, e.g. `source.url`), or none when there is no deployed copy to compare."""
    wh = project.warehouse
    key = f"{wh.names.dataset(dataset).scripts_prefix}dataset.json"
    deployed = objects.get_json(target.aws.client("s3"), wh.names.bucket(target.account_id), key)
    path = project.dataset_dir(dataset) / "config" / "dataset.json"
    current = json.loads(path.read_text(encoding="utf-8"))
    if not isinstance(deployed, dict) or not isinstance(current, dict):
        return []
    return _diff_keys(deployed, current)


def _diff_keys(old: dict[str, Any], new: dict[str, Any], prefix: str = "") -> list[str]:
    found: list[str] = []
    for name in sorted(set(old) | set(new)):
        before, after = old.get(name), new.get(name)
        if before == after:
            continue
        if isinstance(before, dict) and isinstance(after, dict) and not prefix:
            found.extend(_diff_keys(before, after, f"{name}."))
        else:
            found.append(prefix + name)
    return found


def guard_drift(
    target: TargetContext,
    project: Project,
    dataset: str,
    *,
    ignore: bool,
    say: Callable[[str], None],
    deployed: bool | None = None,
) -> None:
    """Before a run: on local redeploy a drifted stack (and say so), elsewhere refuse it;
    `ignore` (--ignore-drift) runs the deployed stack as it is. `deployed`: whether the
    stack exists, when the caller knows (None: look)."""
    from ppdw.runs.status import is_deployed

    if ignore:
        return
    if deployed is None:
        deployed = is_deployed(target, project.warehouse.names.dataset(dataset))
    # A stack never deployed has not drifted: the runners say what is missing themselves.
    if not deployed:
        return
    actions = stack_changes(target, project, dataset)
    if not actions:
        return
    what = describe(target, project, dataset, actions)
    if target.kind == "local":
        from ppdw.deploy.service import ControlPlane

        ControlPlane(project, target).apply(actions, lambda _: None)
        say(f"{dataset}: {what}, redeployed")
        return
    raise UsageError(
        f"{dataset}: {what} on target {target.name}; the run would use the deployed stack",
        f"review with `ppdw plan {dataset}`, apply with `ppdw deploy {dataset}`, "
        "or run the deployed stack as it is with --ignore-drift",
    )
