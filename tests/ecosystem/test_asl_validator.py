"""Every dataset's state machine definition through a real ASL validator.

`asl-validator` (npm, pinned in package.json/package-lock.json, installed by `npm ci`:
`.ci/run` does it, and these tests do it once when node_modules lacks it) checks the
Amazon States Language shape: state types and fields, transitions, JSONPath and intrinsic
function syntax. The quotas it does not check are tests/unit/test_asl_quotas.py.
"""

from __future__ import annotations

import json
import shutil
import subprocess
from pathlib import Path
from typing import Any

import pytest
from filelock import FileLock

from ppdw.config.loader import load_project
from ppdw.deploy.desired import pipeline_settings
from ppdw.deploy.resources import StackContext
from ppdw.deploy.statemachine import definition

REPO = Path(__file__).resolve().parents[2]
VALIDATOR = REPO / "node_modules" / ".bin" / "asl-validator"


def asl_validator() -> Path:
    """The validator's command, installed from the lockfile first if missing."""
    with FileLock(str(REPO / "node_modules.lock"), timeout=600):
        if not VALIDATOR.is_file():
            npm = shutil.which("npm")
            assert npm is not None, "npm is needed to install asl-validator (package.json)"
            subprocess.run([npm, "ci"], cwd=REPO, check=True, capture_output=True)
    return VALIDATOR


def validate(machine: dict[str, Any], tmp_path: Path) -> subprocess.CompletedProcess[str]:
    path = tmp_path / "definition.json"
    path.write_text(json.dumps(machine))
    return subprocess.run(
        [str(asl_validator()), "--json-path", str(path)],
        capture_output=True,
        text=True,
        check=False,
    )


def machines() -> list[tuple[str, dict[str, Any]]]:
    project = load_project(REPO)
    return [
        (
            name,
            definition(
                pipeline_settings(StackContext(project.warehouse, ds, "1" * 12, "us-east-1"))
            ),
        )
        for name, ds in project.datasets.items()
    ]


@pytest.mark.parametrize(("dataset", "machine"), machines(), ids=[m[0] for m in machines()])
def test_every_datasets_definition_is_valid_asl(
    dataset: str, machine: dict[str, Any], tmp_path: Path
) -> None:
    done = validate(machine, tmp_path)
    assert done.returncode == 0, f"{dataset}: {done.stdout}{done.stderr}"


@pytest.mark.parametrize(
    ("state", "field", "value", "named"),
    [
        ("Fetch", "Next", "NoSuchState", "NoSuchState"),
        ("FormatRunId", "Parameters", {"run_id.$": "States.Format('x', $.a"}, "run_id.$"),
    ],
)
def test_the_validator_refuses_a_broken_definition(
    state: str, field: str, value: Any, named: str, tmp_path: Path
) -> None:
    """The check can fail: a transition to a missing state, an unclosed intrinsic."""
    _, machine = machines()[0]
    broken = json.loads(json.dumps(machine))
    broken["States"][state][field] = value
    done = validate(broken, tmp_path)
    assert done.returncode != 0
    assert named in done.stdout + done.stderr
