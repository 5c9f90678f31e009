"""`ppdw run --engine` and `ppdw plan` as a user types them, on the embedded local target."""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path
from typing import Any

import pytest
from typer.testing import CliRunner

from ppdw.cli.app import app
from ppdw.runtime.spark import session

REPO = Path(__file__).resolve().parents[2]


def invoke(project: Path, *args: str) -> tuple[int, str, str]:
    result = CliRunner().invoke(app, ["--project", str(project), *args])
    return result.exit_code, result.stdout, result.stderr


def test_run_with_the_spark_engine_on_the_local_target(spark: Any, project: Path) -> None:
    code, _, stderr = invoke(project, "run", "nsde", "--engine", "spark")
    assert code == 0, stderr
    assert "[spark engine]" in stderr
    code, stdout, stderr = invoke(project, "status", "nsde", "--json")
    assert code == 0, stderr
    nsde = json.loads(stdout)["datasets"][0]
    assert nsde["last_run"]["status"] == "succeeded"
    assert nsde["silver"]["current_rows"] > 0


def test_run_with_spark_without_pyspark_names_the_extra(
    project: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setattr(session, "pyspark_available", lambda: False)
    code, _, stderr = invoke(project, "run", "nsde", "--engine", "spark")
    assert code == 2
    assert "Error: --engine spark needs pyspark, which is not installed (extra 'spark')" in stderr
    assert "pip install -e '.[spark]'" in stderr


def test_plan_shows_each_dataset_engine(project: Path) -> None:
    config = project / "fda" / "rxnorm" / "config" / "dataset.json"
    document = json.loads(config.read_text())
    config.write_text(json.dumps({**document, "engine": "spark"}))
    _, _, stderr = invoke(project, "plan", "nsde", "rxnorm")
    assert "nsde: engine auto (spark above 640 MiB of raw data, else arrow), 2 G.1X workers" in (
        stderr
    )
    assert "rxnorm: engine spark, 2 G.1X workers" in stderr


def test_an_arrow_run_never_imports_pyspark(project: Path, tmp_path: Path) -> None:
    script = (
        "import sys\n"
        "from typer.testing import CliRunner\n"
        "from ppdw.cli.app import app\n"
        f"result = CliRunner().invoke(app, ['--project', {str(project)!r}, 'run', 'nsde',"
        " '--engine', 'arrow'])\n"
        "assert result.exit_code == 0, result.stderr\n"
        "print('pyspark' in sys.modules, 'py4j' in sys.modules)\n"
    )
    env = {"PPDW_STATE_DIR": str(tmp_path / "state"), "PATH": "/usr/bin:/bin"}
    out = subprocess.run(
        [sys.executable, "-c", script], capture_output=True, text=True, env=env, cwd=REPO
    )
    assert out.returncode == 0, out.stderr
    assert out.stdout.split() == ["False", "False"]
