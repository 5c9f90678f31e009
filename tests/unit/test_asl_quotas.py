"""Step Functions quotas the ASL validators do not check, on every dataset's definition."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pytest

from ppdw.config.loader import load_project
from ppdw.deploy.asl_quotas import (
    MAX_DEFINITION_BYTES,
    execution_name_problem,
    intrinsic_count,
    quota_problems,
)
from ppdw.deploy.desired import pipeline_settings, state_machine_spec
from ppdw.deploy.resources import StackContext
from ppdw.deploy.statemachine import definition
from ppdw.errors import ConfigError

REPO = Path(__file__).resolve().parents[2]
ACCOUNT = "123456789012"
#: The 13-intrinsic field that made AWS refuse every scheduled run.
TOO_MANY = (
    "States.Format('nsde-{}{}{}-{}{}{}', "
    + ", ".join(
        f"States.ArrayGetItem(States.StringSplit($.run_time, '-:TZ.'), {i})" for i in range(6)
    )
    + ")"
)


def contexts() -> list[StackContext]:
    project = load_project(REPO)
    return [
        StackContext(project.warehouse, dataset, ACCOUNT, "us-east-1")
        for dataset in project.datasets.values()
    ]


@pytest.mark.parametrize("ctx", contexts(), ids=lambda ctx: ctx.dataset.name)
def test_every_datasets_definition_is_within_the_quotas(ctx: StackContext) -> None:
    machine = definition(pipeline_settings(ctx))
    assert quota_problems(machine, [f"{ctx.dataset.name}-20261101-060000"]) == []


def test_the_longest_dataset_name_gives_a_valid_run_id_and_definition() -> None:
    ctx = contexts()[0]
    longest = ctx.dataset.model_copy(update={"name": "d" * 31})
    long_ctx = StackContext(ctx.warehouse, longest, ACCOUNT, "us-east-1")
    assert (
        quota_problems(definition(pipeline_settings(long_ctx)), ["d" * 31 + "-20261101-060000"])
        == []
    )


def test_intrinsics_are_counted_per_field_and_quoted_text_is_not_code() -> None:
    assert intrinsic_count(TOO_MANY) == 13
    assert intrinsic_count("States.Format('States.Array(x) {}', $.a)") == 1
    assert intrinsic_count("$.run_id") == 0
    assert intrinsic_count("States.Format('it\\'s {}', States.UUID())") == 2


def test_a_field_with_more_than_ten_intrinsics_is_named() -> None:
    machine: dict[str, Any] = {
        "StartAt": "Name",
        "States": {"Name": {"Type": "Pass", "Parameters": {"run_id.$": TOO_MANY}, "End": True}},
    }
    assert quota_problems(machine) == [
        "States.Name.Parameters.run_id.$: 13 intrinsic functions, at most 10 allowed in one field"
    ]


def test_long_state_names_in_branches_and_big_definitions_are_refused() -> None:
    long_name = "S" * 81
    machine: dict[str, Any] = {
        "StartAt": "Map",
        "States": {
            "Map": {
                "Type": "Map",
                "ItemProcessor": {
                    "StartAt": long_name,
                    "States": {long_name: {"Type": "Succeed"}},
                },
                "Comment": "x" * MAX_DEFINITION_BYTES,
                "End": True,
            }
        },
    }
    problems = quota_problems(machine)
    assert problems[0] == (
        f"States.Map.ItemProcessor.States.{long_name}: state name of 81 characters, at most 80"
    )
    assert problems[1].startswith("definition: ")
    assert len(problems) == 2


@pytest.mark.parametrize(
    ("name", "problem"),
    [
        ("nsde-20261101-060000", None),
        ("", "0 characters, 1-80 allowed"),
        ("x" * 81, "81 characters, 1-80 allowed"),
        ("nsde 2026", "character ' ' is not allowed"),
        ("nsde:2026", "character ':' is not allowed"),
        ("nsde\x7f", "control character U+007F is not allowed"),
    ],
)
def test_execution_names(name: str, problem: str | None) -> None:
    assert execution_name_problem(name) == problem


def test_deploy_refuses_a_definition_beyond_the_quotas(monkeypatch: pytest.MonkeyPatch) -> None:
    import ppdw.deploy.desired as desired

    def over_quota(settings: Any) -> dict[str, Any]:
        return {
            "StartAt": "Name",
            "States": {"Name": {"Type": "Pass", "Parameters": {"a.$": TOO_MANY}, "End": True}},
        }

    monkeypatch.setattr(desired, "definition", over_quota)
    with pytest.raises(ConfigError, match=r"pp-dw-pipeline-nsde: .*13 intrinsic functions"):
        state_machine_spec(contexts()[0])
