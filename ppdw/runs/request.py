"""What `ppdw run` was asked, checked: the flag rules, the runner choice and the request.

Rule: the CLI parses flags into `RunFlags` and calls `check_flags` (rules that need no
target), then, with the target open, `choose_runner` and either `stepfunctions_flags` or
`local_request`. Each refusal is a UsageError naming the flag and the way out; the order
of the checks is the order a user meets them (dataset, run id, --from, --as-of, engine,
runner).
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, replace
from datetime import UTC, datetime
from typing import TYPE_CHECKING, Literal

from ppdw.errors import UsageError

if TYPE_CHECKING:
    from ppdw.config.loader import Project
    from ppdw.runs.local import FromStep, RunRequest
    from ppdw.targets import TargetContext

RunnerName = Literal["stepfunctions", "local"]


@dataclass(frozen=True)
class RunFlags:
    """`ppdw run`'s options as typed (None: not given)."""

    dataset: str
    source: str | None = None
    as_of: str | None = None
    run_id: str | None = None
    runner: RunnerName | None = None
    from_step: FromStep = "raw"
    no_wait: bool = False
    force: bool = False
    engine: str | None = None
    ignore_drift: bool = False


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


def check_flags(project: Project, flags: RunFlags) -> datetime:
    """The rules that need no target; returns the run time (--as-of, else now)."""
    from ppdw.naming import is_valid_run_id
    from ppdw.runs.guards import check_not_future

    project.dataset(flags.dataset)  # an unknown dataset is the first thing to say
    if flags.run_id is not None and not is_valid_run_id(flags.run_id):
        raise UsageError(
            f"--run-id {flags.run_id!r} is not a valid run id",
            "use letters, digits, '-' and '_' (at most 80, starting with a letter or digit)",
        )
    if flags.from_step != "raw" and flags.run_id is None:
        raise UsageError(f"--from {flags.from_step} needs --run-id of an existing run")
    if flags.from_step != "raw" and (flags.as_of or flags.source):
        raise UsageError(
            f"--from {flags.from_step} reuses the run's time and data", "drop --as-of/--source"
        )
    if flags.as_of:
        run_time = parse_as_of(flags.as_of)
        check_not_future(run_time, force=flags.force)
    else:
        run_time = datetime.now(UTC).replace(microsecond=0)
    if flags.engine == "spark":
        _require_spark()
    return run_time


def _require_spark() -> None:
    from ppdw.runtime.spark.session import INSTALL_HINT, pyspark_available

    if not pyspark_available():
        raise UsageError(
            "--engine spark needs pyspark, which is not installed (extra 'spark')", INSTALL_HINT
        )


def choose_runner(target: TargetContext, flags: RunFlags) -> RunnerName:
    """Step Functions by default on AWS targets, the local runner on `local`."""
    runner = flags.runner or ("local" if target.kind == "local" else "stepfunctions")
    if runner == "stepfunctions" and target.kind == "local":
        raise UsageError(
            "the local target has no Step Functions runner",
            "use --runner local (the default here), or --target aws",
        )
    return runner


def check_stepfunctions_flags(flags: RunFlags) -> None:
    """The flags the Step Functions runner cannot take (after the drift guard)."""
    if flags.from_step != "raw":
        raise UsageError("--from bronze|silver needs --runner local")
    if flags.engine is not None:
        raise UsageError(
            "--engine needs --runner local",
            "on Step Functions the jobs run the engine deploy gave them (`engine` in dataset.json)",
        )
    if flags.source is not None and "://" not in flags.source:
        raise UsageError(
            f"--source {flags.source}: the Step Functions runner fetches in Lambda, which "
            "cannot read a local file",
            "give a URL (https://, s3://), or use --runner local",
        )


def run_id_of(flags: RunFlags, run_time: datetime) -> str:
    from ppdw.naming import default_run_id

    return flags.run_id or default_run_id(flags.dataset, run_time)


def local_request(
    target: TargetContext,
    project: Project,
    flags: RunFlags,
    run_time: datetime,
    say: Callable[[str], None],
) -> tuple[RunRequest, str]:
    """The local runner's request, checked against the warehouse (deployed on the way if
    needed, drift, resumability, run order), and the source as the header names it."""
    from ppdw.runs.guards import checked_request
    from ppdw.runs.local import RunRequest, check_resumable, resolve_source
    from ppdw.runs.report import describe_source

    if flags.no_wait:
        raise UsageError("--no-wait needs --runner stepfunctions")
    dataset, fresh = flags.dataset, flags.from_step == "raw"
    resolved = resolve_source(flags.source, project, target, dataset) if fresh else None
    _check_stack(target, project, dataset, flags.ignore_drift, say)
    request = RunRequest(
        dataset=dataset,
        run_id=run_id_of(flags, run_time),
        run_time=run_time,
        source=resolved,
        from_step=flags.from_step,
        force=flags.force,
        engine=flags.engine,
    )
    if not fresh:
        request = replace(request, run_time=check_resumable(target, project, request))
    request = checked_request(target, project, request, explicit_time=flags.as_of is not None)
    if not fresh:
        return request, f"raw data of run {request.run_id}"
    return request, describe_source(project, dataset, flags.source, target.kind == "local")


def _check_stack(
    target: TargetContext,
    project: Project,
    dataset: str,
    ignore_drift: bool,
    say: Callable[[str], None],
) -> None:
    """The dataset's stack exists (deployed on `local` if missing) and matches its config
    (`guard_drift`), unless the local target holds a receipt for exactly these inputs."""
    from ppdw.runs.drift import guard_drift
    from ppdw.runs.local import prepare_local_target
    from ppdw.targets import receipt

    names, root = project.warehouse.names, project.root
    if receipt.holds(target, names, root, dataset):
        return
    if not prepare_local_target(target, project, dataset, say=say):
        # On local the stack is there now (prepare checked it): no second existence check.
        deployed = True if target.kind == "local" else None
        guard_drift(target, project, dataset, ignore=ignore_drift, say=say, deployed=deployed)
    if not ignore_drift:
        receipt.record(target, names, root, dataset)
