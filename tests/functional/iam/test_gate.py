"""The IAM gate itself, and how ppdw reads S3 behind it.

The gate must fail loudly (an unknown operation, a denied call naming its action and
resource) and model S3's rule for missing keys, so that ppdw's handling of a 403 is
exercised: with s3:ListBucket on the prefix a missing key is a 404 and reads as missing;
without it S3 answers 403, which ppdw reports as an error naming the permission.
"""

from __future__ import annotations

from typing import Any

import boto3
import pytest
from botocore.exceptions import ClientError

from ppdw.aws import objects
from ppdw.aws.iam import Iam
from ppdw.aws.session import AwsSession
from ppdw.errors import AwsError
from tests.functional.iam.actions import Arns
from tests.functional.iam.gate import Gate
from tests.functional.iam.simulator import Principal, Simulator, request

pytestmark = pytest.mark.usefixtures("moto_aws")

ACCOUNT = "123456789012"
BUCKET = "pp-dw-123456789012"
BUCKET_ARN = f"arn:aws:s3:::{BUCKET}"


def policy(*statements: dict[str, Any]) -> dict[str, Any]:
    return {"Version": "2012-10-17", "Statement": list(statements)}


READ_DATA = {"Effect": "Allow", "Action": "s3:GetObject", "Resource": f"{BUCKET_ARN}/data/*"}
LIST_DATA = {
    "Effect": "Allow",
    "Action": "s3:ListBucket",
    "Resource": BUCKET_ARN,
    "Condition": {"StringLike": {"s3:prefix": ["data/*"]}},
}


def gated(simulator: Simulator, *statements: dict[str, Any]) -> tuple[Any, Gate]:
    admin = boto3.client("s3", region_name="us-east-1")
    admin.create_bucket(Bucket=BUCKET)
    admin.put_object(Bucket=BUCKET, Key="data/there.json", Body=b"{}")
    principal = Principal.of(
        "gate-test", f"arn:aws:iam::{ACCOUNT}:user/tester", ACCOUNT, {"p": policy(*statements)}
    )
    session = boto3.Session(region_name="us-east-1")
    gate = Gate(simulator, principal, Arns("us-east-1", ACCOUNT), admin)
    gate.install(session)
    return session.client("s3"), gate


def test_an_operation_missing_from_the_table_fails_the_check(simulator: Simulator) -> None:
    s3, gate = gated(simulator, READ_DATA)
    s3.get_bucket_acl(Bucket=BUCKET)
    with pytest.raises(AssertionError, match=r"not in the IAM table, add it: s3:GetBucketAcl"):
        gate.check()


def test_a_denied_call_answers_access_denied_and_names_action_and_resource(
    simulator: Simulator,
) -> None:
    s3, gate = gated(simulator, READ_DATA)
    with pytest.raises(ClientError) as caught:
        s3.put_object(Bucket=BUCKET, Key="other/x.json", Body=b"{}")
    assert caught.value.response["Error"]["Code"] == "AccessDenied"
    assert caught.value.response["ResponseMetadata"]["HTTPStatusCode"] == 403
    with pytest.raises(AssertionError) as report:
        gate.check()
    assert f"s3:PutObject on {BUCKET_ARN}/other/x.json: ImplicitlyDenied" in str(report.value)
    listing = boto3.client("s3", region_name="us-east-1").list_objects_v2(
        Bucket=BUCKET, Prefix="other/"
    )
    assert listing.get("KeyCount", 0) == 0  # the call never reached S3


def test_a_missing_key_without_list_permission_is_403_and_an_error_naming_it(
    simulator: Simulator,
) -> None:
    s3, gate = gated(simulator, READ_DATA)
    assert objects.get_bytes(s3, BUCKET, "data/there.json") == b"{}"
    with pytest.raises(ClientError) as get:
        s3.get_object(Bucket=BUCKET, Key="data/missing.json")
    assert get.value.response["Error"]["Code"] == "AccessDenied"
    with pytest.raises(ClientError) as head:
        s3.head_object(Bucket=BUCKET, Key="data/missing.json")
    assert head.value.response["Error"]["Code"] == "403"

    for read in (objects.get_bytes, objects.get_json, objects.exists):
        with pytest.raises(AwsError) as caught:
            read(s3, BUCKET, "data/missing.json")
        message = caught.value.message
        assert f"s3://{BUCKET}/data/missing.json was refused (403 AccessDenied)" in message
        assert "s3:GetObject" in message
        assert f"s3:ListBucket on bucket {BUCKET} for prefix 'data/'" in message
    with pytest.raises(AssertionError, match="without s3:ListBucket S3 answers 403"):
        gate.check()


def test_a_missing_key_with_list_permission_is_404_and_reads_as_missing(
    simulator: Simulator,
) -> None:
    s3, gate = gated(simulator, READ_DATA, LIST_DATA)
    assert objects.get_bytes(s3, BUCKET, "data/missing.json") is None
    assert objects.get_json(s3, BUCKET, "data/missing.json") is None
    assert objects.exists(s3, BUCKET, "data/missing.json") is False
    assert objects.exists(s3, BUCKET, "data/there.json") is True
    gate.check()
    assert gate.operations() == {"s3:GetObject", "s3:HeadObject"}


def test_the_simulator_refuses_requests_iam_would_not_take(simulator: Simulator) -> None:
    principal = Principal.of(
        "refusals", f"arn:aws:iam::{ACCOUNT}:user/tester", ACCOUNT, {"p": policy(READ_DATA)}
    )
    # s3:PutBucketEncryption is no IAM action (it is s3:PutEncryptionConfiguration)
    wrong_name = request("s3:PutBucketEncryption", BUCKET_ARN)
    # glue:CreateCrawler has no resource-level permission: only "*" is valid
    wrong_resource = request("glue:CreateCrawler", f"arn:aws:glue:us-east-1:{ACCOUNT}:crawler/x")
    for req in (wrong_name, wrong_resource):
        assert simulator.decide(principal, req).startswith("error"), req
    assert simulator.decide(principal, request("s3:GetObject", f"{BUCKET_ARN}/data/k")) == (
        "Allowed"
    )


def test_a_denied_control_plane_call_names_the_permission_and_the_policy_command(
    simulator: Simulator,
) -> None:
    admin = boto3.client("s3", region_name="us-east-1")
    principal = Principal.of(
        "no-iam", f"arn:aws:iam::{ACCOUNT}:user/tester", ACCOUNT, {"p": policy(READ_DATA)}
    )
    session = boto3.Session(region_name="us-east-1")
    Gate(simulator, principal, Arns("us-east-1", ACCOUNT), admin).install(session)
    with pytest.raises(AwsError) as caught:
        Iam(AwsSession(session=session)).role_tags("pp-dw-glue-role")
    assert caught.value.message.startswith("list tags of role pp-dw-glue-role: AccessDenied")
    assert f"iam:ListRoleTags on resource: arn:aws:iam::{ACCOUNT}:role/pp-dw-glue-role" in (
        caught.value.message
    )
    assert caught.value.hint is not None
    assert "`ppdw deployer-policy` prints every permission ppdw needs" in caught.value.hint
