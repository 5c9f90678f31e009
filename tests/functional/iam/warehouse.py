"""A warehouse deployed into moto by ppdw, and its runtime components run under the
deployed roles: the fetch handler as the Lambda's role, the job scripts as the Glue role.

Each component gets a session with the credentials of its role (assumed in moto) and an
IAM gate evaluating the policies that are deployed on that role (read back from IAM, not
from ppdw's code), plus the bucket policy.
"""

from __future__ import annotations

import json
from dataclasses import dataclass, field
from datetime import datetime
from pathlib import Path
from typing import Any

import boto3
import pytest
from typer.testing import CliRunner

from ppdw.aws.session import AwsSession
from ppdw.cli.app import app
from ppdw.config.loader import Project, load_project
from ppdw.runtime import manifest
from ppdw.runtime.fetch import lambda_handler
from ppdw.runtime.jobs import run_bronze_job, run_silver_job
from tests.functional.iam.actions import Arns
from tests.functional.iam.gate import Gate
from tests.functional.iam.simulator import Principal, Simulator

ACCOUNT = "123456789012"
REGION = "us-east-1"


def cli(root: Path, *args: str) -> Any:
    return CliRunner().invoke(app, ["--project", str(root), "--target", "aws", *args])


@dataclass
class Deployed:
    root: Path
    project: Project
    region: str = REGION
    gates: list[Gate] = field(default_factory=list)

    @property
    def bucket(self) -> str:
        return self.project.warehouse.names.bucket(ACCOUNT)

    def admin(self, service: str) -> Any:
        return boto3.client(service, region_name=self.region)

    def arns(self) -> Arns:
        secrets = self.admin("secretsmanager")

        def secret_arn(name: str) -> str:
            return str(secrets.describe_secret(SecretId=name)["ARN"])

        return Arns(self.region, ACCOUNT, secret_arn)

    def role_policies(self, role: str) -> dict[str, dict[str, Any]]:
        iam = self.admin("iam")
        names = iam.list_role_policies(RoleName=role)["PolicyNames"]
        return {
            name: iam.get_role_policy(RoleName=role, PolicyName=name)["PolicyDocument"]
            for name in names
        }

    def bucket_policy(self) -> dict[str, Any]:
        return dict(json.loads(self.admin("s3").get_bucket_policy(Bucket=self.bucket)["Policy"]))

    def role_principal(self, role: str, arn: str) -> Principal:
        return Principal.of(
            role, arn, ACCOUNT, self.role_policies(role), {"s3": self.bucket_policy()}
        )

    def gated(self, simulator: Simulator, principal: Principal, session: boto3.Session) -> Gate:
        gate = Gate(simulator, principal, self.arns(), self.admin("s3"))
        gate.install(session)
        self.gates.append(gate)
        return gate

    def as_role(self, role: str, simulator: Simulator) -> tuple[AwsSession, Gate]:
        """A session with the role's credentials (assumed in moto) behind an IAM gate."""
        answer = self.admin("sts").assume_role(
            RoleArn=self.arns().role(role), RoleSessionName="ppdw-iam-test"
        )
        creds = answer["Credentials"]
        session = boto3.Session(
            aws_access_key_id=creds["AccessKeyId"],
            aws_secret_access_key=creds["SecretAccessKey"],
            aws_session_token=creds["SessionToken"],
            region_name=self.region,
        )
        principal = self.role_principal(role, answer["AssumedRoleUser"]["Arn"])
        return AwsSession(session=session), self.gated(simulator, principal, session)

    # the runtime components, as the cloud runs them --------------------------------------

    def fetch(
        self,
        aws: AwsSession,
        monkeypatch: pytest.MonkeyPatch,
        dataset: str,
        run_id: str,
        run_time: datetime,
        source: Path,
    ) -> dict[str, Any]:
        """The fetch Lambda's handler with the deployed function's environment."""
        names = self.project.warehouse.names.dataset(dataset)
        function = self.admin("lambda").get_function(FunctionName=names.fetch_function)
        for key, value in function["Configuration"]["Environment"]["Variables"].items():
            monkeypatch.setenv(key, value)
        config = self.project.dataset_dir(dataset) / "config" / "dataset.json"
        monkeypatch.setenv("PPDW_DATASET_CONFIG", str(config))
        event = {
            "run_id": run_id,
            "run_time": manifest.format_time(run_time),
            "source": str(source),
            "force": "false",
        }
        return lambda_handler(event, None, session=aws)

    def job(
        self, aws: AwsSession, dataset: str, layer: str, run_id: str, run_time: datetime
    ) -> dict[str, Any]:
        """A Glue job script's entry point with the deployed job's arguments."""
        names = self.project.warehouse.names.dataset(dataset)
        job = self.admin("glue").get_job(JobName=names.job(layer))["Job"]
        arguments = dict(job["DefaultArguments"])
        arguments.update(
            {
                "--run_id": run_id,
                "--run_time": manifest.format_time(run_time),
                "--force": "false",
                "--JOB_NAME": job["Name"],
            }
        )
        argv = [f"{layer}_job.py", *(item for pair in arguments.items() for item in pair)]
        entry = run_bronze_job if layer == "bronze" else run_silver_job
        return entry(argv, aws=aws, sleep=lambda _: None)


def deploy(root: Path, region: str = REGION) -> Deployed:
    for args in (("bootstrap-core", "--yes"), ("deploy", "nsde", "rxnorm", "--yes")):
        result = cli(root, *args)
        assert result.exit_code == 0, result.stderr
    return Deployed(root, load_project(root), region)
