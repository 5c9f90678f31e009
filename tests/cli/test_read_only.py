"""Read-only commands answer from the local target's last saved state while another
process (a long run) holds its write lock, instead of waiting for it."""

from __future__ import annotations

import json
import subprocess
import sys
import textwrap
import time
from collections.abc import Iterator
from pathlib import Path

import pytest
from typer.testing import CliRunner

from ppdw.cli.app import app

#: Opens the local target as `ppdw run` does (taking the state lock), writes a run record
#: that is not saved yet, and holds the lock until its stdin closes.
HOLDER = """
import sys
from pathlib import Path
from ppdw.config.loader import load_project
from ppdw.targets import open_target

project = load_project(Path(sys.argv[1]))
target = open_target(project.warehouse, "local", project.root)
bucket = project.warehouse.names.bucket(target.account_id)
target.aws.client("s3").put_object(
    Bucket=bucket, Key="silver/_runs/nsde/nsde-unsaved.json", Body=b"{}"
)
print("ready", flush=True)
sys.stdin.read()
target.close(False)
"""


def invoke(project: Path, *args: str) -> tuple[int, str, str]:
    result = CliRunner().invoke(app, ["--project", str(project), *args])
    return result.exit_code, result.stdout, result.stderr


@pytest.fixture
def running(project: Path) -> Iterator[None]:
    """A first run saved, then another process holding the state lock."""
    code, _, err = invoke(project, "run", "nsde", "--as-of", "2026-11-01T06:00:00Z")
    assert code == 0, err
    process = subprocess.Popen(
        [sys.executable, "-c", textwrap.dedent(HOLDER), str(project)],
        stdin=subprocess.PIPE,
        stdout=subprocess.PIPE,
        text=True,
    )
    assert process.stdout is not None
    assert process.stdin is not None
    assert process.stdout.readline().strip() == "ready"
    yield
    process.stdin.close()
    process.wait(timeout=60)


@pytest.mark.parametrize(
    ("args", "codes"),
    [
        (["status", "nsde"], {0}),
        (["runs", "nsde"], {0}),
        (["show", "nsde", "--limit", "1"], {0}),
        (["query", "SELECT count(*) AS n FROM pp_dw_silver.nsde"], {0}),
        (["plan", "nsde"], {0, 2}),  # 2: changes to show, not an error
    ],
)
def test_read_only_commands_do_not_wait_for_the_write_lock(
    project: Path, running: None, monkeypatch: pytest.MonkeyPatch, args: list[str], codes: set[int]
) -> None:
    monkeypatch.setenv("PPDW_LOCK_TIMEOUT", "20")
    started = time.monotonic()
    code, _, err = invoke(project, *args)
    assert code in codes, err
    assert time.monotonic() - started < 15
    assert "another ppdw command is using the local state" not in err


def test_status_reads_the_last_saved_state(
    project: Path, running: None, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("PPDW_LOCK_TIMEOUT", "20")
    code, out, err = invoke(project, "status", "nsde", "--json")
    assert code == 0, err
    item = json.loads(out)["datasets"][0]
    assert item["last_run"]["run_id"] == "nsde-20261101-060000"
    assert item["silver"]["rows"] > 0


def test_a_writing_command_still_waits_for_the_lock(
    project: Path, running: None, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("PPDW_LOCK_TIMEOUT", "1")
    code, _, err = invoke(project, "run", "nsde", "--as-of", "2026-11-02T06:00:00Z")
    assert code == 1
    assert "another ppdw command is using the local state" in err
