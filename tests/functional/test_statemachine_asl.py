"""The deployed pipeline definition, executed by moto's ASL interpreter.

`ppdw bootstrap-core` and `ppdw deploy nsde` run against moto (`--target aws`); the
execution then runs the real state machine definition in moto's Step Functions
interpreter (`stepfunctions.execute_state_machine`). moto cannot run Lambda code or Glue
scripts, so the two places where its interpreter hands a Task to those services are
patched to do what the services would do:

- Lambda (`lambda_eval_utils._invoke_lambda_function`): the deployed function's zip is
  unpacked, its `Handler` is imported from it and called with the task's `Payload`, under
  the function's deployed environment variables (and `LAMBDA_TASK_ROOT`); an exception
  becomes an `Unhandled` function error as the Lambda runtime reports it.
- Glue (`StateTaskServiceGlue._handle_start_job_run`): moto's own `StartJobRun` runs first
  (it merges the job's DefaultArguments with the task's `Arguments`, as Glue does); the
  deployed script is then read from its `ScriptLocation` in S3 and executed as
  `__main__` with `sys.argv` = [script, --JOB_ID, --JOB_RUN_ID, the run's Arguments], as a
  Glue worker does. An exception marks moto's job run FAILED with an `ErrorMessage`, so
  moto's `.sync` poller reports the failure as Step Functions does (States.TaskFailed,
  the job run as the cause).

Everything between those calls (Choice, Catch, ResultSelector, ResultPath, Fail states'
ErrorPath/CausePath, the execution history) is moto's interpreter reading the definition
built by `ppdw.deploy.statemachine`.
"""

from __future__ import annotations

import importlib.util
import json
import os
import sys
import threading
import time
import zipfile
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import boto3
import pytest
from botocore.exceptions import ClientError
from moto import mock_aws
from moto.awslambda.models import lambda_backends
from moto.glue.models import FakeJobRun, glue_backends
from moto.stepfunctions.parser.asl.component.common.error_name.error_name import ErrorName
from moto.stepfunctions.parser.asl.component.state.exec.state_task import lambda_eval_utils
from moto.stepfunctions.parser.asl.component.state.exec.state_task.service import (
    state_task_service_glue,
)
from moto.stepfunctions.parser.asl.component.state.exec.state_task.service.resource import (
    ResourceCondition,
)
from moto.stepfunctions.parser.asl.component.state.fail import state_fail
from typer.testing import CliRunner

from ppdw.cli.app import app
from ppdw.config.loader import Project, load_project
from ppdw.deploy.statemachine import schedule_input_template
from ppdw.errors import PpdwError
from ppdw.runs import stepfunctions as sfn_runner
from ppdw.runs.progress import QuietProgress
from tests.functional import pipeline_support as sup

ACCOUNT = sup.ACCOUNT
REGION = "us-east-1"
BUCKET = sup.BUCKET
INCOMING = "ppdw-test-incoming"
ZIP = "Comprehensive_NDC_SPL_Data_Elements_File.zip"
CORPUS = Path(__file__).resolve().parent.parent / "data" / "bad" / "corpus" / "nsde"
#: Longest a test waits for one execution (the pipeline on 200-row files takes ~1-3 s).
EXECUTION_DEADLINE = 120.0

_ENV_LOCK = threading.Lock()


# ----------------------------------------------------------------------- the seams


@contextmanager
def _environment(variables: dict[str, str]) -> Iterator[None]:
    """The Lambda's environment variables for the duration of one invocation."""
    saved = {name: os.environ.get(name) for name in variables}
    os.environ.update(variables)
    try:
        yield
    finally:
        for name, value in saved.items():
            if value is None:
                os.environ.pop(name, None)
            else:
                os.environ[name] = value


@contextmanager
def _argv(argv: list[str]) -> Iterator[None]:
    saved = sys.argv
    sys.argv = argv
    try:
        yield
    finally:
        sys.argv = saved


class Services:
    """What Lambda and Glue would do when moto's interpreter invokes them; records calls."""

    def __init__(self, workdir: Path) -> None:
        self.workdir = workdir
        self.lambda_events: list[dict[str, Any]] = []
        self.job_argv: dict[str, list[str]] = {}  # job name -> argv of its last run
        self.job_errors: dict[str, str] = {}  # job run id -> ErrorMessage
        self.service_errors = 0  # invocations still to refuse with Lambda's ServiceException

    # Lambda ---------------------------------------------------------------------------

    def invoke_lambda(self, parameters: dict[str, Any], region: str, state_credentials: Any) -> Any:
        name = str(parameters["FunctionName"])
        event = json.loads(parameters["Payload"])
        self.lambda_events.append(event)
        if self.service_errors:
            self.service_errors -= 1
            raise ClientError(
                {
                    "Error": {"Code": "ServiceException", "Message": "Lambda is unavailable"},
                    "ResponseMetadata": {
                        "HTTPStatusCode": 500,
                        "RequestId": "r-1",
                        "HostId": "",
                        "HTTPHeaders": {},
                        "RetryAttempts": 0,
                    },
                },
                "Invoke",
            )
        client = boto3.client("lambda", region_name=region)
        config = client.get_function_configuration(FunctionName=name)
        root = self._unpack(name, lambda_backends[ACCOUNT][region].get_function(name).code_bytes)
        module_name, function_name = str(config["Handler"]).rsplit(".", 1)
        spec = importlib.util.spec_from_file_location(
            f"_lambda_{name.replace('-', '_')}_{module_name}", root / f"{module_name}.py"
        )
        assert spec is not None
        assert spec.loader is not None
        module = importlib.util.module_from_spec(spec)
        spec.loader.exec_module(module)
        variables = {
            **(config.get("Environment") or {}).get("Variables", {}),
            "LAMBDA_TASK_ROOT": str(root),
            "AWS_LAMBDA_FUNCTION_NAME": name,
        }
        with _ENV_LOCK, _environment(variables):
            try:
                result = getattr(module, function_name)(event, None)
            except Exception as exc:  # noqa: BLE001 - the Lambda runtime reports any error
                error = {"errorType": type(exc).__name__, "errorMessage": str(exc)}
                return {"StatusCode": 200, "FunctionError": "Unhandled", "Payload": error}
        return {
            "StatusCode": 200,
            "ExecutedVersion": "$LATEST",
            "Payload": json.loads(json.dumps(result)),
        }

    def _unpack(self, name: str, code: bytes) -> Path:
        root = self.workdir / name
        if not root.exists():
            root.mkdir(parents=True)
            archive = self.workdir / f"{name}.zip"
            archive.write_bytes(code)
            with zipfile.ZipFile(archive) as opened:
                opened.extractall(root)
        return root

    # Glue -----------------------------------------------------------------------------

    def run_job(self, job_name: str, run_id: str, region: str) -> None:
        """A Glue worker: the deployed script as __main__ with the run's arguments."""
        glue, s3 = boto3.client("glue", region_name=region), boto3.client("s3")
        job = glue.get_job(JobName=job_name)["Job"]
        arguments = glue.get_job_run(JobName=job_name, RunId=run_id)["JobRun"]["Arguments"]
        location = str(job["Command"]["ScriptLocation"])
        bucket, key = location.removeprefix("s3://").split("/", 1)
        source = s3.get_object(Bucket=bucket, Key=key)["Body"].read().decode("utf-8")
        argv = [key.rsplit("/", 1)[-1], "--JOB_ID", job_name, "--JOB_RUN_ID", run_id]
        for name, value in arguments.items():
            argv.extend([name, value])
        self.job_argv[job_name] = argv
        try:
            with _argv(argv):
                exec(compile(source, location, "exec"), {"__name__": "__main__"})
        except Exception as exc:  # noqa: BLE001 - Glue fails the run on any error
            message = exc.message if isinstance(exc, PpdwError) else str(exc)
            fake_run = glue_backends[ACCOUNT][region].get_job_run(job_name, run_id)
            fake_run.status = "FAILED"
            self.job_errors[run_id] = f"{type(exc).__name__}: {message}"


class FailStateErrorName(ErrorName):
    """The error a Fail state re-raises, as given.

    moto (like LocalStack, localstack/localstack#10489) refuses a Fail state whose
    ErrorPath selects a `States.*` name (e.g. the `States.TaskFailed` of a caught Glue
    `.sync` failure) and ends the execution with States.Runtime instead; Step Functions
    fails the execution with the selected error.
    """


@pytest.fixture
def services(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Iterator[Services]:
    """moto with the ASL interpreter on, Lambda and Glue tasks wired to the real code."""
    seams = Services(tmp_path / "lambda")
    glue_task = state_task_service_glue.StateTaskServiceGlue
    moto_start_job_run = glue_task._handle_start_job_run

    def start_job_run(self: Any, env: Any, part: Any, parameters: Any, creds: Any) -> None:
        moto_start_job_run(self, env, part, parameters, creds)
        started = env.stack[-1]
        seams.run_job(str(started["JobName"]), str(started["JobRunId"]), part.region)

    moto_as_dict = FakeJobRun.as_dict

    def as_dict(run: FakeJobRun) -> dict[str, Any]:
        document: dict[str, Any] = moto_as_dict(run)
        if run.job_run_id in seams.job_errors:
            document["ErrorMessage"] = seams.job_errors[run.job_run_id]
        return document

    monkeypatch.setattr(lambda_eval_utils, "_invoke_lambda_function", seams.invoke_lambda)
    monkeypatch.setattr(glue_task, "_handle_start_job_run", start_job_run)
    monkeypatch.setattr(FakeJobRun, "as_dict", as_dict)
    monkeypatch.setattr(state_fail, "CustomErrorName", FailStateErrorName)
    # moto's `.sync` path ends in `callback_endpoint.interrupt_all()` on an endpoint that
    # exists only for services supporting `.waitForTaskToken`: Glue's is None, so every
    # `glue:startJobRun.sync` dies with AttributeError. Declaring the pattern supported
    # gives the Task its (unused) callback endpoint; the `.sync` resource still runs the
    # `.sync` branch (StartJobRun, then GetJobRun until a terminal state).
    monkeypatch.setattr(
        state_task_service_glue,
        "_SUPPORTED_INTEGRATION_PATTERNS",
        {ResourceCondition.Sync, ResourceCondition.WaitForTaskToken},
    )
    config: Any = {
        "stepfunctions": {"execute_state_machine": True},
        "core": {"reset_boto3_session": False},
    }
    with mock_aws(config=config):
        yield seams


# ----------------------------------------------------------------------- helpers


def cli(project: Path, *args: str) -> None:
    result = CliRunner().invoke(app, ["--project", str(project), "--target", "aws", *args])
    assert result.exit_code == 0, result.stderr


@pytest.fixture
def deployed(services: Services, project: Path) -> Project:
    cli(project, "bootstrap-core", "--yes")
    cli(project, "deploy", "nsde")
    boto3.client("s3").create_bucket(Bucket=INCOMING)
    return load_project(project)


def upload(path: Path, name: str) -> str:
    """A source file the Lambda can read: an object in another bucket (s3:// URL)."""
    key = f"{name}/{ZIP}"
    boto3.client("s3").put_object(Bucket=INCOMING, Key=key, Body=path.read_bytes())
    return f"s3://{INCOMING}/{key}"


def sample(project: Project, index: int) -> Path:
    return project.dataset_dir("nsde") / project.dataset("nsde").source.samples[index]


class Execution:
    def __init__(self, arn: str, progress: QuietProgress) -> None:
        self.arn = arn
        self.progress = progress
        self.record: dict[str, Any] | None = None
        self.error: PpdwError | None = None

    def describe(self) -> dict[str, Any]:
        return dict(boto3.client("stepfunctions").describe_execution(executionArn=self.arn))

    def history(self) -> list[dict[str, Any]]:
        sfn = boto3.client("stepfunctions")
        events: list[dict[str, Any]] = []
        for page in sfn.get_paginator("get_execution_history").paginate(executionArn=self.arn):
            events.extend(dict(event) for event in page["events"])
        return events

    def failures(self) -> list[dict[str, Any]]:
        """Details of every failure event (for assertion messages and checks)."""
        return [
            {"type": e["type"], **next(v for k, v in e.items() if k.endswith("EventDetails"))}
            for e in self.history()
            if str(e["type"]).endswith(("Failed", "TimedOut"))
        ]

    def states(self) -> list[str]:
        return [
            str(e["stateEnteredEventDetails"]["name"])
            for e in self.history()
            if str(e["type"]).endswith("StateEntered")
        ]


def bounded_sleep(run_id: str) -> Callable[[float], None]:
    """`follow`'s sleep: short polls, and a test failure instead of waiting forever."""
    deadline = time.monotonic() + EXECUTION_DEADLINE

    def sleep(_: float) -> None:
        assert time.monotonic() < deadline, f"execution {run_id} still running"
        time.sleep(0.05)

    return sleep


def execute(project: Project, run_time: str, source: str, *, force: bool = False) -> Execution:
    """`ppdw run nsde` on Step Functions: start execution `run_id`, follow it to its end."""
    moment = datetime.fromisoformat(run_time).replace(tzinfo=UTC)
    run_id = f"nsde-{moment:%Y%m%d-%H%M%S}"
    target = sup.aws_target()
    arn = sfn_runner.start(
        target, project, "nsde", run_id=run_id, run_time=moment, source=source, force=force
    )
    progress = QuietProgress()
    execution = Execution(arn, progress)
    sleep = bounded_sleep(run_id)
    try:
        execution.record = sfn_runner.follow(target, project, "nsde", arn, progress, sleep=sleep)
    except PpdwError as exc:
        execution.error = exc
    return execution


def silver_current() -> dict[str, str | None]:
    """ndc11 -> proprietary_name of the current, not deleted silver rows (reader's view)."""
    rows = sup.read_silver(sup.aws_target(), "nsde").to_pylist()
    return {
        str(r["ndc11"]): r["proprietary_name"]
        for r in rows
        if r["is_current"] and not r.get("is_deleted")
    }


def keys_under(prefix: str) -> list[str]:
    return sup.keys_under(boto3.client("s3"), prefix)


# ----------------------------------------------------------------------- the tests


def test_first_run_succeeds_through_fetch_bronze_silver(
    deployed: Project, services: Services
) -> None:
    source = upload(sample(deployed, 0), "day1")
    run = execute(deployed, "2026-11-01T06:00:00", source)

    assert run.error is None, run.failures()
    described = run.describe()
    assert described["status"] == "SUCCEEDED"
    assert described["name"] == "nsde-20261101-060000"
    assert run.states() == ["NameRun", "Fetch", "SourceUnchanged", "Bronze", "Silver"]
    steps = run.progress.steps
    assert [steps[s].state for s in ("fetch", "bronze", "silver")] == ["succeeded"] * 3

    # the Lambda got the execution input, the jobs their merged arguments
    assert services.lambda_events == [
        {
            "run_id": "nsde-20261101-060000",
            "run_time": "2026-11-01T06:00:00Z",
            "source": source,
            "force": "false",
        }
    ]
    names = deployed.warehouse.names.dataset("nsde")
    for layer in ("bronze", "silver"):
        argv = services.job_argv[names.job(layer)]
        assert argv[0] == f"{layer}_job.py"
        pairs = dict(zip(argv[1::2], argv[2::2], strict=True))
        assert pairs["--run_id"] == "nsde-20261101-060000"
        assert pairs["--run_time"] == "2026-11-01T06:00:00Z"
        assert pairs["--force"] == "false"
        assert pairs["--dataset"] == "nsde"
        assert pairs["--bucket"] == BUCKET

    # the data: raw file, bronze partition, silver rows equal to the sample's keys
    assert any(k.endswith(".zip") for k in keys_under(names.raw_prefix))
    assert any(k.endswith(".parquet") for k in keys_under(names.layer_prefix("bronze")))
    expected = sup.read_snapshot(deployed, "nsde", 0)
    assert set(silver_current()) == set(expected.records)

    # ResultSelector/ResultPath: each step's result beside the input
    output = json.loads(described["output"])
    assert output["fetch"]["status"] == "fetched"
    assert output["fetch"]["result"]["run_id"] == "nsde-20261101-060000"
    assert output["bronze"]["JobRunState"] == "SUCCEEDED"
    assert output["silver"]["JobRunState"] == "SUCCEEDED"
    assert output["run_id"] == "nsde-20261101-060000"

    # the run record the jobs kept is what `follow` returns
    record = run.record
    assert record is not None
    assert record["run_id"] == "nsde-20261101-060000"
    assert record["status"] == "succeeded"
    assert {s: record["steps"][s]["status"] for s in ("fetch", "bronze", "silver")} == {
        "fetch": "fetched",
        "bronze": "succeeded",
        "silver": "succeeded",
    }


def job_runs(job: str) -> int:
    return len(boto3.client("glue").get_job_runs(JobName=job)["JobRuns"])


def test_second_identical_download_ends_unchanged_without_glue(
    deployed: Project, services: Services
) -> None:
    source = upload(sample(deployed, 0), "day1")
    first = execute(deployed, "2026-11-01T06:00:00", source)
    assert first.error is None, first.failures()
    names = deployed.warehouse.names.dataset("nsde")
    runs_before = {layer: job_runs(names.job(layer)) for layer in ("bronze", "silver")}

    second = execute(deployed, "2026-11-02T06:00:00", source)

    assert second.error is None, second.failures()
    assert second.describe()["status"] == "SUCCEEDED"
    assert second.states() == ["NameRun", "Fetch", "SourceUnchanged", "Unchanged"]
    assert {layer: job_runs(names.job(layer)) for layer in ("bronze", "silver")} == runs_before
    steps = second.progress.steps
    assert [steps[s].state for s in ("fetch", "bronze", "silver")] == [
        "unchanged",
        "skipped",
        "skipped",
    ]
    assert second.record is not None
    assert second.record["status"] == "unchanged"
    assert second.record["steps"]["fetch"]["unchanged_since"] == "nsde-20261101-060000"
    # silver still holds the first run's keys
    assert set(silver_current()) == set(sup.read_snapshot(deployed, "nsde", 0).records)


def test_failing_bronze_job_fails_the_execution_with_the_steps_error(
    deployed: Project, services: Services
) -> None:
    first = execute(deployed, "2026-11-01T06:00:00", upload(CORPUS / "base" / ZIP, "base"))
    assert first.error is None, first.failures()
    silver_before = silver_current()

    run = execute(deployed, "2026-11-02T06:00:00", upload(CORPUS / "header_only.zip", "bad"))

    described = run.describe()
    assert described["status"] == "FAILED"
    assert run.states() == ["NameRun", "Fetch", "SourceUnchanged", "Bronze", "BronzeFailed"]
    # the Fail state re-raises what the Glue .sync task reported: the job run as the cause
    assert described["error"] == "States.TaskFailed"
    cause = json.loads(described["cause"])
    assert cause["JobRunState"] == "FAILED"
    assert cause["JobName"] == deployed.warehouse.names.dataset("nsde").job("bronze")
    assert "empty_source" in cause["ErrorMessage"]
    # what `ppdw run` shows: the failing step, its error, and the other steps
    assert run.error is not None
    assert "nsde-20261102-060000 failed: States.TaskFailed" in run.error.message
    assert "empty_source" in run.error.message
    steps = run.progress.steps
    assert [steps[s].state for s in ("fetch", "bronze", "silver")] == [
        "succeeded",
        "failed",
        "pending",
    ]
    assert "empty_source" in steps["bronze"].detail
    # the job kept the failure in the run record; silver is untouched
    record = sup.run_record(sup.aws_target(), "nsde", "nsde-20261102-060000")
    assert record["status"] == "failed"
    assert record["steps"]["bronze"]["status"] == "failed"
    assert silver_current() == silver_before


def test_failing_silver_job_ends_in_silver_failed(deployed: Project, services: Services) -> None:
    first = execute(deployed, "2026-11-01T06:00:00", upload(CORPUS / "base" / ZIP, "base"))
    assert first.error is None, first.failures()

    source = upload(CORPUS / "delete_ninety_percent.zip", "cut")
    run = execute(deployed, "2026-11-02T06:00:00", source)

    assert run.describe()["status"] == "FAILED"
    assert run.states()[-2:] == ["Silver", "SilverFailed"]
    assert run.error is not None
    assert "max_delete_ratio" in run.error.message
    steps = run.progress.steps
    assert [steps[s].state for s in ("fetch", "bronze", "silver")] == [
        "succeeded",
        "succeeded",
        "failed",
    ]


def test_failing_fetch_lambda_ends_in_fetch_failed(deployed: Project, services: Services) -> None:
    run = execute(deployed, "2026-11-01T06:00:00", f"s3://{INCOMING}/missing.zip")

    described = run.describe()
    assert described["status"] == "FAILED"
    assert run.states() == ["NameRun", "Fetch", "FetchFailed"]
    # an unhandled Lambda error is not one of the retried Lambda service errors
    assert [f["type"] for f in run.failures()] == ["TaskFailed", "ExecutionFailed"]
    cause = json.loads(described["cause"])
    assert "missing.zip" in cause["errorMessage"]
    assert described["error"] == cause["errorType"]
    steps = run.progress.steps
    assert [steps[s].state for s in ("fetch", "bronze", "silver")] == [
        "failed",
        "pending",
        "pending",
    ]


def test_scheduled_start_names_the_run_from_the_event_time(
    services: Services, project: Path
) -> None:
    """EventBridge starts with `run_id: null`: the definition derives it with intrinsics."""
    path = project / "fda/nsde/config/dataset.json"
    config = json.loads(path.read_text())
    config["source"]["url"] = f"s3://{INCOMING}/scheduled/{ZIP}"
    path.write_text(json.dumps(config))
    cli(project, "bootstrap-core", "--yes")
    cli(project, "deploy", "nsde")
    boto3.client("s3").create_bucket(Bucket=INCOMING)
    loaded = load_project(project)
    upload(sample(loaded, 0), "scheduled")
    template = schedule_input_template().replace("<time>", '"2026-11-01T06:00:00Z"')
    sfn = boto3.client("stepfunctions")
    arn = sfn.start_execution(
        stateMachineArn=sfn_runner.machine_arn(sup.aws_target(), loaded, "nsde"),
        name="scheduled-start",
        input=template,
    )["executionArn"]
    progress = QuietProgress()
    record = sfn_runner.follow(
        sup.aws_target(), loaded, "nsde", arn, progress, sleep=bounded_sleep("scheduled")
    )

    # named in two Pass states (Step Functions allows 10 intrinsics in one field)
    entered = [
        str(e["stateEnteredEventDetails"]["name"])
        for e in sfn.get_execution_history(executionArn=arn)["events"]
        if str(e["type"]).endswith("StateEntered")
    ]
    assert entered[:4] == ["NameRun", "NameScheduledRun", "FormatRunId", "Fetch"]
    assert services.lambda_events[0]["run_id"] == "nsde-20261101-060000"
    assert services.lambda_events[0]["source"] is None
    argv = services.job_argv[loaded.warehouse.names.dataset("nsde").job("silver")]
    assert argv[argv.index("--run_id") + 1] == "nsde-20261101-060000"
    assert progress.steps["silver"].state == "succeeded"
    assert record["status"] == "succeeded"
    derived = sup.run_record(sup.aws_target(), "nsde", "nsde-20261101-060000")
    assert derived["status"] == "succeeded"


def test_a_lambda_service_error_is_retried(deployed: Project, services: Services) -> None:
    """Step Functions names it `Lambda.ServiceException`, one of the retried errors."""
    services.service_errors = 1
    run = execute(deployed, "2026-11-01T06:00:00", upload(CORPUS / "base" / ZIP, "base"))

    assert run.error is None, run.failures()
    assert run.describe()["status"] == "SUCCEEDED"
    (failed,) = run.failures()
    assert failed["error"] == "Lambda.ServiceException"
    assert len(services.lambda_events) == 2
    assert run.progress.steps["fetch"].state == "succeeded"
