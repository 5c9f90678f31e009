"""Config files: errors name the file and the field path; unknown keys are refused."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from ppdw.config.loader import load_project
from ppdw.errors import ConfigError


def write(project: Path, rel: str, edit: dict[str, object]) -> None:
    path = project / rel
    data = json.loads(path.read_text())
    data.update(edit)
    path.write_text(json.dumps(data))


def test_repository_config_is_valid() -> None:
    project = load_project(Path(__file__).resolve().parents[2], strict=True)
    assert {"nsde", "rxnorm"} <= set(project.datasets)
    assert project.dataset("rxnorm").business_key == ("rxaui",)


@pytest.mark.parametrize(
    ("rel", "edit", "expected"),
    [
        ("config/warehouse.json", {"colour": "blue"}, "config/warehouse.json: colour: unknown key"),
        (
            "config/warehouse.json",
            {"glue": {"workers": 1}},
            "config/warehouse.json: glue.workers: Input should be greater than or equal to 2",
        ),
        ("config/warehouse.json", {"prefix": "PP"}, "config/warehouse.json: prefix:"),
        (
            "fda/nsde/config/dataset.json",
            {"business_key": []},
            "fda/nsde/config/dataset.json: business_key:",
        ),
        (
            "fda/nsde/config/dataset.json",
            {"source": {"url": "https://x/y.csv"}},
            "fda/nsde/config/dataset.json: source.format: field required",
        ),
        (
            "fda/rxnorm/config/dataset.json",
            {"schedule": {"expression": "every day"}},
            "fda/rxnorm/config/dataset.json: schedule.expression:",
        ),
        (
            "fda/rxnorm/config/dataset.json",
            {"name": "nsde"},
            "fda/rxnorm/config/dataset.json: name: 'nsde' differs from its folder 'rxnorm'",
        ),
    ],
)
def test_errors_name_file_and_field(
    project: Path, rel: str, edit: dict[str, object], expected: str
) -> None:
    write(project, rel, edit)
    with pytest.raises(ConfigError) as caught:
        load_project(project)
    assert expected in caught.value.message


def test_secret_in_source_url_is_refused(project: Path) -> None:
    path = project / "fda/nsde/config/dataset.json"
    data = json.loads(path.read_text())
    data["source"]["url"] = "https://x/y.zip?apiKey=123"
    path.write_text(json.dumps(data))
    with pytest.raises(ConfigError, match=r"source\.url"):
        load_project(project)


def test_missing_script_is_reported_in_strict_mode(project: Path) -> None:
    (project / "fda/nsde/glue/silver_job.py").unlink()
    with pytest.raises(ConfigError, match=r"fda/nsde/glue/silver_job\.py: file missing"):
        load_project(project, strict=True)


def test_a_python_module_spec_with_a_comma_is_refused(project: Path) -> None:
    path = project / "config" / "warehouse.json"
    data = json.loads(path.read_text())
    data["glue"]["additional_python_modules"] = ["pydantic>=2.7,<3"]
    path.write_text(json.dumps(data))
    with pytest.raises(ConfigError, match=r"glue\.additional_python_modules: .*no commas"):
        load_project(project)
