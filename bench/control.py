"""Control-plane and start-up measurements: a moto server, API calls counted server side,
and `ppdw --help` wall time.

Rule: ppdw is driven only as a user drives it (its console script in a subprocess, `--target
aws` and `AWS_ENDPOINT_URL`), and what it did is counted by the server (moto's request
recorder behind `/moto-api/recorder/`), not by ppdw's own log, so the count cannot agree
with ppdw by construction.
"""

from __future__ import annotations

import base64
import json
import os
import shutil
import socket
import subprocess
import sys
import tempfile
import time
import urllib.parse
import urllib.request
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path

from bench.measure import REPO, Timing, time_it

#: Operation name prefixes that only read (the same convention AWS's own IAM actions use).
_READ_PREFIXES = ("Get", "List", "Describe", "Head", "BatchGet", "Search", "Lookup", "Select")


@dataclass(frozen=True)
class Request:
    """One API request as the server saw it."""

    method: str
    operation: str
    mutating: bool


@dataclass(frozen=True)
class MotoServer:
    url: str
    process: subprocess.Popen[bytes]
    record_file: Path

    def post(self, path: str) -> bytes:
        request = urllib.request.Request(self.url + path, data=b"", method="POST")
        with urllib.request.urlopen(request, timeout=30) as response:
            return bytes(response.read())

    def get(self, path: str) -> bytes:
        with urllib.request.urlopen(self.url + path, timeout=60) as response:
            return bytes(response.read())

    def start_recording(self) -> None:
        self.post("/moto-api/recorder/reset-recording")
        self.post("/moto-api/recorder/start-recording")

    def stop_recording(self) -> list[Request]:
        self.post("/moto-api/recorder/stop-recording")
        text = self.get("/moto-api/recorder/download-recording").decode()
        return [classify(json.loads(line)) for line in text.splitlines() if line.strip()]


def _free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


_SERVE = """
import sys, time
from moto.server import ThreadedMotoServer
server = ThreadedMotoServer(ip_address="127.0.0.1", port=int(sys.argv[1]), verbose=False)
server.start()
print("ready", flush=True)
while True:
    time.sleep(3600)
"""


@contextmanager
def moto_server(workdir: Path) -> Iterator[MotoServer]:
    """A `ThreadedMotoServer` on 127.0.0.1 in its own process (so the gigabytes a fetch
    uploads live there, not in the process being measured)."""
    port = _free_port()
    record_file = workdir / "moto_recording.jsonl"
    env = {**os.environ, "MOTO_RECORDER_FILEPATH": str(record_file)}
    env.pop("MOTO_ENABLE_RECORDING", None)
    process = subprocess.Popen(
        [sys.executable, "-c", _SERVE, str(port)],
        stdout=subprocess.PIPE,
        stderr=subprocess.DEVNULL,
        env=env,
        cwd=workdir,
    )
    try:
        assert process.stdout is not None
        if process.stdout.readline().strip() != b"ready":
            raise RuntimeError("moto server did not start")
        server = MotoServer(f"http://127.0.0.1:{port}", process, record_file)
        _wait_until_up(server)
        yield server
    finally:
        process.terminate()
        try:
            process.wait(timeout=10)
        except subprocess.TimeoutExpired:
            process.kill()
            process.wait()


def _wait_until_up(server: MotoServer, timeout: float = 20.0) -> None:
    deadline = time.monotonic() + timeout
    while True:
        try:
            server.get("/moto-api/data.json")
            return
        except OSError:
            if time.monotonic() > deadline:
                raise
            time.sleep(0.05)


def classify(entry: dict[str, object]) -> Request:
    """Name the AWS operation of one recorded request and say whether it mutates.

    JSON protocols name it in `X-Amz-Target` (Glue, Step Functions, EventBridge), query
    protocols in the `Action` form field (IAM, STS); REST protocols (S3, Lambda) by verb:
    GET and HEAD read, everything else writes.
    """
    headers = {str(k).lower(): str(v) for k, v in dict(entry.get("headers") or {}).items()}
    method = str(entry.get("method", "GET")).upper()
    target = headers.get("x-amz-target")
    if target:
        operation = target.rsplit(".", 1)[-1]
        return Request(method, operation, not operation.startswith(_READ_PREFIXES))
    action = _query_action(entry)
    if action:
        return Request(method, action, not action.startswith(_READ_PREFIXES))
    path = urllib.parse.urlsplit(str(entry.get("url", ""))).path
    return Request(method, f"{method} {path}", method not in ("GET", "HEAD"))


def _query_action(entry: dict[str, object]) -> str | None:
    body = entry.get("body") or ""
    if not isinstance(body, str) or len(body) > 1_000_000:
        return None
    if entry.get("body_encoded"):
        try:
            body = base64.b64decode(body).decode("utf-8")
        except (ValueError, UnicodeDecodeError):
            return None
    if "Action=" not in body:
        return None
    return urllib.parse.parse_qs(body).get("Action", [None])[0]


def ppdw_command() -> list[str]:
    """The installed console script next to this interpreter, else `python -m ppdw`."""
    script = Path(sys.executable).parent / "ppdw"
    return [str(script)] if script.exists() else [sys.executable, "-m", "ppdw"]


@dataclass(frozen=True)
class ControlPlaneResult:
    first_pass_calls: int
    first_pass_mutating: int
    second_pass_calls: int
    second_pass_mutating: tuple[str, ...]
    commands: tuple[str, ...]


def _project_copy(workdir: Path) -> Path:
    root = workdir / "project"
    if root.exists():
        shutil.rmtree(root)
    root.mkdir(parents=True)
    shutil.copytree(REPO / "config", root / "config")
    shutil.copytree(REPO / "fda", root / "fda")
    # moto's server cannot answer Athena as this botocore speaks it: the `aws` target here
    # is an S3/Glue-compatible endpoint without Athena (no workgroup in the core)
    settings = root / "config" / "warehouse.json"
    warehouse = json.loads(settings.read_text())
    warehouse.setdefault("targets", {})["aws"] = {"kind": "aws", "athena": False}
    settings.write_text(json.dumps(warehouse, indent=2) + "\n")
    return root


def _aws_env(server: MotoServer) -> dict[str, str]:
    env = {k: v for k, v in os.environ.items() if not k.startswith(("AWS_", "PPDW_"))}
    env.update(
        AWS_ENDPOINT_URL=server.url,
        AWS_ACCESS_KEY_ID="testing",
        AWS_SECRET_ACCESS_KEY="testing",
        AWS_REGION="us-east-1",
        AWS_DEFAULT_REGION="us-east-1",
        AWS_CONFIG_FILE=os.devnull,
        AWS_SHARED_CREDENTIALS_FILE=os.devnull,
        NO_COLOR="1",
    )
    return env


def control_plane(workdir: Path) -> ControlPlaneResult:
    """`bootstrap-core` then `deploy --all`, twice, against a fresh moto server; the
    second pass is recorded and its mutating calls listed."""
    with tempfile.TemporaryDirectory(dir=workdir) as tmp, moto_server(Path(tmp)) as server:
        project = _project_copy(Path(tmp))
        env = _aws_env(server)
        base = [*ppdw_command(), "--target", "aws", "--project", str(project)]
        commands = (["bootstrap-core", "--yes"], ["deploy", "--all", "--yes"])
        server.start_recording()
        for args in commands:
            _run(base + args, env)
        first = server.stop_recording()
        server.start_recording()
        for args in commands:
            _run(base + args, env)
        second = server.stop_recording()
    return ControlPlaneResult(
        first_pass_calls=len(first),
        first_pass_mutating=sum(r.mutating for r in first),
        second_pass_calls=len(second),
        second_pass_mutating=tuple(r.operation for r in second if r.mutating),
        commands=tuple("ppdw " + " ".join(c) for c in commands),
    )


def _run(command: list[str], env: dict[str, str]) -> None:
    done = subprocess.run(command, env=env, capture_output=True, text=True, timeout=600)
    if done.returncode != 0:
        shown = " ".join(command[1:])
        raise RuntimeError(f"`ppdw {shown}` failed ({done.returncode}): {done.stderr[-2000:]}")


@dataclass(frozen=True)
class StartupResult:
    ppdw_help: Timing
    python_pass: Timing

    @property
    def extra_seconds(self) -> float:
        return self.ppdw_help.median - self.python_pass.median


def startup(repeat: int) -> StartupResult:
    """Wall time of `ppdw --help` and of `python -c pass`, each in a fresh process."""
    env = {**os.environ, "NO_COLOR": "1"}

    def run(command: list[str]) -> None:
        subprocess.run(command, env=env, capture_output=True, check=True, timeout=60)

    help_cmd = [*ppdw_command(), "--help"]
    pass_cmd = [sys.executable, "-c", "pass"]
    return StartupResult(
        ppdw_help=time_it(lambda: run(help_cmd), repeat=max(repeat, 5)),
        python_pass=time_it(lambda: run(pass_cmd), repeat=max(repeat, 5)),
    )
