"""Data-plane commands: run, status (and revert, from its own module)."""

from __future__ import annotations

from datetime import datetime
from typing import TYPE_CHECKING, Annotated, Any

import typer

from ppdw.cli import complete, context, render, run_outcome
from ppdw.cli import run_options as opt
from ppdw.contracts.run_record import RunRecord
from ppdw.errors import PpdwError
from ppdw.runs import request as run_request

if TYPE_CHECKING:
    from ppdw.config.loader import Project
    from ppdw.runs.request import RunFlags
    from ppdw.targets import TargetContext

#: How an unchanged run's fetch knew (`steps.fetch.unchanged_by`), as the summary says it.
UNCHANGED_BY = {"download": " (the same download)", "files": " (the same files, re-packed)"}


def run(
    ctx: typer.Context,
    dataset: opt.Dataset,
    source: opt.Source = None,
    as_of: opt.AsOf = None,
    run_id: opt.RunId = None,
    runner: opt.RunnerOption = None,
    from_step: opt.From = opt.FromStep.raw,
    no_wait: opt.NoWait = False,
    force: opt.Force = False,
    engine: opt.Engine = None,
    ignore_drift: opt.IgnoreDrift = False,
    as_json: opt.Json = False,
) -> None:
    """Run the pipeline of DATASET (fetch -> bronze -> silver) and follow it.

    Example: ppdw run nsde --as-of 2026-11-01T06:00:00Z
    """
    flags = run_request.RunFlags(
        dataset=dataset, source=source, as_of=as_of, run_id=run_id, no_wait=no_wait,
        runner=runner.value if runner else None, from_step=from_step.value, force=force,
        engine=engine.value if engine else None, ignore_drift=ignore_drift)  # fmt: skip
    project = context.load_project(ctx)
    run_time = run_request.check_flags(project, flags)
    with context.open_target(ctx, project) as target:
        if run_request.choose_runner(target, flags) == "stepfunctions":
            _run_stepfunctions(target, project, flags, run_time, as_json)
        else:
            _run_local(ctx, target, project, flags, run_time, as_json)


def _run_local(
    ctx: typer.Context,
    target: TargetContext,
    project: Project,
    flags: RunFlags,
    run_time: datetime,
    as_json: bool,
) -> None:
    """The local runner, followed in a live view (or quietly, for --json)."""
    from ppdw.runs.local import run_local
    from ppdw.runs.progress import QuietProgress, RunProgress

    request, source = run_request.local_request(target, project, flags, run_time, render.info)
    title = (
        f"run {request.run_id} of {request.dataset} (local runner, target {target.name})\n"
        f"source: {source}"
    )
    progress = QuietProgress() if as_json else RunProgress(title)
    try:
        with progress:
            record = run_local(target, project, request, progress)
    except KeyboardInterrupt:
        run_outcome.after_interrupt(ctx, target, project, request, progress)
        run_outcome.json_after_failure(
            target, project, request, progress, as_json, 130, "interrupted"
        )
        raise
    except PpdwError as exc:
        code = int(exc.exit_code)
        run_outcome.json_after_failure(
            target, project, request, progress, as_json, code, exc.message
        )
        raise
    if as_json:
        from ppdw.runs.report import run_document

        render.print_json(run_document(record, progress, 0))
        return
    _report(target, project, request.dataset, record)


def _run_stepfunctions(
    target: TargetContext, project: Project, flags: RunFlags, run_time: datetime, as_json: bool
) -> None:
    from ppdw.runs.drift import guard_drift
    from ppdw.runs.progress import QuietProgress, RunProgress
    from ppdw.runs.report import describe_source, run_document
    from ppdw.runs.request import check_stepfunctions_flags, run_id_of
    from ppdw.runs.stepfunctions import follow, start

    dataset, source, no_wait = flags.dataset, flags.source, flags.no_wait
    guard_drift(target, project, dataset, ignore=flags.ignore_drift, say=render.info)
    check_stepfunctions_flags(flags)
    run_id, force = run_id_of(flags, run_time), flags.force
    arn = start(
        target, project, dataset, run_id=run_id, run_time=run_time, source=source, force=force
    )
    if no_wait:
        if as_json:
            render.print_json({"run_id": run_id, "execution_arn": arn, "status": "started"})
            return
        typer.echo(arn)
        render.info(
            f"Started; follow it in the Step Functions console, or with `ppdw status {dataset}`."
        )
        return
    title = (
        f"execution {run_id} of {dataset} (Step Functions, target {target.name})\n"
        f"source: {describe_source(project, dataset, source, False)}"
    )
    progress = QuietProgress() if as_json else RunProgress(title)
    with progress:
        record = follow(target, project, dataset, arn, progress)
    if as_json:
        render.print_json(run_document(record, progress, 0))
        return
    _report(target, project, dataset, record)


def _report(target: TargetContext, project: Project, dataset: str, record: RunRecord) -> None:
    from ppdw.runs.report import summary_line
    from ppdw.runs.status import dataset_status

    steps = record.get("steps") or {}
    if record.get("already_applied"):
        render.info(
            f"Run {record.get('run_id')} of {dataset} was already applied "
            f"(finished {record.get('finished_at') or '?'}): nothing changed."
        )
    elif record.get("status") == "unchanged":
        fetched = steps.get("fetch") or {}
        how = UNCHANGED_BY.get(str(fetched.get("unchanged_by")), "")
        render.info(
            f"Source unchanged since run {fetched.get('unchanged_since')}{how}: nothing to do."
        )
    else:
        render.info(summary_line(record))
    # The run just used the dataset's Lambda, jobs and state machine: no need to look.
    render_status([dataset_status(target, project, dataset, deployed=True)])


def render_status(datasets: list[dict[str, Any]]) -> None:
    from rich.table import Table

    console = render.out()
    for item in datasets:
        table = Table(title=item["dataset"], title_justify="left", show_header=False)
        table.add_column("what", style="bold")
        table.add_column("value")
        last = item["last_run"]
        table.add_row("deployed", "yes" if item["deployed"] else "no")
        table.add_row(
            "last run",
            "none"
            if last is None
            else f"{last['run_id']}  {last['status']}  "
            f"{last['started_at']} -> {last['finished_at'] or '...'}"
            + (f"\nreason: {last['error']}" if last.get("error") else ""),
        )
        change = item.get("last_change_run")
        table.add_row(
            "last change",
            "none"
            if change is None
            else f"{change['run_id']}  (run time {change['run_time']}): "
            + ", ".join(f"{k} {v:,}" for k, v in change["changes"].items()),
        )
        raw, bronze, silver = item["raw"], item["bronze"], item["silver"]
        plural = render.plural
        table.add_row("raw", f"{plural(raw['runs'], 'run')}, latest {raw['latest_run_id'] or '-'}")
        table.add_row(
            "bronze",
            f"{plural(bronze['partitions'], 'partition')}, latest "
            f"{bronze['latest_partition'] or '-'} ({plural(bronze['latest_rows'], 'row')})",
        )
        changes = silver["last_changes"]
        table.add_row(
            "silver",
            f"{plural(silver['rows'], 'row')}, {silver['current_rows']:,} current; last run: "
            f"INSERT {changes['INSERT']:,}, UPDATE {changes['UPDATE']:,}, "
            f"DELETE {changes['DELETE']:,}",
        )
        console.print(table)


def render_orphans(orphans: list[dict[str, Any]]) -> None:
    """Stacks left by a deleted dataset folder, each with the command that removes it."""
    if not orphans:
        return
    console = render.out()
    console.print("Orphaned stacks (dataset folder gone, resources still deployed):", style="bold")
    for orphan in orphans:
        kinds = ", ".join(f"{r['type'].replace('_', ' ')} {r['name']}" for r in orphan["resources"])
        console.print(f"  {orphan['dataset']}: {kinds}", soft_wrap=True)
        console.print(f"    remove with: {orphan['command']}", soft_wrap=True)


def status(
    ctx: typer.Context,
    dataset: Annotated[
        str | None,
        typer.Argument(
            metavar="DATASET", autocompletion=complete.datasets, help="One dataset (default: all)."
        ),
    ] = None,
    as_json: Annotated[bool, typer.Option("--json", help="One JSON document on stdout.")] = False,
) -> None:
    """Show, per dataset: deployed?, last run, raw runs, bronze and silver contents.

    Example: ppdw status nsde --json
    """
    from ppdw.runs.status import collect_status

    project = context.load_project(ctx)
    names = [project.dataset(dataset).name] if dataset else sorted(project.datasets)
    with context.open_target(ctx, project, read_only=True) as target:
        document = collect_status(target, project, names, orphans=dataset is None)
    if as_json:
        render.print_json(document)
    else:
        render_status(document["datasets"])
        render_orphans(document.get("orphans") or [])


def register(app: typer.Typer) -> None:
    from ppdw.cli.revert import revert

    app.command("run")(run)
    app.command("status")(status)
    app.command("revert")(revert)
