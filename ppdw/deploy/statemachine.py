"""The pipeline state machine as data (Amazon States Language), pure.

Fetch (Lambda) -> Unchanged? -> Bronze (Glue .sync) -> Silver (Glue .sync). Every Task
catches `States.ALL` into a Fail state carrying the error and cause. A scheduled start
(EventBridge) passes `run_id: null`; two Pass states then name the run
`{dataset}-{YYYYMMDD}-{HHMMSS}` from the event time, like `ppdw run` does (two, because
one field may hold at most 10 intrinsic functions).
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from ppdw.contracts.job_args import format_flag, state_machine_arguments
from ppdw.naming import service_integration_arn

LAMBDA_ERRORS = [
    "Lambda.ServiceException",
    "Lambda.AWSLambdaException",
    "Lambda.SdkClientException",
    "Lambda.TooManyRequestsException",
]
LAMBDA_RETRY = {"IntervalSeconds": 2, "MaxAttempts": 3, "BackoffRate": 2.0}
GLUE_RETRY = {"IntervalSeconds": 60, "MaxAttempts": 5, "BackoffRate": 2.0}
#: The Succeed state reached when the download equals the last run's (no Glue step runs).
UNCHANGED_STATE = "Unchanged"
#: Room for Step Functions' own scheduling and the retry back-offs.
MARGIN_SECONDS = 600


@dataclass(frozen=True)
class PipelineSettings:
    dataset: str
    function_name: str
    bronze_job: str
    silver_job: str
    lambda_timeout_seconds: int
    glue_timeout_minutes: int
    glue_max_retries: int
    #: ARN partition of the region (`aws`, `aws-us-gov`, `aws-cn`): integration ARNs use it.
    partition: str = "aws"


def _backoff_total(retry: dict[str, Any]) -> int:
    interval, rate = float(retry["IntervalSeconds"]), float(retry["BackoffRate"])
    return int(sum(interval * rate**n for n in range(int(retry["MaxAttempts"]))))


def step_timeouts(settings: PipelineSettings) -> dict[str, int]:
    """Worst-case seconds of each step, retries included."""
    lambda_attempts = int(LAMBDA_RETRY["MaxAttempts"]) + 1
    glue_runs = settings.glue_max_retries + 1
    glue = settings.glue_timeout_minutes * 60 * glue_runs
    return {
        "Fetch": settings.lambda_timeout_seconds * lambda_attempts + _backoff_total(LAMBDA_RETRY),
        "Bronze": glue + _backoff_total(GLUE_RETRY),
        "Silver": glue + _backoff_total(GLUE_RETRY),
    }


def machine_timeout(settings: PipelineSettings) -> int:
    return sum(step_timeouts(settings).values()) + MARGIN_SECONDS


def _catch(fail_state: str) -> list[dict[str, Any]]:
    return [{"ErrorEquals": ["States.ALL"], "ResultPath": "$.error", "Next": fail_state}]


def _fail(step: str) -> dict[str, Any]:
    return {
        "Type": "Fail",
        "Comment": f"{step} failed",
        "ErrorPath": "$.error.Error",
        "CausePath": "$.error.Cause",
    }


def _glue_task(job: str, next_state: str | None, fail_state: str, partition: str) -> dict[str, Any]:
    task: dict[str, Any] = {
        "Type": "Task",
        "Resource": service_integration_arn(partition, "glue:startJobRun.sync"),
        "Parameters": {
            "JobName": job,
            "Arguments": state_machine_arguments(),
        },
        "ResultSelector": {"JobRunId.$": "$.Id", "JobRunState.$": "$.JobRunState"},
        "ResultPath": f"$.{job_state_key(job)}",
        "Retry": [{"ErrorEquals": ["Glue.ConcurrentRunsExceededException"], **GLUE_RETRY}],
        "Catch": _catch(fail_state),
    }
    if next_state is None:
        task["End"] = True
    else:
        task["Next"] = next_state
    return task


def job_state_key(job: str) -> str:
    return "bronze" if "-bronze-" in job else "silver"


#: Field of the scheduled path's intermediate state: the event time split into parts.
TIME_PARTS = "time_parts"


def _scheduled_time_parts() -> str:
    """`2026-11-01T06:00:00Z` -> ["2026", "11", "01", "06", "00", "00"] (1 intrinsic)."""
    return "States.StringSplit($.run_time, '-:TZ.')"


def _scheduled_run_id(dataset: str) -> str:
    """`{dataset}-{YYYYMMDD}-{HHMMSS}` from the split time (7 intrinsics).

    Step Functions allows at most 10 intrinsic functions in one field, so the split is
    done by the state before (`_scheduled_time_parts`) rather than six times here.
    """
    items = ", ".join(f"States.ArrayGetItem($.{TIME_PARTS}, {i})" for i in range(6))
    return f"States.Format('{dataset}-{{}}{{}}{{}}-{{}}{{}}{{}}', {items})"


def _pass_input(extra: dict[str, str]) -> dict[str, str]:
    """A Pass state's Parameters: the execution input's fields, plus `extra`."""
    return {
        **extra,
        "run_time.$": "$.run_time",
        "source.$": "$.source",
        "force.$": "$.force",
    }


def definition(settings: PipelineSettings) -> dict[str, Any]:
    return {
        "Comment": f"ppdw pipeline of {settings.dataset}: fetch -> bronze -> silver",
        "StartAt": "NameRun",
        "TimeoutSeconds": machine_timeout(settings),
        "States": {
            "NameRun": {
                "Type": "Choice",
                "Comment": "A scheduled start has no run_id: derive it from the event time",
                "Choices": [{"Variable": "$.run_id", "IsNull": True, "Next": "NameScheduledRun"}],
                "Default": "Fetch",
            },
            "NameScheduledRun": {
                "Type": "Pass",
                "Comment": "Split the event time into its parts",
                "Parameters": _pass_input({f"{TIME_PARTS}.$": _scheduled_time_parts()}),
                "Next": "FormatRunId",
            },
            "FormatRunId": {
                "Type": "Pass",
                "Comment": "The run id `ppdw run` would give: {dataset}-{YYYYMMDD}-{HHMMSS}",
                "Parameters": _pass_input({"run_id.$": _scheduled_run_id(settings.dataset)}),
                "Next": "Fetch",
            },
            "Fetch": {
                "Type": "Task",
                "Resource": service_integration_arn(settings.partition, "lambda:invoke"),
                "Parameters": {"FunctionName": settings.function_name, "Payload.$": "$"},
                "ResultSelector": {"status.$": "$.Payload.status", "result.$": "$.Payload"},
                "ResultPath": "$.fetch",
                "TimeoutSeconds": settings.lambda_timeout_seconds + 60,
                "Retry": [{"ErrorEquals": LAMBDA_ERRORS, **LAMBDA_RETRY}],
                "Catch": _catch("FetchFailed"),
                "Next": "SourceUnchanged",
            },
            "SourceUnchanged": {
                "Type": "Choice",
                "Choices": [
                    {
                        "Variable": "$.fetch.status",
                        "StringEquals": "unchanged",
                        "Next": UNCHANGED_STATE,
                    }
                ],
                "Default": "Bronze",
            },
            UNCHANGED_STATE: {"Type": "Succeed", "Comment": "same download as the last run"},
            "Bronze": _glue_task(settings.bronze_job, "Silver", "BronzeFailed", settings.partition),
            "Silver": _glue_task(settings.silver_job, None, "SilverFailed", settings.partition),
            "FetchFailed": _fail("Fetch"),
            "BronzeFailed": _fail("Bronze"),
            "SilverFailed": _fail("Silver"),
        },
    }


def execution_input(run_id: str, run_time: str, source: str | None, force: bool) -> dict[str, Any]:
    """The input shape every start uses (CLI and schedule)."""
    return {
        "run_id": run_id,
        "run_time": run_time,
        "source": source,
        "force": format_flag(force),
    }


def schedule_input_template() -> str:
    """EventBridge InputTransformer template producing the execution input shape."""
    return '{"run_id": null, "run_time": <time>, "source": null, "force": "false"}'
