"""The Step Functions runner: start (named execution, input shape), follow, --no-wait."""

from __future__ import annotations

import json
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import pytest
from typer.testing import CliRunner

from ppdw.cli.app import app
from ppdw.errors import PpdwError
from ppdw.runs import stepfunctions as sfn_runner
from ppdw.runs.progress import QuietProgress
from tests.functional import pipeline_support as sup

MACHINE = "pp-dw-pipeline-nsde"


def _machine(target: Any) -> str:
    iam = target.aws.client("iam")
    role = iam.create_role(RoleName="r", AssumeRolePolicyDocument="{}")["Role"]["Arn"]
    definition = {"StartAt": "P", "States": {"P": {"Type": "Pass", "End": True}}}
    sfn = target.aws.client("stepfunctions")
    return str(
        sfn.create_state_machine(name=MACHINE, definition=json.dumps(definition), roleArn=role)[
            "stateMachineArn"
        ]
    )


@pytest.mark.usefixtures("moto_aws")
def test_no_wait_starts_execution_named_run_id_with_the_input(project: Path) -> None:
    target = sup.aws_target()
    machine = _machine(target)
    result = CliRunner().invoke(
        app,
        [
            "--project",
            str(project),
            "--target",
            "aws",
            "run",
            "nsde",
            "--no-wait",
            "--as-of",
            "2026-11-01T06:00:00Z",
            "--source",
            "https://example.org/f.zip",
            "--force",
        ],
    )
    assert result.exit_code == 0, result.stderr
    arn = result.stdout.strip()
    assert arn.endswith(":nsde-20261101-060000")
    described = target.aws.client("stepfunctions").describe_execution(executionArn=arn)
    assert described["stateMachineArn"] == machine
    assert json.loads(described["input"]) == {
        "run_id": "nsde-20261101-060000",
        "run_time": "2026-11-01T06:00:00Z",
        "source": "https://example.org/f.zip",
        "force": "true",
    }
    again = CliRunner().invoke(
        app,
        [
            "--project",
            str(project),
            "--target",
            "aws",
            "run",
            "nsde",
            "--no-wait",
            "--as-of",
            "2026-11-01T06:00:00Z",
        ],
    )
    assert again.exit_code == 2
    assert "an execution named nsde-20261101-060000 already exists" in again.stderr


@pytest.mark.usefixtures("moto_aws")
def test_local_file_source_is_refused_for_step_functions(project: Path) -> None:
    result = CliRunner().invoke(
        app, ["--project", str(project), "--target", "aws", "run", "nsde", "--source", "x.zip"]
    )
    assert result.exit_code == 2
    assert "cannot read a local file" in result.stderr


class FakeSfn:
    """describe_execution/get_execution_history answers scripted per poll."""

    def __init__(self, polls: list[tuple[str, list[dict[str, Any]]]], **final: Any) -> None:
        self.polls, self.final, self.index = polls, final, -1

    def describe_execution(self, executionArn: str) -> dict[str, Any]:
        self.index = min(self.index + 1, len(self.polls) - 1)
        return {"status": self.polls[self.index][0], **self.final}

    def get_paginator(self, _: str) -> Any:
        events = self.polls[self.index][1]

        class Pages:
            def paginate(self, **_: Any) -> list[dict[str, Any]]:
                return [{"events": events}]

        return Pages()


def _event(kind: str, name: str | None = None, at: int = 0, **details: Any) -> dict[str, Any]:
    event: dict[str, Any] = {"type": kind, "timestamp": datetime(2026, 11, 1, 6, 0, at, tzinfo=UTC)}
    if name:
        event["stateEnteredEventDetails"] = {"name": name}
    if details:
        event["taskFailedEventDetails"] = details
    return event


class FakeTarget:
    def __init__(self, sfn: FakeSfn) -> None:
        self.account_id, self.region, self.name = sup.ACCOUNT, "us-east-1", "aws"
        self.aws = self
        self._sfn = sfn

    def client(self, service: str) -> Any:
        assert service == "stepfunctions"
        return self._sfn


def test_follow_reports_the_failing_step_with_its_error(project: Path) -> None:
    history = [
        _event("TaskStateEntered", "Fetch", 0),
        _event("TaskStateExited", None, 2),
        _event("TaskStateEntered", "Bronze", 3),
        _event(
            "TaskFailed", None, 9, error="Glue.Failed", cause='{"ErrorMessage": "empty_source"}'
        ),
    ]
    fake = FakeSfn(
        [("RUNNING", history[:1]), ("RUNNING", history[:3]), ("FAILED", history)],
        error="States.TaskFailed",
        cause='{"ErrorMessage": "empty_source: x.csv: no data rows"}',
    )
    slept: list[float] = []
    progress = QuietProgress()
    with pytest.raises(PpdwError, match=r"failed: States.TaskFailed: empty_source: x.csv"):
        sfn_runner.follow(
            FakeTarget(fake),
            sup.load(project),
            "nsde",  # type: ignore[arg-type]
            "arn:aws:states:us-east-1:1:execution:m:run-1",
            progress,
            sleep=slept.append,
        )
    assert slept == [1.0, 2.0]
    assert progress.steps["fetch"].state == "succeeded"
    assert progress.steps["fetch"].duration(0) == pytest.approx(2.0)
    assert progress.steps["bronze"].state == "failed"
    assert progress.steps["silver"].state == "pending"
