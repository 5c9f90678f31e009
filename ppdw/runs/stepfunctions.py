"""The Step Functions runner: start execution `run_id` of the pipeline and follow it.

Rule: the execution is the run; this process only watches it. Polling backs off, and
Ctrl-C stops the watching, never the execution (the message says how to follow or stop
it). Step states and durations come from the execution history.
"""

from __future__ import annotations

import json
import time
from collections.abc import Callable
from datetime import datetime
from typing import Any

from ppdw.aws import executions
from ppdw.config.loader import Project
from ppdw.config.runtimes import GLUE_5_LOG_GROUPS
from ppdw.contracts.run_record import RunRecord
from ppdw.deploy.statemachine import UNCHANGED_STATE, execution_input
from ppdw.errors import AwsError, PpdwError, UsageError
from ppdw.naming import Arns
from ppdw.runs.progress import RunProgress
from ppdw.runtime import manifest
from ppdw.targets import TargetContext

#: Task states of the pipeline -> the step they run.
STATE_STEPS = {"Fetch": "fetch", "Bronze": "bronze", "Silver": "silver"}
GLUE_LOG_GROUPS = GLUE_5_LOG_GROUPS
FINAL = ("SUCCEEDED", "FAILED", "TIMED_OUT", "ABORTED")


def machine_arn(target: TargetContext, project: Project, dataset: str) -> str:
    name = project.warehouse.names.dataset(dataset).state_machine
    return Arns(target.region, target.account_id).state_machine(name)


def start(
    target: TargetContext,
    project: Project,
    dataset: str,
    *,
    run_id: str,
    run_time: datetime,
    source: str | None,
    force: bool,
) -> str:
    """Start execution `run_id`; returns its ARN."""
    sfn = target.aws.client("stepfunctions")
    arn = machine_arn(target, project, dataset)
    document = execution_input(run_id, manifest.format_time(run_time), source, force)
    try:
        return executions.start_execution(sfn, arn, run_id, document)
    except executions.NoStateMachineError as exc:
        raise PpdwError(
            f"state machine {arn.rsplit(':', 1)[-1]} does not exist",
            f"deploy the dataset first: ppdw deploy {dataset}",
        ) from exc
    except executions.ExecutionExistsError as exc:
        raise UsageError(
            f"an execution named {run_id} already exists for {dataset}",
            "execution names are unique for 90 days: pass another --run-id",
        ) from exc
    except AwsError as exc:
        raise AwsError(f"starting the pipeline of {dataset} failed: {exc}", exc.hint) from exc


def _history(sfn: Any, arn: str) -> list[dict[str, Any]]:
    return list(executions.execution_history(sfn, arn))


def _stamp(event: dict[str, Any]) -> float:
    moment = event.get("timestamp")
    return moment.timestamp() if isinstance(moment, datetime) else time.time()


def apply_history(events: list[dict[str, Any]], progress: RunProgress) -> str | None:
    """Update the steps from history events; returns the last failure text, if any.

    A caught failure still ends its Task state with `TaskStateExited` (then the Catch
    leads to a Fail state): the step stays failed unless a retry (a new `TaskScheduled`
    in the same state) follows. The `Unchanged` Succeed state means fetch found the
    last run's file: bronze and silver are skipped.
    """
    current: str | None = None
    failed = False  # the current step's last attempt failed
    failure: str | None = None
    for event in events:
        kind = str(event.get("type", ""))
        if kind.endswith("StateEntered"):
            name = event.get("stateEnteredEventDetails", {}).get("name", "")
            current, failed = STATE_STEPS.get(name), False
            if current:
                progress.set(current, "running", started=_stamp(event))
            elif name == UNCHANGED_STATE:
                progress.set("fetch", "unchanged", finished=_stamp(event))
                progress.set("bronze", "skipped")
                progress.set("silver", "skipped")
        elif kind.endswith("StateExited"):
            if current and not failed:
                progress.set(current, "succeeded", finished=_stamp(event))
            current = None
        elif kind == "TaskScheduled" and current and failed:
            failed = False
            progress.set(current, "running", f"retrying after {failure}")
        elif kind.endswith(("Failed", "TimedOut", "Aborted")):
            details: dict[str, Any] = next(
                (v for k, v in event.items() if k.endswith("EventDetails")), {}
            )
            error = str(details.get("error") or kind)
            cause = str(details.get("cause") or "")
            failure = f"{error}: {_short(cause)}" if cause else error
            if current:
                failed = True
                progress.set(current, "failed", failure, finished=_stamp(event))
    return failure


def follow(
    target: TargetContext,
    project: Project,
    dataset: str,
    arn: str,
    progress: RunProgress,
    *,
    sleep: Callable[[float], None] = time.sleep,
    max_delay: float = 15.0,
) -> RunRecord:
    """Watch the execution to its end; return the run record, or raise on failure."""
    sfn = target.aws.client("stepfunctions")
    names = project.warehouse.names.dataset(dataset)
    logs = ", ".join((*names.log_groups, *GLUE_LOG_GROUPS))
    progress.note(f"logs: CloudWatch {logs}")
    delay = 1.0
    try:
        while True:
            described = executions.describe_execution(sfn, arn)
            failure = apply_history(_history(sfn, arn), progress)
            state = str(described["status"])
            if state in FINAL:
                break
            sleep(delay)
            delay = min(delay * 2, max_delay)
    except KeyboardInterrupt:
        progress.note(
            f"Stopped following; the execution goes on. Follow it: ppdw status {dataset}; "
            f"stop it: aws stepfunctions stop-execution --execution-arn {arn}"
        )
        raise
    if state != "SUCCEEDED":
        error = described.get("error") or state
        cause = described.get("cause") or failure or ""
        raise PpdwError(
            f"execution {arn.rsplit(':', 1)[-1]} {state.lower()}: {error}: {_short(cause)}",
            f"see the logs ({logs})",
        )
    bucket = project.warehouse.names.bucket(target.account_id)
    run_id = arn.rsplit(":", 1)[-1]
    record = manifest.read_run(target.aws.client("s3"), bucket, names, run_id)
    return record or {"run_id": run_id, "status": "succeeded", "steps": {}}


def _short(cause: str) -> str:
    """Glue and Lambda causes are JSON documents; keep their message."""
    try:
        document = json.loads(cause)
    except ValueError:
        return cause[:500]
    if isinstance(document, dict):
        for key in ("ErrorMessage", "errorMessage", "message"):
            if document.get(key):
                return str(document[key])[:500]
    return cause[:500]
