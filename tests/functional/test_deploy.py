"""Executor under moto: bootstrap + deploy nsde rxnorm, read everything back, run again."""

from __future__ import annotations

import json
from pathlib import Path

import boto3
import pytest

from ppdw.config.loader import load_project
from ppdw.config.models import TargetConfig
from ppdw.deploy.service import ControlPlane
from ppdw.targets import TargetContext
from ppdw.targets.aws import open_aws_target

pytestmark = pytest.mark.usefixtures("moto_aws")
ACCOUNT = "123456789012"
BUCKET = f"pp-dw-{ACCOUNT}"


def open_plane(project: Path) -> tuple[ControlPlane, TargetContext]:
    loaded = load_project(project)
    target = open_aws_target("aws", TargetConfig(kind="aws"), loaded.warehouse)
    return ControlPlane(loaded, target), target


@pytest.fixture
def deployed(project: Path) -> Path:
    plane, _ = open_plane(project)
    plane.apply(plane.plan_core(), lambda a: None)
    plane.apply(plane.plan_datasets(["nsde", "rxnorm"]), lambda a: None)
    return project


def test_second_bootstrap_and_deploy_make_zero_mutating_calls(deployed: Path) -> None:
    plane, target = open_plane(deployed)
    core = plane.plan_core()
    stacks = plane.plan_datasets(["nsde", "rxnorm"])
    assert plane.apply(core + stacks, lambda a: None) == 0
    assert {a.kind for a in core + stacks} == {"noop"}
    assert target.aws.mutating_calls() == []


def test_bucket_is_private_encrypted_tls_only_and_tagged(deployed: Path) -> None:
    s3 = boto3.client("s3")
    rules = s3.get_bucket_encryption(Bucket=BUCKET)["ServerSideEncryptionConfiguration"]["Rules"]
    assert rules[0]["ApplyServerSideEncryptionByDefault"]["SSEAlgorithm"] == "AES256"
    block = s3.get_public_access_block(Bucket=BUCKET)["PublicAccessBlockConfiguration"]
    assert block == dict.fromkeys(
        ("BlockPublicAcls", "IgnorePublicAcls", "BlockPublicPolicy", "RestrictPublicBuckets"), True
    )
    (statement,) = json.loads(s3.get_bucket_policy(Bucket=BUCKET)["Policy"])["Statement"]
    assert statement["Effect"] == "Deny"
    assert statement["Principal"] == "*"
    assert statement["Condition"] == {"Bool": {"aws:SecureTransport": "false"}}
    assert statement["Resource"] == [f"arn:aws:s3:::{BUCKET}", f"arn:aws:s3:::{BUCKET}/*"]
    lifecycle = s3.get_bucket_lifecycle_configuration(Bucket=BUCKET)["Rules"]
    assert lifecycle[0]["AbortIncompleteMultipartUpload"] == {"DaysAfterInitiation": 7}
    assert "Status" not in s3.get_bucket_versioning(Bucket=BUCKET)
    tags = {t["Key"]: t["Value"] for t in s3.get_bucket_tagging(Bucket=BUCKET)["TagSet"]}
    assert tags == {"ppdw:managed": "true"}
    # the TLS policy leaves object calls working (see core_specs.bucket_spec)
    s3.put_object(Bucket=BUCKET, Key="raw/x", Body=b"1")


def test_raw_expiration_rule_when_configured(project: Path) -> None:
    path = project / "config/warehouse.json"
    config = json.loads(path.read_text())
    config["lifecycle"]["raw_expiration_days"] = 30
    path.write_text(json.dumps(config))
    plane, _ = open_plane(project)
    plane.apply(plane.plan_core(), lambda a: None)
    rules = boto3.client("s3").get_bucket_lifecycle_configuration(Bucket=BUCKET)["Rules"]
    raw = next(r for r in rules if r["ID"] == "expire-raw")
    assert raw["Filter"] == {"Prefix": "raw/"}
    assert raw["Expiration"] == {"Days": 30}


def test_databases_and_roles(deployed: Path) -> None:
    glue, iam = boto3.client("glue"), boto3.client("iam")
    for name in ("pp_dw_bronze", "pp_dw_silver", "pp_dw_gold"):
        assert glue.get_database(Name=name)["Database"]["Name"] == name
        arn = f"arn:aws:glue:us-east-1:{ACCOUNT}:database/{name}"
        assert glue.get_tags(ResourceArn=arn)["Tags"] == {"ppdw:managed": "true"}
    services = {
        "pp-dw-glue-role": "glue.amazonaws.com",
        "pp-dw-lambda-role": "lambda.amazonaws.com",
        "pp-dw-states-role": "states.amazonaws.com",
        "pp-dw-events-role": "events.amazonaws.com",
    }
    for role, service in services.items():
        trust = iam.get_role(RoleName=role)["Role"]["AssumeRolePolicyDocument"]
        assert [s["Principal"] for s in trust["Statement"]] == [{"Service": service}]
        assert iam.list_role_policies(RoleName=role)["PolicyNames"]


def test_fetch_lambda(deployed: Path) -> None:
    function = boto3.client("lambda").get_function(FunctionName="pp-dw-raw-fetch-nsde")
    config = function["Configuration"]
    assert config["Runtime"] == "python3.12"
    assert config["Handler"] == "app.handler"
    assert config["Timeout"] == 900
    assert config["MemorySize"] == 1024
    assert config["Role"] == f"arn:aws:iam::{ACCOUNT}:role/pp-dw-lambda-role"
    assert config["Environment"]["Variables"] == {
        "PPDW_BUCKET": BUCKET,
        "PPDW_PREFIX": "pp-dw",
        "PPDW_DATASET": "nsde",
        "PPDW_MAX_UNCOMPRESSED_BYTES": "21474836480",
        "PPDW_MAX_COMPRESSION_RATIO": "200",
    }
    assert function["Tags"] == {"ppdw:managed": "true", "ppdw:dataset": "nsde"}


def test_glue_jobs_and_crawlers(deployed: Path) -> None:
    glue = boto3.client("glue")
    job = glue.get_job(JobName="pp-dw-silver-rxnorm")["Job"]
    assert job["Command"]["Name"] == "glueetl"
    assert job["Command"]["ScriptLocation"] == f"s3://{BUCKET}/scripts/rxnorm/silver_job.py"
    assert (job["GlueVersion"], job["WorkerType"], job["NumberOfWorkers"]) == ("5.1", "G.1X", 2)
    args = job["DefaultArguments"]
    assert args["--extra-py-files"] == f"s3://{BUCKET}/scripts/_runtime/ppdw_runtime.zip"
    # Glue 5.1 provides pyarrow 22 and numpy 2.3: only pydantic and its closure are added
    assert args["--additional-python-modules"].startswith("pydantic==2.14.4,pydantic-core==")
    assert "pyarrow" not in args["--additional-python-modules"]
    assert args["--aws_region"] == "us-east-1"
    # Glue 5.x logs to /aws-glue/jobs/output and /error without the 4.0-era switch
    assert "--enable-continuous-cloudwatch-log" not in args
    assert args["--table_creation"] == "schema"
    assert args["--config_key"] == "scripts/rxnorm/dataset.json"
    assert (args["--bronze_database"], args["--silver_database"]) == (
        "pp_dw_bronze",
        "pp_dw_silver",
    )
    assert (args["--run_id"], args["--force"]) == ("none", "false")
    # schema discovery on demand: the crawler updates the table the jobs made, never
    # a table named after the folder (with `table_creation: schema`, the default)
    crawler = glue.get_crawler(Name="pp-dw-silver-nsde-crawler")["Crawler"]
    assert crawler["Targets"]["CatalogTargets"] == [
        {"DatabaseName": "pp_dw_silver", "Tables": ["nsde"]}
    ]
    assert not crawler["Targets"].get("S3Targets")
    output = json.loads(crawler["Configuration"])["CrawlerOutput"]
    assert output["Tables"] == {"AddOrUpdateBehavior": "MergeNewColumns"}
    assert output["Partitions"] == {"AddOrUpdateBehavior": "InheritFromTable"}
    assert crawler["DatabaseName"] == "pp_dw_silver"
    assert "Schedule" not in crawler or not crawler["Schedule"]
    assert crawler["SchemaChangePolicy"]["DeleteBehavior"] == "LOG"
    s3 = boto3.client("s3")
    head = s3.head_object(Bucket=BUCKET, Key="scripts/nsde/bronze_job.py")
    assert len(head["Metadata"]["sha256"]) == 64


def test_state_machine_and_schedule(deployed: Path) -> None:
    sfn = boto3.client("stepfunctions")
    arn = f"arn:aws:states:us-east-1:{ACCOUNT}:stateMachine:pp-dw-pipeline-nsde"
    machine = sfn.describe_state_machine(stateMachineArn=arn)
    assert machine["type"] == "STANDARD"
    definition = json.loads(machine["definition"])
    assert definition["States"]["Bronze"]["Parameters"]["JobName"] == "pp-dw-bronze-nsde"
    events = boto3.client("events")
    rule = events.describe_rule(Name="pp-dw-schedule-nsde")
    assert rule["State"] == "DISABLED"
    assert rule["ScheduleExpression"] == "cron(0 6 * * ? *)"
    (target,) = events.list_targets_by_rule(Rule="pp-dw-schedule-nsde")["Targets"]
    assert target["Arn"] == arn
    assert target["RoleArn"] == f"arn:aws:iam::{ACCOUNT}:role/pp-dw-events-role"


def test_drifted_bucket_encryption_is_planned_and_fixed(deployed: Path) -> None:
    s3 = boto3.client("s3")
    s3.delete_public_access_block(Bucket=BUCKET)
    plane, _ = open_plane(deployed)
    (bucket,) = [a for a in plane.plan_core() if a.kind != "noop"]
    assert {c.field for c in bucket.changes} == {
        "public_access_block.BlockPublicAcls",
        "public_access_block.IgnorePublicAcls",
        "public_access_block.BlockPublicPolicy",
        "public_access_block.RestrictPublicBuckets",
    }
    plane.apply([bucket], lambda a: None)
    assert {a.kind for a in plane.plan_core()} == {"noop"}


def test_code_change_updates_only_the_function_code(deployed: Path) -> None:
    app = deployed / "fda/nsde/lambdas/fetch/app.py"
    app.write_text(app.read_text() + "\n# changed\n")
    plane, target = open_plane(deployed)
    changed = [a for a in plane.plan_datasets(["nsde"]) if a.kind != "noop"]
    assert [(a.name, [c.field for c in a.changes]) for a in changed] == [
        ("pp-dw-raw-fetch-nsde", ["CodeSha256"])
    ]
    plane.apply(changed, lambda a: None)
    assert [c.operation for c in target.aws.mutating_calls()] == ["UpdateFunctionCode"]
