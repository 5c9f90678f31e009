"""Step Functions executions and the caller's identity (data plane).

Rule: standard library and boto3/botocore only (the fetch Lambda imports it, through
`ppdw.runtime.holders`); module-level functions taking the client, for code that knows
neither account nor region. The control plane's state machines are
`ppdw.aws.stepfunctions.StepFunctions`. Domain answers come back as values or named
errors (a missing state machine, an execution name taken); any other failure is an
`AwsError` naming the action.
"""

from __future__ import annotations

import json
from collections.abc import Iterator
from typing import Any

from botocore.exceptions import ClientError

from ppdw.aws._common import aws_action, is_code
from ppdw.aws.errors import AWS_ERRORS, AWS_OR_SHAPE_ERRORS
from ppdw.errors import AwsError

#: What `execution_status` answers for an execution Step Functions does not know.
NO_EXECUTION = "DOES_NOT_EXIST"


class ExecutionExistsError(AwsError):
    """An execution of that name exists already (names are unique for 90 days)."""


class NoStateMachineError(AwsError):
    """The state machine to start does not exist."""


def start_execution(sfn: Any, machine_arn: str, name: str, document: Any) -> str:
    """Start execution `name` with input `document`; returns its ARN."""
    action = f"start execution {name} of {machine_arn.rsplit(':', 1)[-1]}"
    try:
        answer = sfn.start_execution(
            stateMachineArn=machine_arn, name=name, input=json.dumps(document)
        )
    except ClientError as exc:
        if is_code(exc, "StateMachineDoesNotExist"):
            raise NoStateMachineError(f"{action}: no such state machine") from exc
        if is_code(exc, "ExecutionAlreadyExists"):
            raise ExecutionExistsError(f"{action}: the name is taken") from exc
        with aws_action(action):
            raise
    return str(answer["executionArn"])


def describe_execution(sfn: Any, arn: str) -> dict[str, Any]:
    """The execution's description (status, error, cause, output)."""
    with aws_action(f"describe execution {arn.rsplit(':', 1)[-1]}"):
        return dict(sfn.describe_execution(executionArn=arn))


def execution_history(sfn: Any, arn: str) -> Iterator[dict[str, Any]]:
    """Every event of the execution's history, oldest first (all pages)."""
    with aws_action(f"get the history of execution {arn.rsplit(':', 1)[-1]}"):
        for page in sfn.get_paginator("get_execution_history").paginate(executionArn=arn):
            yield from page.get("events", [])


def execution_status(sfn: Any, arn: str) -> str | None:
    """The execution's status; `NO_EXECUTION` when Step Functions does not know it, None
    when it cannot be read (no answer, a refusal)."""
    try:
        return str(sfn.describe_execution(executionArn=arn)["status"])
    except AWS_ERRORS as exc:  # no answer, or a refusal: unknown
        return NO_EXECUTION if is_code(exc, "ExecutionDoesNotExist") else None


def caller_arn(sts: Any) -> str | None:
    """The ARN of the credentials' identity (`arn:{partition}:sts::{account}:...`), None
    when STS cannot be asked or answers without one."""
    try:
        return str(sts.get_caller_identity()["Arn"])
    except AWS_OR_SHAPE_ERRORS:
        return None
