"""The CLI's basics: version, help text, hints for near misses, completion."""

from __future__ import annotations

import re
from pathlib import Path

import pytest
from typer.testing import CliRunner

from ppdw.cli import complete
from ppdw.cli.app import app

COMMANDS = [
    [],
    ["validate"],
    ["bootstrap-core"],
    ["deploy"],
    ["plan"],
    ["destroy"],
    ["add-dataset"],
    ["run"],
    ["status"],
    ["local"],
    ["local", "export"],
    ["local", "serve"],
    ["local", "reset"],
]


def invoke(*args: str) -> tuple[int, str, str]:
    result = CliRunner().invoke(app, list(args))
    return result.exit_code, result.stdout, result.stderr


def test_version() -> None:
    code, out, _ = invoke("--version")
    assert code == 0
    assert re.fullmatch(r"ppdw \d+\.\d+\.\d+\S*\n", out)


@pytest.mark.parametrize("command", COMMANDS, ids=lambda c: " ".join(c) or "root")
def test_help_shows_no_python_types_and_a_complete_example(command: list[str]) -> None:
    code, out, _ = invoke(*command, "--help")
    assert code == 0
    assert not re.search(r"<(str|int|path|list\[[^]]*\]|bool)>", out), out
    assert "{" not in out.split("\n", 1)[0], out  # usage line: DATASET, not {DATASET}
    example = re.search(r"Example: (.*?)(?:\n\n|\Z)", out, re.S)
    if command:
        assert example is not None, out
        assert "..." not in example.group(1), out


def test_a_misspelt_dataset_suggests_the_near_one(project: Path) -> None:
    code, _, err = invoke("--project", str(project), "run", "nsd")
    assert code == 2
    assert "Error: unknown dataset 'nsd' (datasets in fda/: nsde, rxnorm)" in err
    assert "Hint: did you mean 'nsde'?" in err


def test_a_misspelt_target_suggests_the_near_one(project: Path) -> None:
    code, _, err = invoke("--project", str(project), "--target", "lcoal", "status")
    assert code == 2
    assert "Hint: did you mean 'local'?" in err


def test_a_global_option_after_the_command_says_where_it_goes(project: Path) -> None:
    code, _, err = invoke("--project", str(project), "status", "--target", "aws")
    assert code == 2
    assert "No such option: --target" in err
    assert "Hint: global options go before the command: ppdw --target NAME status" in err


def test_completion_of_datasets_and_targets(project: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.chdir(project / "fda")
    assert complete.datasets("") == ["nsde", "rxnorm"]
    assert complete.datasets("rx") == ["rxnorm"]
    assert complete.targets("") == ["aws", "local"]
    monkeypatch.chdir(project.parent)  # no project here: no completions, no error
    assert complete.datasets("") == []
