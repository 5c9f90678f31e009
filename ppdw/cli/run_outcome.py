"""How `ppdw run` ends when it does not succeed: the `--json` document of a failed or
interrupted run, and after Ctrl-C what was kept and the command that resumes."""

from __future__ import annotations

from typing import TYPE_CHECKING

import typer

from ppdw.cli import context, render

if TYPE_CHECKING:
    from ppdw.config.loader import Project
    from ppdw.runs.local import RunRequest
    from ppdw.runs.progress import RunProgress
    from ppdw.targets import TargetContext


def json_after_failure(
    target: TargetContext,
    project: Project,
    request: RunRequest,
    progress: RunProgress,
    as_json: bool,
    exit_code: int,
    error: str,
) -> None:
    """`--json`: the document still comes, with the run as recorded (if it was)."""
    if not as_json:
        return
    from ppdw.runs.report import run_document
    from ppdw.runtime import manifest

    names = project.warehouse.names.dataset(request.dataset)
    bucket = project.warehouse.names.bucket(target.account_id)
    record = manifest.read_run(target.aws.client("s3"), bucket, names, request.run_id) or {
        "run_id": request.run_id,
        "dataset": request.dataset,
    }
    render.print_json(run_document(record, progress, exit_code, error))


def after_interrupt(
    ctx: typer.Context,
    target: TargetContext,
    project: Project,
    request: RunRequest,
    progress: RunProgress,
) -> None:
    """Ctrl-C: say what was kept and the command that resumes."""
    from ppdw.runs.report import after_interrupt as kept_after
    from ppdw.runtime.manifest import format_time
    from ppdw.targets.server_info import live_server
    from ppdw.targets.state import state_dir

    names = project.warehouse.names.dataset(request.dataset)
    chosen = context.state(ctx).target
    ppdw = ["ppdw", *(["--target", chosen] if chosen else [])]
    # `--from` runs on the local runner only; on AWS targets it is not the default.
    options = ["--runner", "local"] if target.kind != "local" else []
    command = [*ppdw, "run", request.dataset, *options]
    command += ["--run-id", request.run_id]
    if request.from_step != "raw":
        command += ["--from", request.from_step]
    else:
        command += ["--as-of", format_time(request.run_time)]
        command += ["--source", request.source] if request.source else []
    # The embedded local target keeps its state as before the command on Ctrl-C; what
    # a served one or an AWS bucket got stays.
    saved = target.kind != "local" or live_server(state_dir(project.root)) is not None
    left = kept_after(
        progress,
        dataset=request.dataset,
        run_id=request.run_id,
        bucket=project.warehouse.names.bucket(target.account_id),
        raw_prefix=names.raw_run_prefix(request.run_id),
        saved=saved,
        first_command=command,
        ppdw=ppdw,
        options=options,
    )
    stopped = [name for name, view in progress.steps.items() if view.state == "interrupted"]
    where = ", ".join(stopped) or "run"
    render.info(f"Run {request.run_id} of {request.dataset}: {where} interrupted by Ctrl-C.")
    for line in left.kept:
        render.info(f"  {line}")
    render.info(f"Retry with: {left.retry}")
