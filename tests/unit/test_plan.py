"""The planner against a fake read-only state (no AWS)."""

from __future__ import annotations

from pathlib import Path

import pytest

from ppdw.config.loader import load_project
from ppdw.deploy.bundle import Artifact, DatasetArtifacts
from ppdw.deploy.core_specs import core_specs
from ppdw.deploy.desired import dataset_specs
from ppdw.deploy.plan import (
    Action,
    FieldChange,
    Observed,
    UnmanagedResourceError,
    has_changes,
    plan,
    plan_destroy,
)
from ppdw.deploy.resources import ResourceSpec, ResourceType, StackContext

REPO = Path(__file__).resolve().parents[2]
ACCOUNT = "123456789012"


class FakeState:
    """Whatever the test says exists, exactly as the specs describe it unless changed."""

    def __init__(self, resources: dict[tuple[str, str], Observed] | None = None) -> None:
        self.resources = resources or {}

    @classmethod
    def matching(cls, specs: list[ResourceSpec]) -> FakeState:
        return cls(
            {(s.resource_type, s.name): Observed(dict(s.fields), dict(s.tags)) for s in specs}
        )

    def read(self, resource_type: ResourceType, name: str) -> Observed | None:
        return self.resources.get((resource_type, name))


def specs(warehouse_edit: dict[str, object] | None = None) -> list[ResourceSpec]:
    project = load_project(REPO)
    warehouse = project.warehouse
    if warehouse_edit:
        warehouse = warehouse.model_copy(update=warehouse_edit)
    out = core_specs(warehouse, ACCOUNT, "us-east-1")
    artifacts = DatasetArtifacts(
        scripts=(Artifact("scripts/nsde/bronze_job.py", b"print(1)", "text/x-python"),),
        fetch_zip=b"zip",
    )
    ctx = StackContext(warehouse, project.dataset("nsde"), ACCOUNT, "us-east-1")
    return out + dataset_specs(ctx, artifacts)


def test_plan_creates_everything_when_nothing_exists() -> None:
    actions = plan(specs(), FakeState())
    assert {a.kind for a in actions} == {"create"}
    assert actions[0] == Action(
        "create", "bucket", f"pp-dw-{ACCOUNT}", f"create bucket pp-dw-{ACCOUNT}"
    )
    assert "create crawler pp-dw-bronze-nsde-crawler" in [a.message for a in actions]


def test_plan_is_empty_when_state_matches() -> None:
    desired = specs()
    actions = plan(desired, FakeState.matching(desired))
    assert not has_changes(actions)
    assert len(actions) == len(desired)


def test_plan_shows_the_changed_field_old_and_new() -> None:
    current = FakeState.matching(specs())
    glue = current.resources[("job", "pp-dw-bronze-nsde")]
    changed = specs({"glue": load_project(REPO).warehouse.glue.model_copy(update={"workers": 5})})
    actions = [a for a in plan(changed, current) if a.kind != "noop"]
    assert [a.name for a in actions] == ["pp-dw-bronze-nsde", "pp-dw-silver-nsde"]
    assert actions[0].changes == (
        FieldChange("NumberOfWorkers", glue.fields["NumberOfWorkers"], 5),
    )
    assert actions[0].message == "update job pp-dw-bronze-nsde: NumberOfWorkers"


def test_extra_default_argument_in_aws_is_drift() -> None:
    desired = specs()
    state = FakeState.matching(desired)
    job = state.resources[("job", "pp-dw-silver-nsde")]
    state.resources[("job", "pp-dw-silver-nsde")] = Observed(
        {**job.fields, "DefaultArguments.--debug": "true"}, job.tags
    )
    (action,) = [a for a in plan(desired, state) if a.kind != "noop"]
    assert action.changes == (FieldChange("DefaultArguments.--debug", "true", None),)


def test_fields_aws_adds_are_ignored() -> None:
    desired = specs()
    state = FakeState.matching(desired)
    job = state.resources[("job", "pp-dw-silver-nsde")]
    state.resources[("job", "pp-dw-silver-nsde")] = Observed(
        {**job.fields, "MaxCapacity": 2.0}, {**job.tags, "team": "data"}
    )
    assert not has_changes(plan(desired, state))


def test_missing_tag_is_an_update() -> None:
    desired = specs()
    state = FakeState.matching(desired)
    fn = state.resources[("function", "pp-dw-raw-fetch-nsde")]
    state.resources[("function", "pp-dw-raw-fetch-nsde")] = Observed(
        fn.fields, {"ppdw:managed": "true"}
    )
    (action,) = [a for a in plan(desired, state) if a.kind != "noop"]
    assert action.changes == (FieldChange("tags.ppdw:dataset", None, "nsde"),)


def test_unmanaged_resource_with_our_name_is_refused() -> None:
    desired = specs()
    state = FakeState.matching(desired)
    role = state.resources[("role", "pp-dw-glue-role")]
    state.resources[("role", "pp-dw-glue-role")] = Observed(role.fields, {})
    with pytest.raises(
        UnmanagedResourceError, match="role pp-dw-glue-role exists but is not managed"
    ):
        plan(desired, state)


def test_local_target_replaces_jobs_and_says_so() -> None:
    current = FakeState.matching(specs())
    changed = specs({"glue": load_project(REPO).warehouse.glue.model_copy(update={"workers": 5})})
    actions = [a for a in plan(changed, current, "local") if a.kind != "noop"]
    assert all(a.replace for a in actions)
    assert "local target: delete + create" in actions[0].message


def test_destroy_plans_reverse_order_and_leaves_unmanaged_alone() -> None:
    state = FakeState(
        {
            ("rule", "r"): Observed({}, {"ppdw:managed": "true"}),
            ("job", "j"): Observed({}, {}),
            ("function", "f"): Observed({}, {"ppdw:managed": "true"}),
        }
    )
    actions = plan_destroy(
        [("function", "f"), ("job", "j"), ("rule", "r"), ("crawler", "c")], state
    )
    assert [(a.kind, a.name) for a in actions] == [("delete", "r"), ("noop", "j"), ("delete", "f")]
    assert actions[1].message.endswith("left alone")
