"""The contracts between the planes: what deploy and the runners write, the jobs read."""

from __future__ import annotations

from datetime import UTC, datetime
from pathlib import Path
from typing import Any, cast

import pytest
from botocore.exceptions import ClientError

from ppdw.config.loader import Project, load_project
from ppdw.config.models import SPARK_ABOVE_MB
from ppdw.contracts.job_args import (
    DEFAULT_SPARK_ABOVE_MB,
    OPTIONAL_ARGS,
    REQUIRED_ARGS,
    RUN_ARGS,
    JobArgs,
)
from ppdw.deploy.desired import pipeline_settings
from ppdw.deploy.glue_specs import job_spec
from ppdw.deploy.resources import StackContext
from ppdw.deploy.statemachine import definition, execution_input
from ppdw.errors import ConfigError
from ppdw.runs.local import RunRequest, job_argv
from ppdw.targets import TargetContext

REPO = Path(__file__).resolve().parents[2]
ACCOUNT, REGION = "123456789012", "eu-west-1"
RUN_ID = "nsde-20261101-060000"
RUN_TIME = datetime(2026, 11, 1, 6, 0, 0, tzinfo=UTC)


@pytest.fixture(scope="module")
def project() -> Project:
    return load_project(REPO)


def stack(project: Project) -> StackContext:
    return StackContext(project.warehouse, project.dataset("nsde"), ACCOUNT, REGION)


def deployed_arguments(project: Project, layer: str) -> dict[str, str]:
    spec = job_spec(stack(project), "bronze" if layer == "bronze" else "silver")
    return dict(spec.payload["definition"]["DefaultArguments"])


def glue_argv(
    default_arguments: dict[str, str], task: dict[str, Any], state: dict[str, Any]
) -> list[str]:
    """What Glue does with a startJobRun of the state machine's task: the task's
    `Arguments` (`"--k.$": "$.field"` resolved against the state) over DefaultArguments,
    handed to the script as `--k v` pairs."""
    run = {key.removesuffix(".$"): state[path[2:]] for key, path in task["Arguments"].items()}
    argv = ["script.py"]
    for key, value in {**default_arguments, **run}.items():
        argv.extend([key, value])
    return argv


def expected_args(project: Project, *, force: bool) -> JobArgs:
    glue = project.dataset("nsde").glue_settings(project.warehouse.glue)
    return JobArgs(
        dataset="nsde",
        bucket=f"pp-dw-{ACCOUNT}",
        prefix="pp-dw",
        bronze_database="pp_dw_bronze",
        silver_database="pp_dw_silver",
        config_key="scripts/nsde/dataset.json",
        run_id=RUN_ID,
        run_time=RUN_TIME,
        table_creation=glue.table_creation,
        crawler_wait_seconds=glue.crawler_wait_seconds,
        force=force,
        region=REGION,
        engine=glue.engine,
        spark_above_mb=glue.spark_above_mb,
    )


@pytest.mark.parametrize("layer", ["bronze", "silver"])
def test_deploy_then_a_state_machine_run_gives_the_job_every_argument(
    project: Project, layer: str
) -> None:
    machine = definition(pipeline_settings(stack(project)))
    task = machine["States"][layer.capitalize()]["Parameters"]
    state = execution_input(RUN_ID, "2026-11-01T06:00:00Z", None, True)
    argv = glue_argv(deployed_arguments(project, layer), task, state)
    assert JobArgs.from_argv(argv) == expected_args(project, force=True)


def test_the_state_machine_overrides_exactly_the_run_arguments(project: Project) -> None:
    machine = definition(pipeline_settings(stack(project)))
    for state in ("Bronze", "Silver"):
        arguments = machine["States"][state]["Parameters"]["Arguments"]
        assert sorted(arguments) == sorted(f"--{name}.$" for name in RUN_ARGS)


def test_deploy_gives_the_jobs_every_argument_they_read(project: Project) -> None:
    arguments = deployed_arguments(project, "silver")
    for name in (*REQUIRED_ARGS, *OPTIONAL_ARGS):
        assert f"--{name}" in arguments
    # A job started without run arguments refuses to run as some run.
    with pytest.raises(ConfigError, match=r"invalid job argument: .*'none'"):
        JobArgs.from_argv(["script.py", *[x for kv in arguments.items() for x in kv]])


class _Glue:
    """The Glue client the local runner asks for the deployed job's DefaultArguments."""

    def __init__(self, deployed: dict[str, dict[str, str]]) -> None:
        self.deployed = deployed

    def get_job(self, JobName: str) -> dict[str, Any]:
        if JobName not in self.deployed:
            error = {"Error": {"Code": "EntityNotFoundException", "Message": JobName}}
            raise ClientError(error, "GetJob")  # type: ignore[arg-type]
        return {"Job": {"Name": JobName, "DefaultArguments": self.deployed[JobName]}}


class _Target:
    kind, account_id, region = "local", ACCOUNT, REGION

    def __init__(self, glue: _Glue) -> None:
        self.aws = self
        self.glue = glue

    def client(self, service: str) -> _Glue:
        assert service == "glue"
        return self.glue


@pytest.mark.parametrize("deployed", [True, False], ids=["deployed", "not-deployed"])
def test_the_local_runner_gives_the_jobs_what_the_cloud_run_gives(
    project: Project, deployed: bool
) -> None:
    names = project.warehouse.names.dataset("nsde")
    jobs = {names.job(layer): deployed_arguments(project, layer) for layer in ("bronze", "silver")}
    target = cast(TargetContext, _Target(_Glue(jobs if deployed else {})))
    request = RunRequest("nsde", RUN_ID, RUN_TIME, force=True)
    for layer in ("bronze", "silver"):
        argv = job_argv(target, project, request, layer)
        assert JobArgs.from_argv(argv) == expected_args(project, force=True)


@pytest.mark.parametrize("deployed", [True, False], ids=["deployed", "not-deployed"])
def test_the_local_runner_engine_overrides_the_deployed_one(
    project: Project, deployed: bool
) -> None:
    job = project.warehouse.names.dataset("nsde").job("silver")
    jobs = {job: deployed_arguments(project, "silver")} if deployed else {}
    target = cast(TargetContext, _Target(_Glue(jobs)))
    request = RunRequest("nsde", RUN_ID, RUN_TIME, engine="spark")
    args = JobArgs.from_argv(job_argv(target, project, request, "silver"))
    assert (args.engine, args.force) == ("spark", False)


def test_a_job_argv_round_trips(project: Project) -> None:
    args = expected_args(project, force=False)
    assert JobArgs.from_argv(args.to_argv("silver_job.py")) == args


def test_a_missing_required_argument_is_named_with_the_way_out() -> None:
    with pytest.raises(ConfigError) as info:
        JobArgs.from_argv(["--dataset", "nsde", "--run_id", "r", "--run_time", "2026-01-01"])
    assert info.value.message == (
        "job arguments missing: --bucket, --bronze_database, --silver_database, --config_key"
    )
    assert info.value.hint == (
        "deploy the dataset again (DefaultArguments) or pass them to the job run"
    )


def test_the_jobs_default_engine_threshold_is_the_configs() -> None:
    assert DEFAULT_SPARK_ABOVE_MB == SPARK_ABOVE_MB
