"""The Athena workgroup of the core: created with enforced, encrypted results under the
bucket's expiring `athena-results/`, idempotent, repaired on drift, removed with the core.
(moto cannot serve Athena to this botocore; `tests/fake_athena.py` answers for it.)"""

from __future__ import annotations

from pathlib import Path

import boto3
import pytest

from ppdw.aws.athena import Athena
from ppdw.config.loader import load_project
from ppdw.config.models import TargetConfig
from ppdw.deploy.plan import FieldChange
from ppdw.deploy.service import ControlPlane
from ppdw.targets import TargetContext, open_target
from ppdw.targets.aws import open_aws_target
from tests.fake_athena import FakeAthena

pytestmark = pytest.mark.usefixtures("moto_aws")
ACCOUNT = "123456789012"
BUCKET = f"pp-dw-{ACCOUNT}"


def open_plane(project: Path) -> tuple[ControlPlane, TargetContext]:
    loaded = load_project(project)
    target = open_aws_target("aws", TargetConfig(kind="aws"), loaded.warehouse)
    return ControlPlane(loaded, target), target


def test_bootstrap_creates_the_workgroup_then_changes_nothing(project: Path) -> None:
    plane, target = open_plane(project)
    plane.apply(plane.plan_core(), lambda a: None)
    assert ("athena", "CreateWorkGroup") in {
        (c.service, c.operation) for c in target.aws.mutating_calls()
    }
    group = Athena(target.aws, ACCOUNT, "us-east-1").workgroup("pp-dw")
    assert group is not None
    configuration = group["Configuration"]
    assert configuration["EnforceWorkGroupConfiguration"] is True
    assert configuration["ResultConfiguration"] == {
        "OutputLocation": f"s3://{BUCKET}/athena-results/",
        "EncryptionConfiguration": {"EncryptionOption": "SSE_S3"},
    }
    assert configuration["EngineVersion"] == {"SelectedEngineVersion": "Athena engine version 3"}
    assert Athena(target.aws, ACCOUNT, "us-east-1").tags("pp-dw") == {"ppdw:managed": "true"}
    rules = boto3.client("s3").get_bucket_lifecycle_configuration(Bucket=BUCKET)["Rules"]
    results = next(r for r in rules if r["ID"] == "expire-athena-results")
    assert results["Filter"] == {"Prefix": "athena-results/"}
    assert results["Expiration"]["Days"] == 7

    again, second = open_plane(project)
    assert again.apply(again.plan_core(), lambda a: None) == 0
    assert second.aws.mutating_calls() == []


def test_a_drifted_workgroup_is_updated_in_place(project: Path, fake_athena: FakeAthena) -> None:
    plane, _ = open_plane(project)
    plane.apply(plane.plan_core(), lambda a: None)
    fake_athena.workgroups["pp-dw"]["Configuration"]["EnforceWorkGroupConfiguration"] = False

    plane, target = open_plane(project)
    (action,) = [a for a in plane.plan_core() if a.kind != "noop"]
    assert (action.kind, action.resource_type, action.name) == ("update", "workgroup", "pp-dw")
    assert action.changes == (FieldChange("EnforceWorkGroupConfiguration", False, True),)
    plane.apply([action], lambda a: None)
    assert [c.operation for c in target.aws.mutating_calls()] == ["UpdateWorkGroup"]
    assert fake_athena.workgroups["pp-dw"]["Configuration"]["EnforceWorkGroupConfiguration"]
    assert {a.kind for a in open_plane(project)[0].plan_core()} == {"noop"}


def test_destroy_core_removes_the_workgroup(project: Path, fake_athena: FakeAthena) -> None:
    plane, _ = open_plane(project)
    plane.apply(plane.plan_core(), lambda a: None)
    actions = plane.plan_destroy_core(delete_data=False)
    assert ("delete", "workgroup", "pp-dw") in {(a.kind, a.resource_type, a.name) for a in actions}
    plane.apply(actions, lambda a: None)
    assert fake_athena.workgroups == {}


def test_the_local_target_has_no_workgroup(project: Path) -> None:
    """Queries on `local` run on DuckDB: its core plans no workgroup, on AWS it does."""
    plane, _ = open_plane(project)
    local_target = open_target(plane.project.warehouse, "local", project)
    try:
        local = ControlPlane(plane.project, local_target)
        assert "workgroup" not in {a.resource_type for a in local.plan_core()}
    finally:
        local_target.close(ok=False)
    assert "workgroup" in {a.resource_type for a in plane.plan_core()}


def test_an_aws_target_without_athena_has_no_workgroup(project: Path) -> None:
    """An S3/Glue-compatible endpoint without Athena (`"athena": false`): no workgroup, and
    `query` defaults to DuckDB there."""
    loaded = load_project(project)
    target = open_aws_target("emulator", TargetConfig(kind="aws", athena=False), loaded.warehouse)
    plane = ControlPlane(loaded, target)
    assert "workgroup" not in {a.resource_type for a in plane.plan_core()}
    assert not target.athena
