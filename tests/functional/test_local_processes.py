"""The local target across real processes: the state lock and `ppdw local serve`."""

from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
import textwrap
import time
from collections.abc import Iterator
from pathlib import Path

import boto3
import pytest

from ppdw.config.loader import load_project
from ppdw.errors import LockedError
from ppdw.targets import TargetContext, open_target
from ppdw.targets.server_info import SERVER_FILE
from ppdw.targets.state import state_dir

BUCKET = "pp-dw-123456789012"

HOLDER = """
import sys
from pathlib import Path
from ppdw.config.loader import load_project
from ppdw.targets import open_target

project = load_project(Path(sys.argv[1]))
target = open_target(project.warehouse, "local", project.root)
print("ready", flush=True)
sys.stdin.read()  # hold the target until the test closes our stdin
target.close(True)
"""


def open_local(project: Path) -> TargetContext:
    loaded = load_project(project)
    return open_target(loaded.warehouse, "local", loaded.root)


def ppdw(
    project: Path, *args: str, env: dict[str, str] | None = None
) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [sys.executable, "-m", "ppdw", "--project", str(project), *args],
        capture_output=True,
        text=True,
        timeout=120,
        env={**os.environ, **(env or {})},
    )


@pytest.fixture
def holder(project: Path) -> Iterator[subprocess.Popen[str]]:
    """Another process that has the local target open (and so holds the state lock)."""
    process = subprocess.Popen(
        [sys.executable, "-c", textwrap.dedent(HOLDER), str(project)],
        stdin=subprocess.PIPE,
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
    )
    assert process.stdout is not None
    assert process.stdout.readline().strip() == "ready"
    yield process
    assert process.stdin is not None
    process.stdin.close()
    process.wait(timeout=60)


def test_second_invocation_fails_while_the_lock_is_held(
    project: Path, holder: subprocess.Popen[str], tmp_path: Path
) -> None:
    started = time.monotonic()
    result = ppdw(project, "local", "export", str(tmp_path / "out"), env={"PPDW_LOCK_TIMEOUT": "1"})
    waited = time.monotonic() - started
    assert result.returncode == 1
    assert "Error: another ppdw command is using the local state" in result.stderr
    assert f"pid {holder.pid}, command " in result.stderr
    assert waited >= 1.0


def test_in_process_open_waits_then_raises_locked(
    project: Path, holder: subprocess.Popen[str], monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("PPDW_LOCK_TIMEOUT", "0.2")
    with pytest.raises(LockedError) as raised:
        open_local(project)
    assert f"pid {holder.pid}" in raised.value.message


def test_lock_is_free_again_after_the_holder_closes(project: Path) -> None:
    first = open_local(project)
    first.close(True)
    second = open_local(project)
    second.close(True)


@pytest.fixture
def server(project: Path) -> Iterator[tuple[subprocess.Popen[str], str]]:
    process = subprocess.Popen(
        [sys.executable, "-m", "ppdw", "--project", str(project), "local", "serve", "--port", "0"],
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
    )
    assert process.stdout is not None
    first = process.stdout.readline()
    assert first.startswith("Serving the local warehouse"), first + process.stderr.read()
    endpoint = first.rsplit(" on ", 1)[1].strip()
    yield process, endpoint
    if process.poll() is None:
        process.kill()
        process.wait(timeout=30)


def test_serve_answers_on_loopback_and_saves_on_stop(
    project: Path, server: tuple[subprocess.Popen[str], str]
) -> None:
    process, endpoint = server
    assert endpoint.startswith("http://127.0.0.1:")
    info = json.loads((state_dir(project) / SERVER_FILE).read_text())
    assert info == {"endpoint": endpoint, "pid": process.pid}

    s3 = boto3.client(
        "s3",
        endpoint_url=endpoint,
        region_name="us-east-1",
        aws_access_key_id="testing",
        aws_secret_access_key="testing",
    )
    s3.create_bucket(Bucket=BUCKET)
    s3.put_object(Bucket=BUCKET, Key="raw/from-boto3.txt", Body=b"served")

    attached = open_local(project)  # uses the server: no lock, no load
    try:
        assert attached.aws.endpoint_url == endpoint
        body = attached.aws.client("s3").get_object(Bucket=BUCKET, Key="raw/from-boto3.txt")
        assert body["Body"].read() == b"served"
        attached.aws.client("s3").put_object(Bucket=BUCKET, Key="raw/from-ppdw.txt", Body=b"x")
    finally:
        attached.close(True)

    process.send_signal(signal.SIGINT)
    _, stderr = process.communicate(timeout=60)
    assert process.returncode == 0, stderr
    assert "local state saved" in stderr
    assert not (state_dir(project) / SERVER_FILE).exists()

    embedded = open_local(project)  # server gone: the saved state is loaded
    try:
        assert embedded.aws.endpoint_url is None
        keys = [
            o["Key"] for o in embedded.aws.client("s3").list_objects_v2(Bucket=BUCKET)["Contents"]
        ]
        assert keys == ["raw/from-boto3.txt", "raw/from-ppdw.txt"]
    finally:
        embedded.close(True)


def test_reset_refused_while_serving(
    project: Path, server: tuple[subprocess.Popen[str], str]
) -> None:
    process, _ = server
    result = ppdw(project, "local", "reset", "--yes")
    assert result.returncode == 1
    assert f"`ppdw local serve` is running (pid {process.pid}" in result.stderr


def test_stale_server_file_is_ignored(project: Path) -> None:
    directory = state_dir(project)
    directory.mkdir(parents=True, exist_ok=True)
    dead = subprocess.run(
        [sys.executable, "-c", "import os; print(os.getpid())"],
        capture_output=True,
        text=True,
        check=True,
    )
    stale = {"endpoint": "http://127.0.0.1:9", "pid": int(dead.stdout)}
    (directory / SERVER_FILE).write_text(json.dumps(stale))
    target = open_local(project)
    try:
        assert target.aws.endpoint_url is None
    finally:
        target.close(True)


def test_serve_refuses_a_non_loopback_host(project: Path) -> None:
    result = ppdw(project, "local", "serve", "--host", "0.0.0.0")
    assert result.returncode == 2
    assert "not a loopback address" in result.stderr
