"""The pipeline state machine as data."""

from __future__ import annotations

from typing import Any

from ppdw.deploy.statemachine import (
    LAMBDA_ERRORS,
    PipelineSettings,
    definition,
    execution_input,
    machine_timeout,
    step_timeouts,
)

SETTINGS = PipelineSettings(
    dataset="nsde",
    function_name="pp-dw-raw-fetch-nsde",
    bronze_job="pp-dw-bronze-nsde",
    silver_job="pp-dw-silver-nsde",
    lambda_timeout_seconds=900,
    glue_timeout_minutes=60,
    glue_max_retries=1,
)


def states() -> dict[str, Any]:
    return dict(definition(SETTINGS)["States"])


def test_fetch_invokes_the_lambda_with_the_whole_input_and_retries_service_errors() -> None:
    fetch = states()["Fetch"]
    assert fetch["Resource"] == "arn:aws:states:::lambda:invoke"
    assert fetch["Parameters"] == {"FunctionName": "pp-dw-raw-fetch-nsde", "Payload.$": "$"}
    assert fetch["ResultPath"] == "$.fetch"
    assert fetch["ResultSelector"]["status.$"] == "$.Payload.status"
    assert fetch["Retry"][0]["ErrorEquals"] == LAMBDA_ERRORS
    assert fetch["Next"] == "SourceUnchanged"


def test_unchanged_source_succeeds_without_bronze() -> None:
    choice = states()["SourceUnchanged"]
    assert choice["Choices"] == [
        {"Variable": "$.fetch.status", "StringEquals": "unchanged", "Next": "Unchanged"}
    ]
    assert choice["Default"] == "Bronze"
    assert states()["Unchanged"]["Type"] == "Succeed"


def test_glue_steps_wait_pass_run_arguments_and_keep_input() -> None:
    for step, job, following in (
        ("Bronze", "pp-dw-bronze-nsde", "Silver"),
        ("Silver", "pp-dw-silver-nsde", None),
    ):
        task = states()[step]
        assert task["Resource"] == "arn:aws:states:::glue:startJobRun.sync"
        assert task["Parameters"]["JobName"] == job
        assert task["Parameters"]["Arguments"] == {
            "--run_id.$": "$.run_id",
            "--run_time.$": "$.run_time",
            "--force.$": "$.force",
        }
        assert task["ResultPath"] not in ("$", None)
        assert task["Retry"][0]["ErrorEquals"] == ["Glue.ConcurrentRunsExceededException"]
        assert task.get("Next") == following
        assert task.get("End", False) is (following is None)


def test_every_task_catches_everything_into_a_fail_state() -> None:
    all_states = states()
    for name, state in all_states.items():
        if state["Type"] != "Task":
            continue
        (catch,) = state["Catch"]
        assert catch["ErrorEquals"] == ["States.ALL"]
        fail = all_states[catch["Next"]]
        assert fail["Type"] == "Fail"
        assert fail["ErrorPath"] == "$.error.Error", name


def test_machine_timeout_covers_every_step_with_retries() -> None:
    steps = step_timeouts(SETTINGS)
    assert steps["Fetch"] >= 900 * 4
    assert steps["Bronze"] >= 60 * 60 * 2
    assert definition(SETTINGS)["TimeoutSeconds"] == machine_timeout(SETTINGS)
    assert machine_timeout(SETTINGS) >= sum(steps.values())


def test_scheduled_start_is_named_from_the_event_time_in_two_pass_states() -> None:
    assert states()["NameRun"]["Choices"][0] == {
        "Variable": "$.run_id",
        "IsNull": True,
        "Next": "NameScheduledRun",
    }
    split = states()["NameScheduledRun"]
    assert split["Parameters"]["time_parts.$"] == "States.StringSplit($.run_time, '-:TZ.')"
    assert split["Next"] == "FormatRunId"
    name_run = states()["FormatRunId"]
    assert name_run["Parameters"]["run_id.$"].startswith("States.Format('nsde-{}{}{}-{}{}{}'")
    assert "States.ArrayGetItem($.time_parts, 5)" in name_run["Parameters"]["run_id.$"]
    # the execution input's shape again, without the intermediate parts
    assert set(name_run["Parameters"]) == {"run_id.$", "run_time.$", "source.$", "force.$"}
    assert name_run["Next"] == "Fetch"


def test_execution_input_shape() -> None:
    assert execution_input("nsde-20261101-060000", "2026-11-01T06:00:00Z", None, True) == {
        "run_id": "nsde-20261101-060000",
        "run_time": "2026-11-01T06:00:00Z",
        "source": None,
        "force": "true",
    }
