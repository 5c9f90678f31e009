"""Show a plan, ask for approval where the level says so, apply it, report.

Rule: rendering and prompting only; the plan and the calls belong to
`ppdw.deploy.service` (loaded inside the functions: boto3-heavy). Shared by the
control-plane commands (`ppdw.cli.control`).
"""

from __future__ import annotations

import sys
from enum import StrEnum
from typing import TYPE_CHECKING, Annotated, Any

import typer

from ppdw.cli import render
from ppdw.errors import UsageError

if TYPE_CHECKING:
    from ppdw.config.loader import Project
    from ppdw.deploy.plan import Action
    from ppdw.deploy.service import ControlPlane
    from ppdw.targets import TargetContext


class Approval(StrEnum):
    never = "never"
    broadening = "broadening"
    any_change = "any-change"


RequireApproval = Annotated[
    Approval,
    typer.Option(
        "--require-approval",
        help="On AWS targets, ask before applying: never, broadening (new IAM permissions, "
        "replacements, deletions) or any-change.",
    ),
]


def info(message: str) -> None:
    """One message line on stderr, never wrapped (people grep logs for these)."""
    render.err().print(message, soft_wrap=True)


def open_plane(project: Project, target: TargetContext) -> ControlPlane:
    from ppdw.deploy.service import ControlPlane

    return ControlPlane(project, target)


def report(action: Action) -> None:
    from ppdw.deploy.approval import symbol

    mark = symbol(action)
    info(f"  {mark} {action.message}" if mark else action.message)


def plan_document(actions: list[Action], target: str) -> dict[str, Any]:
    from ppdw.deploy.approval import summarize

    summary = summarize(actions)
    return {
        "target": target,
        "changes": summary.total,
        "summary": summary.to_json(),
        "actions": [a.to_json() for a in actions],
    }


def show(
    actions: list[Action], title: str, as_json: bool, target: str, next_step: str | None
) -> int:
    """Print a plan (text or JSON); return the number of changes."""
    from ppdw.deploy.approval import summarize

    changes = summarize(actions).total
    if as_json:
        render.print_json(plan_document(actions, target))
        return changes
    for action in actions:
        if action.kind == "noop" and action.message.endswith("left alone"):
            info(action.message)
    if changes:
        render.plan(actions, f"{title} (target {target}):", next_step)
    else:
        info(f"No changes on target {target}: the resources match the configuration.")
    return changes


def is_terminal() -> bool:
    """A person can answer: stdin and stderr are a terminal."""
    return sys.stdin.isatty() and sys.stderr.isatty()


def approve(target: TargetContext, actions: list[Action], level: Approval, yes: bool) -> None:
    """AWS targets: ask before applying what the level names; the local target never asks."""
    from ppdw.deploy.approval import approval_reasons

    if target.kind == "local" or yes:
        return
    reasons = approval_reasons(actions, level.value)  # type: ignore[arg-type]
    if not reasons:
        return
    listed = "; ".join(reasons[:5]) + (f"; and {len(reasons) - 5} more" if len(reasons) > 5 else "")
    if not is_terminal():
        raise UsageError(
            f"approval needed on target {target.name}: {listed}",
            "review the plan, then re-run with --yes (or --require-approval never)",
        )
    info(f"Needs approval: {listed}")
    if not typer.confirm(f"Apply these changes on target {target.name}?", default=False, err=True):
        raise UsageError("nothing applied: not approved")


def apply_plan(
    target: TargetContext,
    plane: ControlPlane,
    actions: list[Action],
    *,
    title: str,
    as_json: bool,
    level: Approval,
    yes: bool,
) -> None:
    """Show the plan on AWS targets, ask where needed, apply, report."""
    from ppdw.deploy.approval import summarize

    if not as_json and (target.kind != "local" or not summarize(actions).total):
        show(actions, title, False, target.name, None)
    approve(target, actions, level, yes)
    applied = plane.apply(actions, (lambda _: None) if as_json else report)
    if as_json:
        render.print_json({**plan_document(actions, target.name), "applied": applied})
    elif applied:
        info(f"Applied on target {target.name}: {summarize(actions).line()}.")
