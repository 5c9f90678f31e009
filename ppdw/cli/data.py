"""Data-plane commands: run, status (and revert, from its own module)."""

from __future__ import annotations

from datetime import UTC, datetime
from enum import StrEnum
from typing import TYPE_CHECKING, Annotated, Any

import typer

from ppdw.cli import complete, context, render, run_outcome
from ppdw.errors import PpdwError, UsageError

if TYPE_CHECKING:
    from ppdw.config.loader import Project
    from ppdw.runs.local import RunRequest
    from ppdw.targets import TargetContext


class Runner(StrEnum):
    stepfunctions = "stepfunctions"
    local = "local"


class EngineChoice(StrEnum):
    arrow = "arrow"
    spark = "spark"


class FromStep(StrEnum):
    raw = "raw"
    bronze = "bronze"
    silver = "silver"


def parse_as_of(text: str) -> datetime:
    """ISO-8601; naive means UTC; must be whole seconds."""
    try:
        moment = datetime.fromisoformat(text.strip().replace("Z", "+00:00"))
    except ValueError as exc:
        raise UsageError(
            f"--as-of {text!r} is not an ISO-8601 date/time",
            "example: --as-of 2026-11-01T06:00:00Z",
        ) from exc
    if moment.tzinfo is None:
        moment = moment.replace(tzinfo=UTC)
    if moment.microsecond:
        raise UsageError(f"--as-of {text!r}: the run time is whole seconds")
    return moment.astimezone(UTC)


def run(
    ctx: typer.Context,
    dataset: Annotated[
        str,
        typer.Argument(
            metavar="DATASET",
            autocompletion=complete.datasets,
            help="Dataset name (folder under fda/).",
        ),
    ],
    source: Annotated[
        str | None,
        typer.Option("--source", metavar="URL|PATH", help="Source URL or local file for this run."),
    ] = None,
    as_of: Annotated[
        str | None,
        typer.Option("--as-of", metavar="ISO8601", help="Run time, ISO-8601 (naive = UTC)."),
    ] = None,
    run_id: Annotated[
        str | None,
        typer.Option(
            "--run-id",
            metavar="ID",
            autocompletion=complete.run_ids,
            help="Run id (default from time).",
        ),
    ] = None,
    runner: Annotated[
        Runner | None, typer.Option("--runner", help="stepfunctions (AWS default) or local.")
    ] = None,
    from_step: Annotated[
        FromStep,
        typer.Option("--from", help="Start from raw, or re-run bronze/silver of --run-id."),
    ] = FromStep.raw,
    no_wait: Annotated[
        bool, typer.Option("--no-wait", help="Start the execution and return its ARN.")
    ] = False,
    force: Annotated[
        bool,
        typer.Option(
            "--force", help="Run even if unchanged or dated later than now; override delete guard."
        ),
    ] = False,
    engine: Annotated[
        EngineChoice | None,
        typer.Option("--engine", help="Compute bronze/silver with arrow or spark for this run."),
    ] = None,
    ignore_drift: Annotated[
        bool,
        typer.Option(
            "--ignore-drift", help="Run the deployed stack even if it differs from the config."
        ),
    ] = False,
    as_json: Annotated[
        bool, typer.Option("--json", help="No live view; one JSON document on stdout at the end.")
    ] = False,
) -> None:
    """Run the pipeline of DATASET (fetch -> bronze -> silver) and follow it.

    Example: ppdw run nsde --as-of 2026-11-01T06:00:00Z
    """
    from ppdw.naming import default_run_id, is_valid_run_id

    project = context.load_project(ctx)
    project.dataset(dataset)
    if run_id is not None and not is_valid_run_id(run_id):
        raise UsageError(
            f"--run-id {run_id!r} is not a valid run id",
            "use letters, digits, '-' and '_' (at most 80, starting with a letter or digit)",
        )
    if from_step is not FromStep.raw and run_id is None:
        raise UsageError(f"--from {from_step.value} needs --run-id of an existing run")
    if from_step is not FromStep.raw and (as_of or source):
        raise UsageError(
            f"--from {from_step.value} reuses the run's time and data", "drop --as-of/--source"
        )
    run_time = parse_as_of(as_of) if as_of else datetime.now(UTC).replace(microsecond=0)
    if as_of:
        from ppdw.runs.guards import check_not_future

        check_not_future(run_time, force=force)
    if engine is EngineChoice.spark:
        _require_spark()
    with context.open_target(ctx, project) as target:
        from ppdw.runs.drift import guard_drift

        chosen = _choose_runner(target, runner)
        if chosen is Runner.stepfunctions:
            guard_drift(target, project, dataset, ignore=ignore_drift, say=render.info)
            if from_step is not FromStep.raw:
                raise UsageError("--from bronze|silver needs --runner local")
            if engine is not None:
                raise UsageError(
                    "--engine needs --runner local",
                    "on Step Functions the jobs run the engine deploy gave them "
                    "(`engine` in dataset.json)",
                )
            _run_stepfunctions(
                target,
                project,
                dataset,
                source,
                run_time,
                run_id or default_run_id(dataset, run_time),
                force,
                no_wait,
                as_json,
            )
            return
        if no_wait:
            raise UsageError("--no-wait needs --runner stepfunctions")
        from ppdw.runs.local import (
            RunRequest,
            check_resumable,
            prepare_local_target,
            resolve_source,
        )
        from ppdw.runs.report import describe_source

        resolved = (
            resolve_source(source, project, target, dataset) if from_step is FromStep.raw else None
        )
        prepare_local_target(target, project, dataset, say=render.info)
        guard_drift(target, project, dataset, ignore=ignore_drift, say=render.info)

        request = RunRequest(
            dataset=dataset,
            run_id=run_id or default_run_id(dataset, run_time),
            run_time=run_time,
            source=resolved,
            from_step=from_step.value,
            force=force,
            engine=engine.value if engine is not None else None,
        )
        if from_step is not FromStep.raw:
            request = _with_time(request, check_resumable(target, project, request))
        from ppdw.runs.guards import checked_request

        request = checked_request(target, project, request, explicit_time=as_of is not None)
        shown = (
            describe_source(project, dataset, source, target.kind == "local")
            if from_step is FromStep.raw
            else f"raw data of run {request.run_id}"
        )
        _run_local(ctx, target, project, request, as_json, shown)


def _require_spark() -> None:
    from ppdw.runtime.spark.session import INSTALL_HINT, pyspark_available

    if not pyspark_available():
        raise UsageError(
            "--engine spark needs pyspark, which is not installed (extra 'spark')", INSTALL_HINT
        )


def _with_time(request: RunRequest, run_time: datetime) -> RunRequest:
    from dataclasses import replace

    return replace(request, run_time=run_time)


def _choose_runner(target: TargetContext, runner: Runner | None) -> Runner:
    if runner is None:
        return Runner.local if target.kind == "local" else Runner.stepfunctions
    if runner is Runner.stepfunctions and target.kind == "local":
        raise UsageError(
            "the local target has no Step Functions runner",
            "use --runner local (the default here), or --target aws",
        )
    return runner


def _run_local(
    ctx: typer.Context,
    target: TargetContext,
    project: Project,
    request: RunRequest,
    as_json: bool,
    source: str,
) -> None:
    """`source`: what the run reads, as the header names it."""
    from ppdw.runs.local import run_local
    from ppdw.runs.progress import QuietProgress, RunProgress

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
    target: TargetContext,
    project: Project,
    dataset: str,
    source: str | None,
    run_time: datetime,
    run_id: str,
    force: bool,
    no_wait: bool,
    as_json: bool,
) -> None:
    from ppdw.runs.progress import QuietProgress, RunProgress
    from ppdw.runs.report import describe_source, run_document
    from ppdw.runs.stepfunctions import follow, start

    if source is not None and "://" not in source:
        raise UsageError(
            f"--source {source}: the Step Functions runner fetches in Lambda, which cannot "
            "read a local file",
            "give a URL (https://, s3://), or use --runner local",
        )
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


def _report(target: TargetContext, project: Project, dataset: str, record: dict[str, Any]) -> None:
    from ppdw.runs.report import summary_line
    from ppdw.runs.status import dataset_status

    steps = record.get("steps") or {}
    if record.get("already_applied"):
        render.info(
            f"Run {record.get('run_id')} of {dataset} was already applied "
            f"(finished {record.get('finished_at') or '?'}): nothing changed."
        )
    elif record.get("status") == "unchanged":
        render.info(
            f"Source unchanged since run {(steps.get('fetch') or {}).get('unchanged_since')}: "
            "nothing to do."
        )
    else:
        render.info(summary_line(record))
    render_status([dataset_status(target, project, dataset)])


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
