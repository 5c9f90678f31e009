"""The roles AWS services assume: the state machine's, the schedule's, and every trust.

Step Functions and EventBridge make their calls themselves, so they are derived from what
is deployed (read back from moto): each Task of a state machine's definition is the calls
its service integration makes (AWS: "IAM policies for ... integrated services"), and each
schedule target is states:StartExecution on its state machine. Each is evaluated against
the policies deployed on the role the service assumes.
"""

from __future__ import annotations

import json
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import boto3
import pytest

from ppdw.config.loader import load_project
from tests.functional.iam.actions import Arns
from tests.functional.iam.simulator import IamRequest, Principal, Simulator, request
from tests.functional.iam.warehouse import ACCOUNT, REGION, Deployed, cli

#: What each service integration calls, by the Task's Resource (without `arn:{partition}:`).
GLUE_SYNC = ("glue:StartJobRun", "glue:GetJobRun", "glue:GetJobRuns", "glue:BatchStopJobRun")
INTEGRATIONS: dict[str, tuple[str, str, tuple[str, ...]]] = {
    # resource -> (parameter naming the target, its kind, actions)
    "states:::lambda:invoke": ("FunctionName", "function", ("lambda:InvokeFunction",)),
    "states:::glue:startJobRun.sync": ("JobName", "job", GLUE_SYNC),
    "states:::glue:startJobRun": ("JobName", "job", ("glue:StartJobRun",)),
}


def tasks(states: dict[str, Any]) -> Iterator[dict[str, Any]]:
    """Every Task state, inside Map and Parallel states too."""
    for state in states.values():
        if state.get("Type") == "Task":
            yield state
        for inner in (state.get("ItemProcessor"), state.get("Iterator")):
            if inner:
                yield from tasks(inner["States"])
        for branch in state.get("Branches", []):
            yield from tasks(branch["States"])


def task_requests(definition: dict[str, Any], arns: Arns) -> list[IamRequest]:
    out = []
    for task in tasks(definition["States"]):
        resource = str(task["Resource"])
        partition, _, integration = resource.removeprefix("arn:").partition(":")
        assert partition == arns.partition, f"{resource}: not in partition {arns.partition}"
        assert integration in INTEGRATIONS, f"unknown service integration {resource}: add it"
        parameter, kind, actions = INTEGRATIONS[integration]
        name = task["Parameters"][parameter]  # a name fixed at deploy time, never a path
        target = arns.function(name) if kind == "function" else arns.glue("job", name)
        out.extend(request(action, target) for action in actions)
    return out


# cn-north-1: a partition of its own (aws-cn). moto 5.2.5 gives GovCloud IAM roles `aws`
# ARNs, so its Lambda refuses a correct aws-us-gov role ARN: GovCloud is checked in the
# unit tests only.
@pytest.mark.parametrize("deployed", ["us-east-1", "cn-north-1"], indirect=True)
def test_state_machine_and_schedule_roles_allow_what_the_services_call(
    deployed: Deployed, simulator: Simulator
) -> None:
    for dataset in ("nsde", "rxnorm"):
        check_pipeline_roles(deployed, simulator, dataset)


def check_pipeline_roles(deployed: Deployed, simulator: Simulator, dataset: str) -> None:
    names = deployed.project.warehouse.names.dataset(dataset)
    arns = deployed.arns()
    sfn, events = deployed.admin("stepfunctions"), deployed.admin("events")
    machine = sfn.describe_state_machine(stateMachineArn=arns.state_machine(names.state_machine))
    role = machine["roleArn"].rsplit("/", 1)[-1]
    assert role == deployed.project.warehouse.names.states_role
    assumed = f"arn:{arns.partition}:sts::{ACCOUNT}:assumed-role/{role}"
    principal = deployed.role_principal(role, f"{assumed}/sfn")
    needed = task_requests(json.loads(machine["definition"]), arns)
    assert {r.action for r in needed} == {"lambda:InvokeFunction", *GLUE_SYNC}
    denied = [r.describe() for r in needed if simulator.decide(principal, r) != "Allowed"]
    assert denied == [], f"{role} lacks: {denied}"

    (target,) = events.list_targets_by_rule(Rule=names.schedule_rule)["Targets"]
    assert target["Arn"] == machine["stateMachineArn"]
    role = target["RoleArn"].rsplit("/", 1)[-1]
    assert role == deployed.project.warehouse.names.events_role
    assumed = f"arn:{arns.partition}:sts::{ACCOUNT}:assumed-role/{role}"
    principal = deployed.role_principal(role, f"{assumed}/events")
    start = request("states:StartExecution", target["Arn"])
    assert simulator.decide(principal, start) == "Allowed"
    other = request("states:StartExecution", arns.state_machine("someone-elses-machine"))
    assert simulator.decide(principal, other) == "ImplicitlyDenied"


def assume(
    simulator: Simulator, trust: dict[str, Any], role_arn: str, service: str, account: str
) -> str:
    """May `service`, acting for `account`, assume the role (its trust policy decides)?"""
    who = Principal.of(f"trust {role_arn} {service}", service, ACCOUNT, {}, {"sts": trust})
    return simulator.decide(
        who, request("sts:AssumeRole", role_arn, **{"aws:SourceAccount": account})
    )


def test_each_role_may_be_assumed_by_its_service_only(
    project: Path, moto_aws: None, simulator: Simulator
) -> None:
    assert cli(project, "bootstrap-core", "--yes").exit_code == 0
    names = load_project(project).warehouse.names
    iam = boto3.client("iam", region_name=REGION)
    services = {
        names.glue_role: "glue.amazonaws.com",
        names.lambda_role: "lambda.amazonaws.com",
        names.states_role: "states.amazonaws.com",
        names.events_role: "events.amazonaws.com",
    }
    for role, service in services.items():
        found = iam.get_role(RoleName=role)["Role"]
        trust, arn = found["AssumeRolePolicyDocument"], found["Arn"]
        assert assume(simulator, trust, arn, service, ACCOUNT) == "Allowed", role
        assert assume(simulator, trust, arn, "ec2.amazonaws.com", ACCOUNT) != "Allowed", role
        if service in ("states.amazonaws.com", "events.amazonaws.com"):
            # confused deputy: another account's state machine or rule may not use it
            other = assume(simulator, trust, arn, service, "999999999999")
            assert other != "Allowed", role
