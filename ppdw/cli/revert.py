"""`ppdw revert DATASET`: show what undoing the last applied run changes, ask, do it.

It asks on every target, the local one included: a revert removes history's newest
layer, so it needs `--yes` or a person at a terminal; without either it exits 2.
"""

from __future__ import annotations

import sys
from typing import TYPE_CHECKING, Annotated

import typer

from ppdw.cli import complete, context, render
from ppdw.errors import UsageError

if TYPE_CHECKING:
    from ppdw.runs.revert import RevertPlan
    from ppdw.targets import TargetContext


def revert(
    ctx: typer.Context,
    dataset: Annotated[
        str,
        typer.Argument(
            metavar="DATASET",
            autocompletion=complete.datasets,
            help="Dataset name (folder under fda/).",
        ),
    ],
    yes: Annotated[bool, typer.Option("--yes", help="Revert without asking.")] = False,
    dry_run: Annotated[
        bool, typer.Option("--dry-run", help="Show what would be reverted; change nothing.")
    ] = False,
    as_json: Annotated[
        bool, typer.Option("--json", help="The plan as one JSON document on stdout.")
    ] = False,
) -> None:
    """Undo the last applied run of DATASET: remove the silver versions it created and open
    again the ones it closed; the run before it becomes the last applied run.

    Example: ppdw revert nsde --dry-run
    """
    from ppdw.runs.revert import apply, open_silver, plan

    project = context.load_project(ctx)
    name = project.dataset(dataset).name
    with context.open_target(ctx, project) as target:
        silver = open_silver(target, project, name)
        shown = plan(silver)
        if as_json:
            render.print_json({**shown.to_json(), "dry_run": dry_run})
        else:
            _show(target, name, shown)
        if dry_run:
            return
        _approve(target, name, yes)
        record = apply(target, project, silver, shown, say=_say)
    revert_entry = record.get("revert") or {}
    previous = revert_entry.get("previous_run_id")
    _say(
        f"Reverted run {record.get('run_id')} of {name}; "
        + (f"the last applied run is now {previous}." if previous else "silver is empty again.")
    )


def _show(target: TargetContext, dataset: str, shown: RevertPlan) -> None:
    from rich.table import Table

    reverting = shown.reverting
    previous = reverting.previous
    back_to = (
        f"run {previous.get('run_id')} (run time {previous.get('run_time')})"
        if previous
        else "no run (silver empty)"
    )
    _say(
        f"Revert run {reverting.run_id} of {dataset} on target {target.name} "
        f"(run time {reverting.run_time:%Y-%m-%dT%H:%M:%SZ}); silver goes back to {back_to}."
    )
    if reverting.resuming:
        _say("Its versions are out of silver already: only the last steps are left.")
        return
    if not shown.changes:
        _say("It changed no silver partition: only the order of runs moves back.")
        return
    table = Table(show_header=True, header_style="bold")
    for column in ("partition", "versions removed", "versions reopened", "rows after"):
        table.add_column(column, justify="left" if column == "partition" else "right")
    for change in shown.changes:
        table.add_row(
            change.year_month,
            f"{change.removed:,}",
            f"{change.reopened:,}",
            f"{change.rows_after:,}" if change.rows_after else "0 (partition removed)",
        )
    render.err().print(table, soft_wrap=True)


def _say(message: str) -> None:
    """One line per message, never wrapped: the output stays readable in a CI log."""
    render.err().print(message, soft_wrap=True)


def _terminal() -> bool:
    """A person can answer: stdin and stderr are a terminal."""
    return sys.stdin.isatty() and sys.stderr.isatty()


def _approve(target: TargetContext, dataset: str, yes: bool) -> None:
    if yes:
        return
    if not _terminal():
        raise UsageError(
            f"revert of {dataset} on target {target.name} needs approval",
            "review it with --dry-run, then re-run with --yes",
        )
    if not typer.confirm(f"Revert this run of {dataset}?", default=False, err=True):
        raise UsageError("nothing reverted: not approved")
