"""`apply_history` on event sequences shaped like Step Functions' (and moto's interpreter's).

A caught Task failure is followed by `TaskStateExited` before the Catch's Fail state is
entered; a Retry shows as a new `TaskScheduled` within the same state.
"""

from __future__ import annotations

from datetime import UTC, datetime
from typing import Any

from ppdw.runs.progress import QuietProgress
from ppdw.runs.stepfunctions import apply_history


def _event(kind: str, at: int, name: str | None = None, **details: Any) -> dict[str, Any]:
    event: dict[str, Any] = {"type": kind, "timestamp": datetime(2026, 11, 1, 6, 0, at, tzinfo=UTC)}
    if name is not None:
        key = "stateEnteredEventDetails" if kind.endswith("Entered") else "stateExitedEventDetails"
        event[key] = {"name": name}
    if details:
        event["taskFailedEventDetails"] = details
    return event


def _fetched(at: int = 0) -> list[dict[str, Any]]:
    return [
        _event("ChoiceStateEntered", at, "NameRun"),
        _event("ChoiceStateExited", at, "NameRun"),
        _event("TaskStateEntered", at, "Fetch"),
        _event("TaskScheduled", at),
        _event("TaskSucceeded", at + 1),
        _event("TaskStateExited", at + 1, "Fetch"),
        _event("ChoiceStateEntered", at + 1, "SourceUnchanged"),
        _event("ChoiceStateExited", at + 1, "SourceUnchanged"),
    ]


def _states(progress: QuietProgress) -> list[str]:
    return [progress.steps[s].state for s in ("fetch", "bronze", "silver")]


def test_a_caught_failure_keeps_the_step_failed_after_its_state_exits() -> None:
    cause = '{"JobRunState": "FAILED", "ErrorMessage": "DataQualityError: empty_source: x.csv"}'
    events = [
        *_fetched(),
        _event("TaskStateEntered", 2, "Bronze"),
        _event("TaskScheduled", 2),
        _event("TaskFailed", 5, error="States.TaskFailed", cause=cause),
        _event("TaskStateExited", 5, "Bronze"),
        _event("FailStateEntered", 5, "BronzeFailed"),
        _event("ExecutionFailed", 5, error="States.TaskFailed", cause=cause),
    ]
    progress = QuietProgress()
    failure = apply_history(events, progress)
    assert _states(progress) == ["succeeded", "failed", "pending"]
    assert (
        progress.steps["bronze"].detail
        == "States.TaskFailed: DataQualityError: empty_source: x.csv"
    )
    assert progress.steps["bronze"].duration(0) == 3.0
    assert failure == "States.TaskFailed: DataQualityError: empty_source: x.csv"


def test_a_retried_failure_that_then_succeeds_is_succeeded() -> None:
    events = [
        *_fetched(),
        _event("TaskStateEntered", 2, "Bronze"),
        _event("TaskScheduled", 2),
        _event("TaskFailed", 3, error="Glue.ConcurrentRunsExceededException", cause="busy"),
    ]
    progress = QuietProgress()
    apply_history(events, progress)
    assert progress.steps["bronze"].state == "failed"
    events += [_event("TaskScheduled", 9)]
    progress = QuietProgress()
    apply_history(events, progress)
    assert progress.steps["bronze"].state == "running"
    assert "retrying after Glue.ConcurrentRunsExceededException" in progress.steps["bronze"].detail
    events += [_event("TaskSucceeded", 20), _event("TaskStateExited", 20, "Bronze")]
    progress = QuietProgress()
    apply_history(events, progress)
    assert progress.steps["bronze"].state == "succeeded"


def test_the_unchanged_branch_reports_fetch_unchanged_and_skips_the_layers() -> None:
    events = [
        *_fetched(),
        _event("SucceedStateEntered", 2, "Unchanged"),
        _event("SucceedStateExited", 2, "Unchanged"),
        _event("ExecutionSucceeded", 2),
    ]
    progress = QuietProgress()
    assert apply_history(events, progress) is None
    assert _states(progress) == ["unchanged", "skipped", "skipped"]
