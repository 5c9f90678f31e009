"""The dataset's run lease under the deployed roles with IAM enforced: the fetch Lambda and
the Glue jobs judge another execution's lease by asking Step Functions (their role must
allow it), refuse while that execution runs, and take the lease over once it ended.
"""

from __future__ import annotations

import json
from datetime import UTC, datetime

import pytest

from ppdw.errors import LockedError
from ppdw.runtime import holders, lease
from tests.functional.iam.simulator import Simulator
from tests.functional.iam.warehouse import Deployed

RUN_TIME = datetime(2026, 11, 1, 6, 0, tzinfo=UTC)


def test_the_lambda_and_the_jobs_judge_another_executions_lease_under_their_roles(
    deployed: Deployed, simulator: Simulator, monkeypatch: pytest.MonkeyPatch
) -> None:
    names = deployed.project.warehouse.names
    dataset = names.dataset("nsde")
    lam, lam_gate = deployed.as_role(names.lambda_role, simulator)
    glue, glue_gate = deployed.as_role(names.glue_role, simulator)
    sample = (
        deployed.project.dataset_dir("nsde") / deployed.project.dataset("nsde").source.samples[0]
    )
    sfn, s3 = deployed.admin("stepfunctions"), deployed.admin("s3")
    machine = deployed.arns().state_machine(dataset.state_machine)

    def held_by(execution: str) -> None:
        """The lease as execution `execution`'s Lambda left it for its Glue jobs."""
        s3.delete_object(Bucket=deployed.bucket, Key=lease.lock_key(dataset))
        holder = holders.execution(execution, dataset.state_machine)
        lease.acquire(s3, deployed.bucket, dataset, holder, seconds=3600).leave()

    other = sfn.start_execution(stateMachineArn=machine, name="nsde-other", input="{}")
    held_by("nsde-other")

    with pytest.raises(LockedError) as refused:
        deployed.fetch(lam, monkeypatch, "nsde", "nsde-r1", RUN_TIME, sample)
    assert refused.value.message.startswith(
        "run nsde-other of nsde is in progress (Step Functions execution nsde-other of "
    )
    lam_gate.check()
    assert "stepfunctions:DescribeExecution" in lam_gate.operations()

    sfn.stop_execution(executionArn=other["executionArn"])
    assert deployed.fetch(lam, monkeypatch, "nsde", "nsde-r1", RUN_TIME, sample)["status"] == (
        "fetched"
    )
    lam_gate.check()

    held_by("nsde-other")  # e.g. a stopped execution's job wrote it back: ended all the same
    assert deployed.job(glue, "nsde", "bronze", "nsde-r1", RUN_TIME)["rows"] > 0
    deployed.job(glue, "nsde", "silver", "nsde-r1", RUN_TIME)
    glue_gate.check()
    assert "stepfunctions:DescribeExecution" in glue_gate.operations()
    keys = s3.list_objects_v2(Bucket=deployed.bucket, Prefix=lease.lock_key(dataset))
    assert keys.get("KeyCount") == 0  # the silver job released it
    record = s3.get_object(Bucket=deployed.bucket, Key="silver/_runs/nsde/nsde-r1.json")
    assert json.loads(record["Body"].read())["status"] == "succeeded"
