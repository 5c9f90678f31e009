"""`destroy DATASET` removes every resource `deploy DATASET` made, found by the same names."""

from __future__ import annotations

from pathlib import Path

import pytest

from ppdw.config.loader import load_project
from ppdw.config.models import TargetConfig
from ppdw.deploy.bundle import read_dataset_artifacts
from ppdw.deploy.desired import dataset_resources, dataset_specs
from ppdw.deploy.resources import ResourceSpec, StackContext
from ppdw.deploy.service import ControlPlane
from ppdw.targets.aws import open_aws_target

pytestmark = pytest.mark.usefixtures("moto_aws")
ACCOUNT, REGION = "123456789012", "us-east-1"


def open_plane(project: Path) -> ControlPlane:
    loaded = load_project(project)
    target = open_aws_target("aws", TargetConfig(kind="aws"), loaded.warehouse)
    return ControlPlane(loaded, target)


def specs_of(project: Path, dataset: str) -> list[ResourceSpec]:
    loaded = load_project(project)
    ctx = StackContext(loaded.warehouse, loaded.dataset(dataset), ACCOUNT, REGION)
    names = loaded.warehouse.names.dataset(dataset)
    artifacts = read_dataset_artifacts(loaded.dataset_dir(dataset), names.scripts_prefix)
    return dataset_specs(ctx, artifacts)


def destroyed_as(spec: ResourceSpec, scripts_prefix: str) -> tuple[str, str]:
    """A script object goes with its dataset's scripts prefix."""
    if spec.resource_type == "object":
        assert spec.name.startswith(scripts_prefix)
        return ("prefix", scripts_prefix)
    return (spec.resource_type, spec.name)


@pytest.mark.parametrize("dataset", ["nsde", "rxnorm"])
def test_the_destroy_inventory_covers_every_deployed_resource(project: Path, dataset: str) -> None:
    names = load_project(project).warehouse.names.dataset(dataset)
    deployed = {destroyed_as(s, names.scripts_prefix) for s in specs_of(project, dataset)}
    assert deployed == set(dataset_resources(names))


def test_destroy_plans_a_delete_of_every_kind_deploy_made(project: Path) -> None:
    plane = open_plane(project)
    plane.apply(plane.plan_core(), lambda a: None)
    plane.apply(plane.plan_datasets(["nsde"]), lambda a: None)
    names = plane.project.warehouse.names.dataset("nsde")
    deployed = {destroyed_as(s, names.scripts_prefix) for s in specs_of(project, "nsde")}
    actions = plane.plan_destroy_dataset("nsde", delete_data=False)
    deleted = {(a.resource_type, a.name) for a in actions if a.kind == "delete"}
    assert deployed <= deleted
    assert {kind for kind, _ in deployed} == {kind for kind, _ in deleted}
