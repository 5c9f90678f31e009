"""The deployer under exactly the policy `ppdw deployer-policy` prints.

An IAM user holding only that policy runs every command a deployer runs, through the CLI
on `--target aws`: bootstrap-core, deploy, plan, run with the local runner (a first and a
changed snapshot), revert (down to empty, then both runs again), run on Step Functions
(followed, and --no-wait), status, and destroy (a dataset, a dataset with its data, the
core with its data). Every AWS call is authorized against the policy; a call it does not
allow fails here with the action and the resource.
"""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import boto3
import pytest
from moto.core.config import default_user_config

import ppdw.targets.aws as aws_target
from ppdw.config.loader import load_project
from tests.functional.iam.actions import Arns
from tests.functional.iam.gate import Gate
from tests.functional.iam.simulator import Principal, Simulator
from tests.functional.iam.warehouse import ACCOUNT, REGION, cli

pytestmark = pytest.mark.usefixtures("moto_aws")

USER = "ppdw-deployer"


def deployer_user(policy: dict[str, Any], monkeypatch: pytest.MonkeyPatch) -> str:
    """An IAM user holding the policy (as a managed policy); its keys in the environment."""
    iam = boto3.client("iam", region_name=REGION)
    arn = iam.create_policy(PolicyName="pp-dw-deployer", PolicyDocument=json.dumps(policy))
    iam.create_user(UserName=USER)
    iam.attach_user_policy(UserName=USER, PolicyArn=arn["Policy"]["Arn"])
    key = iam.create_access_key(UserName=USER)["AccessKey"]
    monkeypatch.setenv("AWS_ACCESS_KEY_ID", key["AccessKeyId"])
    monkeypatch.setenv("AWS_SECRET_ACCESS_KEY", key["SecretAccessKey"])
    return f"arn:aws:iam::{ACCOUNT}:user/{USER}"


def gate_every_session(gate: Gate, monkeypatch: pytest.MonkeyPatch) -> None:
    """Every session `--target aws` opens is behind the gate."""
    original = aws_target.make_session

    def gated(**kwargs: Any) -> Any:
        session = original(**kwargs)
        gate.install(session.session)
        return session

    monkeypatch.setattr(aws_target, "make_session", gated)


def test_every_command_runs_under_exactly_the_deployer_policy(
    project: Path, simulator: Simulator, monkeypatch: pytest.MonkeyPatch
) -> None:
    printed = cli(project, "deployer-policy", "--json")
    assert printed.exit_code == 0, printed.stderr
    policy = json.loads(printed.stdout)
    principal = Principal.of("deployer", deployer_user(policy, monkeypatch), ACCOUNT, {"p": policy})
    gate = Gate(simulator, principal, Arns(REGION, ACCOUNT), boto3.client("s3", region_name=REGION))
    gate_every_session(gate, monkeypatch)
    # moto interprets the pipeline (its Lambda runs no code: Fetch fails at once), so
    # `run` on Step Functions can follow an execution to its end
    monkeypatch.setitem(default_user_config, "stepfunctions", {"execute_state_machine": True})
    nsde = project / "fda" / "nsde"
    samples = [str(nsde / s) for s in load_project(project).dataset("nsde").source.samples]

    def ok(*args: str, code: int = 0) -> str:
        result = cli(project, *args)
        gate.check()  # a denial fails here, naming the action and the resource
        assert result.exit_code == code, f"ppdw {' '.join(args)}: {result.stderr}"
        return str(result.stderr)

    def local_run(index: int, as_of: str) -> None:
        ok("run", "nsde", "--runner", "local", "--source", samples[index], "--as-of", as_of)

    ok("bootstrap-core", "--yes")
    ok("deploy", "--all", "--yes")
    ok("plan")  # exit 0: nothing to change, ppdw recognizes every resource as its own
    local_run(0, "2026-11-01T06:00:00Z")
    local_run(1, "2026-11-02T06:00:00Z")
    ok("revert", "nsde", "--dry-run")
    ok("revert", "nsde", "--yes")  # the catalog switch to the reverted folders
    ok("revert", "nsde", "--yes")  # back to empty: the month's partition is removed
    local_run(0, "2026-11-01T07:00:00Z")
    local_run(1, "2026-11-02T07:00:00Z")
    failed = ok("run", "nsde", "--as-of", "2026-11-03T06:00:00Z", code=1)  # followed
    assert "execution nsde-20261103-060000 failed" in failed
    ok("run", "rxnorm", "--no-wait", "--as-of", "2026-10-06T08:00:00Z")
    status = json.loads(cli(project, "status", "--json").stdout)
    gate.check()
    assert status["datasets"][0]["last_run"]["run_id"] == "nsde-20261102-070000"
    assert [d["deployed"] for d in status["datasets"]] == [True, True]
    assert status["datasets"][0]["silver"]["current_rows"] > 0
    ok("destroy", "nsde", "--yes")
    ok("destroy", "rxnorm", "--delete-data", "--yes")
    ok("destroy", "--core", "--delete-data", "--yes")  # the bucket still holds nsde's data
    assert boto3.client("s3", region_name=REGION).list_buckets()["Buckets"] == []

    assert len(gate.calls) > 200
    assert {"s3:CreateBucket", "lambda:CreateFunction", "stepfunctions:StartExecution"} <= (
        gate.operations()
    )
