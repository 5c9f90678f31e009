"""The local target keeps one warehouse across processes; saves are atomic; versions guarded."""

from __future__ import annotations

import io
import json
import os
import subprocess
import sys
import textwrap
import zipfile
from pathlib import Path
from typing import Any

import pytest

from ppdw.config.loader import load_project
from ppdw.errors import TargetError
from ppdw.targets import TargetContext, open_target
from ppdw.targets import state as state_module
from ppdw.targets.state import INLINE_LIMIT, STATE_FILE, read_stamp, state_dir

BUCKET = "pp-dw-123456789012"
BIG = bytes(range(256)) * (INLINE_LIMIT // 256 + 10)

WRITER = """
import io, json, zipfile
from pathlib import Path
from typing import Any
from ppdw.config.loader import load_project
from ppdw.targets import open_target

project = load_project(Path({root!r}))
target = open_target(project.warehouse, "local", project.root)
aws = target.aws
s3 = aws.client("s3")
s3.create_bucket(Bucket="{bucket}")
tag_set = [{{"Key": "ppdw:managed", "Value": "true"}}]
s3.put_bucket_tagging(Bucket="{bucket}", Tagging={{"TagSet": tag_set}})
s3.put_object(Bucket="{bucket}", Key="raw/nsde/small.txt", Body=b"hello")
s3.put_object(Bucket="{bucket}", Key="bronze/big.bin", Body=bytes(range(256)) * {big_repeats})
trust = {{"Version": "2012-10-17", "Statement": [{{"Effect": "Allow",
    "Principal": {{"Service": "lambda.amazonaws.com"}}, "Action": "sts:AssumeRole"}}]}}
role = aws.client("iam").create_role(RoleName="pp-dw-lambda-role",
    AssumeRolePolicyDocument=json.dumps(trust))["Role"]["Arn"]
glue = aws.client("glue")
glue.create_database(DatabaseInput={{"Name": "pp_dw_bronze"}})
glue.create_table(DatabaseName="pp_dw_bronze", TableInput={{"Name": "nsde",
    "PartitionKeys": [{{"Name": "partition_datetime", "Type": "string"}}]}})
glue.create_partition(DatabaseName="pp_dw_bronze", TableName="nsde",
    PartitionInput={{"Values": ["2024-01-01-000000"]}})
glue.create_job(Name="pp-dw-bronze-nsde", Role=role,
    Command={{"Name": "glueetl", "ScriptLocation": "s3://{bucket}/scripts/nsde/bronze_job.py"}})
buf = io.BytesIO()
with zipfile.ZipFile(buf, "w") as z:
    z.writestr("app.py", "def handler(event, context):\\n    return 1\\n")
aws.client("lambda").create_function(FunctionName="pp-dw-raw-fetch-nsde", Runtime="python3.12",
    Role=role, Handler="app.handler", Code={{"ZipFile": buf.getvalue()}})
definition = {{"StartAt": "P", "States": {{"P": {{"Type": "Pass", "End": True}}}}}}
aws.client("stepfunctions").create_state_machine(name="pp-dw-pipeline-nsde",
    definition=json.dumps(definition), roleArn=role)
aws.client("events").put_rule(Name="pp-dw-schedule-nsde", ScheduleExpression="rate(1 day)")
aws.client("ssm").put_parameter(Name="/ppdw/umls", Value="v", Type="String")
aws.client("secretsmanager").create_secret(Name="ppdw/umls", SecretString="s3cret")
target.close(True)
"""

READER = """
import json
from pathlib import Path
from typing import Any
from ppdw.config.loader import load_project
from ppdw.targets import open_target

project = load_project(Path({root!r}))
target = open_target(project.warehouse, "local", project.root)
aws = target.aws
s3 = aws.client("s3")
glue = aws.client("glue")
code = aws.client("lambda").get_function(FunctionName="pp-dw-raw-fetch-nsde")
out = {{
    "account": target.account_id,
    "keys": sorted(o["Key"] for o in s3.list_objects_v2(Bucket="{bucket}")["Contents"]),
    "small": s3.get_object(Bucket="{bucket}", Key="raw/nsde/small.txt")["Body"].read().decode(),
    "big_len": len(s3.get_object(Bucket="{bucket}", Key="bronze/big.bin")["Body"].read()),
    "tags": s3.get_bucket_tagging(Bucket="{bucket}")["TagSet"],
    "role": aws.client("iam").get_role(RoleName="pp-dw-lambda-role")["Role"]["RoleName"],
    "table": glue.get_table(DatabaseName="pp_dw_bronze", Name="nsde")["Table"]["Name"],
    "partitions": [p["Values"] for p in glue.get_partitions(DatabaseName="pp_dw_bronze",
        TableName="nsde")["Partitions"]],
    "job": glue.get_job(JobName="pp-dw-bronze-nsde")["Job"]["Command"]["ScriptLocation"],
    "lambda_handler": code["Configuration"]["Handler"],
    "lambda_size": code["Configuration"]["CodeSize"],
    "machines": [m["name"] for m in
        aws.client("stepfunctions").list_state_machines()["stateMachines"]],
    "rule": aws.client("events").describe_rule(Name="pp-dw-schedule-nsde")["ScheduleExpression"],
    "param": aws.client("ssm").get_parameter(Name="/ppdw/umls")["Parameter"]["Value"],
    "secret": aws.client("secretsmanager").get_secret_value(SecretId="ppdw/umls")["SecretString"],
}}
target.close(True)
print(json.dumps(out))
"""


def run_python(code: str, env: dict[str, str] | None = None) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [sys.executable, "-c", textwrap.dedent(code)],
        capture_output=True,
        text=True,
        timeout=120,
        env={**os.environ, **(env or {})},
    )


def open_local(project: Path) -> TargetContext:
    loaded = load_project(project)
    return open_target(loaded.warehouse, "local", loaded.root)


def put(project: Path, key: str, body: bytes, *, create: bool = False) -> None:
    target = open_local(project)
    s3 = target.aws.client("s3")
    if create:
        s3.create_bucket(Bucket=BUCKET)
    s3.put_object(Bucket=BUCKET, Key=key, Body=body)
    target.close(True)


def read(project: Path, key: str) -> bytes | None:
    target = open_local(project)
    try:
        s3 = target.aws.client("s3")
        found = s3.list_objects_v2(Bucket=BUCKET, Prefix=key).get("Contents", [])
        if not found:
            return None
        return bytes(s3.get_object(Bucket=BUCKET, Key=key)["Body"].read())
    finally:
        target.close(True)


def test_state_survives_across_processes(project: Path) -> None:
    repeats = INLINE_LIMIT // 256 + 10
    wrote = run_python(WRITER.format(root=str(project), bucket=BUCKET, big_repeats=repeats))
    assert wrote.returncode == 0, wrote.stderr
    read_back = run_python(READER.format(root=str(project), bucket=BUCKET))
    assert read_back.returncode == 0, read_back.stderr
    found = json.loads(read_back.stdout)
    assert found["account"] == "123456789012"
    assert found["keys"] == ["bronze/big.bin", "raw/nsde/small.txt"]
    assert found["small"] == "hello"
    assert found["big_len"] == 256 * repeats
    assert found["tags"] == [{"Key": "ppdw:managed", "Value": "true"}]
    assert found["role"] == "pp-dw-lambda-role"
    assert found["table"] == "nsde"
    assert found["partitions"] == [["2024-01-01-000000"]]
    assert found["job"] == f"s3://{BUCKET}/scripts/nsde/bronze_job.py"
    assert found["lambda_handler"] == "app.handler"
    assert found["lambda_size"] > 0
    assert found["machines"] == ["pp-dw-pipeline-nsde"]
    assert found["rule"] == "rate(1 day)"
    assert found["param"] == "v"
    assert found["secret"] == "s3cret"


def object_files(project: Path) -> list[Path]:
    return sorted(p for p in (state_dir(project) / "objects").rglob("*") if p.is_file())


def test_object_bodies_are_plain_files_written_once(project: Path) -> None:
    put(project, "bronze/a.parquet", BIG, create=True)
    files = object_files(project)
    assert [f.read_bytes() for f in files] == [BIG]
    before = files[0].stat()
    put(project, "raw/other.txt", b"small")
    after = files[0].stat()
    assert (after.st_ino, after.st_mtime_ns) == (before.st_ino, before.st_mtime_ns)
    assert sorted(f.read_bytes() for f in object_files(project)) == sorted([b"small", BIG])
    assert not (state_dir(project) / "blobs").exists()  # no second copy of any body


def test_deleted_objects_drop_their_files(project: Path) -> None:
    put(project, "bronze/a.parquet", BIG, create=True)
    target = open_local(project)
    target.aws.client("s3").delete_object(Bucket=BUCKET, Key="bronze/a.parquet")
    target.close(True)
    assert object_files(project) == []


def test_crash_during_save_keeps_previous_state(project: Path) -> None:
    put(project, "raw/v.txt", b"v1", create=True)
    good = (state_dir(project) / STATE_FILE).read_bytes()

    target = open_local(project)
    target.aws.client("s3").put_object(Bucket=BUCKET, Key="raw/v.txt", Body=b"v2")

    def crash(fd: int) -> None:
        raise KeyboardInterrupt  # Ctrl-C between writing the temp file and the rename

    with pytest.MonkeyPatch.context() as patch:
        patch.setattr(state_module.os, "fsync", crash)
        with pytest.raises(KeyboardInterrupt):
            target.close(True)

    assert (state_dir(project) / STATE_FILE).read_bytes() == good
    assert [p.name for p in state_dir(project).iterdir() if ".tmp-" in p.name] == []
    assert read(project, "raw/v.txt") == b"v1"


def test_failed_command_still_saves(project: Path) -> None:
    put(project, "raw/x.txt", b"1", create=True)
    target = open_local(project)
    target.aws.client("s3").put_object(Bucket=BUCKET, Key="silver/_runs/x.json", Body=b"{}")
    target.close(False)  # e.g. a run that failed after writing its failed run record
    assert read(project, "silver/_runs/x.json") == b"{}"


def test_interrupted_command_keeps_last_good_state(project: Path) -> None:
    put(project, "raw/x.txt", b"1", create=True)
    target = open_local(project)
    target.aws.client("s3").put_object(Bucket=BUCKET, Key="raw/half.txt", Body=b"?")
    try:
        raise KeyboardInterrupt
    except KeyboardInterrupt:
        target.close(False)
    assert read(project, "raw/half.txt") is None
    assert read(project, "raw/x.txt") == b"1"


def test_state_from_another_moto_version_is_refused(project: Path) -> None:
    put(project, "raw/x.txt", b"1", create=True)
    path = state_dir(project) / STATE_FILE
    magic, header, rest = path.read_bytes().split(b"\n", 2)
    stamp = json.loads(header)
    stamp["moto"] = "0.0.1"
    path.write_bytes(magic + b"\n" + json.dumps(stamp).encode() + b"\n" + rest)
    assert read_stamp(state_dir(project)) is not None
    with pytest.raises(TargetError) as raised:
        open_local(project)
    assert "moto 0.0.1" in raised.value.message
    assert raised.value.hint is not None
    assert "ppdw local reset" in raised.value.hint


def test_damaged_state_is_refused_with_reset_hint(project: Path) -> None:
    put(project, "raw/x.txt", b"1", create=True)
    path = state_dir(project) / STATE_FILE
    path.write_bytes(path.read_bytes()[:-40])
    with pytest.raises(TargetError) as raised:
        open_local(project)
    assert "damaged" in raised.value.message
    assert raised.value.hint is not None
    assert "ppdw local reset" in raised.value.hint


def test_local_target_ignores_user_profile_and_endpoint(
    project: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("AWS_PROFILE", "someone-elses-production")
    monkeypatch.setenv("AWS_ENDPOINT_URL", "http://127.0.0.1:9")
    target = open_local(project)
    try:
        assert os.environ.get("AWS_ENDPOINT_URL") is None  # stray default-chain clients too
        assert target.aws.client("s3").meta.endpoint_url.endswith("amazonaws.com")
        target.aws.client("s3").create_bucket(Bucket=BUCKET)
        assert target.kind == "local"
        assert target.account_id == "123456789012"
    finally:
        target.close(True)
    assert os.environ["AWS_ENDPOINT_URL"] == "http://127.0.0.1:9"
    assert os.environ["AWS_PROFILE"] == "someone-elses-production"


def test_lambda_zip_survives(project: Path) -> None:
    buf = io.BytesIO()
    with zipfile.ZipFile(buf, "w") as archive:
        archive.writestr("app.py", "x = 1\n" * 20000)
    target = open_local(project)
    aws = target.aws
    trust = {"Version": "2012-10-17", "Statement": []}
    role = aws.client("iam").create_role(RoleName="r", AssumeRolePolicyDocument=json.dumps(trust))
    aws.client("lambda").create_function(
        FunctionName="f",
        Runtime="python3.12",
        Role=role["Role"]["Arn"],
        Handler="app.handler",
        Code={"ZipFile": buf.getvalue()},
    )
    sha = aws.client("lambda").get_function(FunctionName="f")["Configuration"]["CodeSha256"]
    target.close(True)
    again = open_local(project)
    try:
        config = again.aws.client("lambda").get_function(FunctionName="f")["Configuration"]
        assert config["CodeSha256"] == sha
    finally:
        again.close(True)


def test_a_loaded_state_brings_the_region_lists_moto_would_compute(project: Path) -> None:
    """moto lists each service's regions from botocore's service models when an account is
    first looked up; a loaded state brings the lists it was saved with instead."""
    from moto.core.base_backend import AccountSpecificBackend
    from moto.glue.models import glue_backends

    target = open_local(project)
    target.aws.client("glue").create_database(DatabaseInput={"Name": "pp_dw_bronze"})
    account = target.account_id
    target.close(True)
    computed = AccountSpecificBackend("glue", account, object, True, None).regions

    def recompute(self: Any, service_name: str) -> list[str]:
        raise AssertionError(f"{service_name}'s regions computed again")

    with pytest.MonkeyPatch.context() as patch:
        patch.setattr(AccountSpecificBackend, "_generate_regions", recompute)
        target = open_local(project)
        try:
            regions = list(glue_backends[account].regions)
            databases = target.aws.client("glue").get_databases()["DatabaseList"]
        finally:
            target.close(True)
    assert [d["Name"] for d in databases] == ["pp_dw_bronze"]
    assert regions == computed
    assert {"us-east-1", "eu-west-1"} <= set(regions)


def test_a_state_without_region_lists_still_loads(project: Path) -> None:
    """Format 2 (written before the region lists were saved): moto computes them."""
    from moto.glue.models import glue_backends

    with pytest.MonkeyPatch.context() as patch:
        patch.setattr(state_module, "FORMAT_VERSION", 2)
        original = state_module.capture_state
        # formats 1 and 2 pickled the backends alone
        patch.setattr(state_module, "capture_state", lambda: original().backends)
        put(project, "raw/x.txt", b"1", create=True)
    assert read_stamp(state_dir(project)).format == 2  # type: ignore[union-attr]
    target = open_local(project)
    try:
        regions = list(glue_backends[target.account_id].regions)
    finally:
        target.close(True)
    assert read(project, "raw/x.txt") == b"1"
    assert "eu-west-1" in regions
    assert read_stamp(state_dir(project)).format == 3  # type: ignore[union-attr]
