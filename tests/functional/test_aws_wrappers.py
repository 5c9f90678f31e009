"""Each AWS wrapper under moto: missing things are None, not exceptions; updates via Stubber."""

from __future__ import annotations

from typing import Any

import boto3
import pytest
from botocore.stub import Stubber

from ppdw.aws.events import Events
from ppdw.aws.glue import Glue
from ppdw.aws.iam import Iam
from ppdw.aws.lambda_ import Lambda
from ppdw.aws.logs import Logs
from ppdw.aws.s3 import S3
from ppdw.aws.session import AwsSession
from ppdw.aws.stepfunctions import StepFunctions
from ppdw.deploy.execute import Executor
from ppdw.deploy.plan import Action, FieldChange
from ppdw.deploy.resources import ResourceSpec
from ppdw.errors import AwsError

ACCOUNT = "123456789012"


@pytest.fixture
def aws(moto_aws: None) -> AwsSession:
    return AwsSession(session=boto3.Session(region_name="us-east-1"))


def test_missing_resources_are_none(aws: AwsSession) -> None:
    assert S3(aws).bucket_exists("pp-dw-nothing") is False
    assert S3(aws).object_metadata("pp-dw-nothing", "k") is None
    glue = Glue(aws, ACCOUNT, "us-east-1")
    assert glue.database("nope") is None
    assert glue.job("nope") is None
    assert glue.crawler("nope") is None
    assert glue.table("nope", "t") is None
    assert glue.table_names("nope") == []
    assert Iam(aws).role("nope") is None
    assert Lambda(aws).function("nope") is None
    assert StepFunctions(aws, ACCOUNT, "us-east-1").state_machine("nope") is None
    assert Events(aws).rule("nope") is None
    assert Logs(aws).log_group("/aws/lambda/nope") is None
    assert aws.mutating_calls() == []


def test_s3_bucket_configuration_round_trip(aws: AwsSession) -> None:
    s3 = S3(aws)
    s3.create_bucket("pp-dw-test-bucket", "eu-west-1")
    assert s3.bucket_region("pp-dw-test-bucket") == "eu-west-1"
    assert s3.public_access_block("pp-dw-test-bucket") is None
    assert s3.policy("pp-dw-test-bucket") is None
    assert s3.lifecycle("pp-dw-test-bucket") is None
    assert s3.versioning("pp-dw-test-bucket") == "Disabled"
    assert s3.tags("pp-dw-test-bucket") == {}
    s3.put_tags("pp-dw-test-bucket", {"ppdw:managed": "true"})
    assert s3.tags("pp-dw-test-bucket") == {"ppdw:managed": "true"}
    s3.put_object("pp-dw-test-bucket", "a/b", b"x", {"sha256": "abc"}, "text/plain")
    assert s3.object_metadata("pp-dw-test-bucket", "a/b") == {"sha256": "abc"}
    assert list(s3.list_keys("pp-dw-test-bucket", "a/")) == ["a/b"]
    assert s3.delete_prefix("pp-dw-test-bucket", "a/") == 1
    s3.delete_all_versions("pp-dw-test-bucket")
    s3.delete_bucket("pp-dw-test-bucket")
    assert s3.bucket_exists("pp-dw-test-bucket") is False


def test_iam_role_round_trip(aws: AwsSession) -> None:
    iam = Iam(aws)
    trust = {
        "Version": "2012-10-17",
        "Statement": [
            {
                "Effect": "Allow",
                "Principal": {"Service": "glue.amazonaws.com"},
                "Action": "sts:AssumeRole",
            }
        ],
    }
    iam.create_role("pp-dw-x-role", trust, "d", {"ppdw:managed": "true"})
    doc = {
        "Version": "2012-10-17",
        "Statement": [
            {"Effect": "Allow", "Action": "s3:GetObject", "Resource": "arn:aws:s3:::b/*"}
        ],
    }
    iam.put_policy("pp-dw-x-role", "p", doc)
    role = iam.role("pp-dw-x-role")
    assert role is not None
    assert role["AssumeRolePolicyDocument"] == trust
    assert iam.inline_policies("pp-dw-x-role") == {"p": doc}
    assert iam.role_tags("pp-dw-x-role") == {"ppdw:managed": "true"}
    iam.delete_role("pp-dw-x-role")
    assert iam.role("pp-dw-x-role") is None


def test_aws_errors_name_the_action(aws: AwsSession) -> None:
    with pytest.raises(AwsError, match=r"^delete function pp-dw-none: ResourceNotFoundException"):
        Lambda(aws).delete_function("pp-dw-none")


def _job_spec() -> ResourceSpec:
    definition = {
        "Name": "pp-dw-bronze-nsde",
        "Role": "arn:aws:iam::123456789012:role/pp-dw-glue-role",
        "Command": {"Name": "glueetl", "ScriptLocation": "s3://b/s.py", "PythonVersion": "3"},
        "NumberOfWorkers": 3,
    }
    return ResourceSpec(
        "job",
        "pp-dw-bronze-nsde",
        {"NumberOfWorkers": 3},
        {"ppdw:managed": "true"},
        payload={"definition": definition},
    )


def _update(spec: ResourceSpec, replace: bool) -> Action:
    change = FieldChange("NumberOfWorkers", 2, 3)
    return Action("update", spec.resource_type, spec.name, "update", (change,), replace, spec)


def test_job_drift_is_fixed_with_update_job_on_aws(aws: AwsSession) -> None:
    spec = _job_spec()
    executor = Executor(aws, ACCOUNT, "us-east-1", "b", "aws")
    client: Any = aws.client("glue")
    expected = {k: v for k, v in spec.payload["definition"].items() if k != "Name"}
    with Stubber(client) as stub:
        stub.add_response(
            "update_job", {"JobName": spec.name}, {"JobName": spec.name, "JobUpdate": expected}
        )
        executor.apply([_update(spec, replace=False)], lambda a: None)
        stub.assert_no_pending_responses()


def test_crawler_drift_is_fixed_with_update_crawler_on_aws(aws: AwsSession) -> None:
    definition = {
        "Name": "pp-dw-bronze-nsde-crawler",
        "Role": "r",
        "DatabaseName": "pp_dw_bronze",
        "Targets": {"S3Targets": [{"Path": "s3://b/bronze/bronze_nsde/"}]},
    }
    spec = ResourceSpec("crawler", definition["Name"], {}, {}, payload={"definition": definition})
    action = Action(
        "update",
        "crawler",
        spec.name,
        "update",
        (FieldChange("DatabaseName", "x", "pp_dw_bronze"),),
        False,
        spec,
    )
    client: Any = aws.client("glue")
    with Stubber(client) as stub:
        stub.add_response("update_crawler", {}, definition)
        Executor(aws, ACCOUNT, "us-east-1", "b", "aws").apply([action], lambda a: None)
        stub.assert_no_pending_responses()


def test_job_drift_on_local_target_is_replaced(aws: AwsSession) -> None:
    spec = _job_spec()
    glue = Glue(aws, ACCOUNT, "us-east-1")
    glue.create_job({**spec.payload["definition"], "NumberOfWorkers": 2}, {"ppdw:managed": "true"})
    Executor(aws, ACCOUNT, "us-east-1", "b", "local").apply(
        [_update(spec, replace=True)], lambda a: None
    )
    job = glue.job(spec.name)
    assert job is not None
    assert job["NumberOfWorkers"] == 3
    assert glue.tags("job", spec.name) == {"ppdw:managed": "true"}


def test_lambda_create_retries_while_the_role_is_not_assumable(aws: AwsSession) -> None:
    sleeps: list[float] = []
    fn = Lambda(aws, sleep=sleeps.append)
    client: Any = aws.client("lambda")
    config = {
        "FunctionName": "pp-dw-raw-fetch-x",
        "Runtime": "python3.12",
        "Role": "r",
        "Handler": "app.handler",
    }
    with Stubber(client) as stub:
        stub.add_client_error(
            "create_function",
            "InvalidParameterValueException",
            "The role defined for the function cannot be assumed by Lambda.",
        )
        stub.add_response("create_function", {"FunctionName": "pp-dw-raw-fetch-x"})
        stub.add_response("get_function", {"Configuration": {"State": "Active"}})
        fn.create_function(config, b"zip", {})
        stub.assert_no_pending_responses()
    assert sleeps == [2.0]


def test_endpoint_without_update_job_falls_back_to_replace(moto_aws: None) -> None:
    aws = AwsSession(session=boto3.Session(region_name="us-east-1"), endpoint_url="http://moto")
    spec = _job_spec()
    glue = Glue(aws, ACCOUNT, "us-east-1")
    updater: Any = aws.client("glue")
    glue._updater = lambda: updater  # type: ignore[method-assign]
    messages: list[str] = []
    with Stubber(updater) as stub:
        stub.add_client_error("update_job", "InternalError", "not implemented", 500)
        stub.add_response("delete_job", {"JobName": spec.name}, {"JobName": spec.name})
        stub.add_response("create_job", {"Name": spec.name})
        executor = Executor(aws, ACCOUNT, "us-east-1", "b", "aws")
        executor.state.glue = glue
        executor.apply([_update(spec, replace=False)], lambda a: messages.append(a.message))
        stub.assert_no_pending_responses()
    assert "pp-dw-bronze-nsde: the endpoint cannot update jobs; delete + create" in messages
