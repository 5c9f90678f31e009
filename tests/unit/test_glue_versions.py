"""Glue versions: 5.1 by default, versions whose Python the runtime cannot use refused."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from ppdw.config.loader import load_project
from ppdw.config.runtimes import GLUE_ENVIRONMENTS
from ppdw.errors import ConfigError


def edit(path: Path, glue: dict[str, object]) -> None:
    data = json.loads(path.read_text())
    data["glue"] = {**data.get("glue", {}), **glue}
    path.write_text(json.dumps(data))


def test_the_default_is_glue_5_1_with_python_3_11() -> None:
    project = load_project(Path(__file__).resolve().parents[2])
    glue = project.dataset("nsde").glue_settings(project.warehouse.glue)
    assert glue.version == "5.1"
    assert (glue.environment.python, glue.environment.spark) == ("3.11", "3.5.6")
    assert glue.table_creation == "schema"


def test_shipped_modules_do_not_replace_what_glue_provides_except_for_pydantic() -> None:
    """pyarrow and numpy come from Glue 5.1 (22.0.0 with numpy 2.3.4): a newer pyarrow
    over them is how every job once failed at import."""
    project = load_project(Path(__file__).resolve().parents[2])
    glue = project.warehouse.glue
    replaced = {
        spec.partition("==")[0]
        for spec in glue.additional_python_modules
        if glue.environment.provided_version(spec.partition("==")[0]) is not None
    }
    assert replaced == {"typing-extensions"}  # pydantic 2.14 needs >= 4.16 (Glue: 4.15)
    assert all("==" in spec for spec in glue.additional_python_modules)


@pytest.mark.parametrize(
    ("version", "message"),
    [
        ("4.0", "Glue 4.0 runs Python 3.10; the ppdw runtime needs Python 3.11: use 5.0 or 5.1"),
        ("3.0", "Glue 3.0 runs Python 3.7"),
        ("6.7", "'6.7' is not a Glue version ppdw knows the Python modules of: 5.0 or 5.1"),
    ],
)
def test_glue_versions_without_python_3_11_are_refused_naming_the_field(
    project: Path, version: str, message: str
) -> None:
    edit(project / "config/warehouse.json", {"version": version})
    with pytest.raises(ConfigError) as caught:
        load_project(project)
    assert "config/warehouse.json: glue.version: " in caught.value.message
    assert message in caught.value.message


def test_a_dataset_override_is_checked_too(project: Path) -> None:
    edit(project / "fda/rxnorm/config/dataset.json", {"version": "4.0"})
    with pytest.raises(ConfigError, match=r"fda/rxnorm/config/dataset\.json: glue\.version: "):
        load_project(project)


def test_each_known_version_names_its_source_and_log_groups() -> None:
    for version, environment in GLUE_ENVIRONMENTS.items():
        assert environment.version == version
        assert environment.python == "3.11"
        assert environment.log_groups == ("/aws-glue/jobs/output", "/aws-glue/jobs/error")
        assert environment.provided_version("numpy") is not None
    assert GLUE_ENVIRONMENTS["5.1"].provided_version("pyarrow") == "22.0.0"
    assert GLUE_ENVIRONMENTS["5.0"].provided_version("Typing_Extensions") is None
    assert GLUE_ENVIRONMENTS["5.1"].provided_version("typing_extensions") == "4.15.0"
