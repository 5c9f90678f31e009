"""The AWS-shaped run: `ppdw --target aws run --runner local` against a local S3/Glue endpoint.

Rule: the endpoint is `ppdw local serve` (moto's server over loopback HTTP, with the
local target's file-backed objects), started in its own process on a free port; ppdw is
pointed at it only through what it honours for any AWS endpoint (`AWS_ENDPOINT_URL`, keys,
region). The warehouse is created as on AWS (`bootstrap-core`, `deploy`, untimed); each
run is timed like the embedded ones.
"""

from __future__ import annotations

import json
import shutil
import signal
import subprocess
import time
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

from bench.e2e import REPO, clean_env, measure, ppdw_command


@contextmanager
def served(state: Path, logs: Path) -> Iterator[str]:
    """`ppdw local serve --port 0` on `state`; yields its endpoint; stopped (and saved)
    with SIGINT as a user stops it."""
    logs.mkdir(parents=True, exist_ok=True)
    command = [*ppdw_command(), "--project", str(REPO), "local", "serve", "--port", "0"]
    with (logs / "serve.out").open("wb") as out:
        process = subprocess.Popen(
            command,
            env=clean_env(PPDW_STATE_DIR=str(state)),
            stdout=out,
            stderr=subprocess.STDOUT,
            cwd=REPO,
        )
        try:
            yield _endpoint(state, process)
        finally:
            process.send_signal(signal.SIGINT)
            try:
                process.wait(timeout=120)
            except subprocess.TimeoutExpired:
                process.kill()
                process.wait()


def _endpoint(state: Path, process: subprocess.Popen[bytes]) -> str:
    deadline = time.monotonic() + 120
    info = state / "server.json"
    while time.monotonic() < deadline:
        if process.poll() is not None:
            raise RuntimeError(f"ppdw local serve exited with {process.returncode}")
        if info.exists():
            try:
                return str(json.loads(info.read_text())["endpoint"])
            except (ValueError, KeyError):
                pass  # being written
        time.sleep(0.05)
    raise RuntimeError("ppdw local serve did not start within 120 s")


def client_env(endpoint: str, scratch: Path) -> dict[str, str]:
    return clean_env(
        AWS_ENDPOINT_URL=endpoint,
        AWS_ACCESS_KEY_ID="testing",
        AWS_SECRET_ACCESS_KEY="testing",
        AWS_REGION="us-east-1",
        AWS_DEFAULT_REGION="us-east-1",
        PPDW_STATE_DIR=str(scratch),  # never used by --target aws; kept apart all the same
    )


def project_copy(workdir: Path) -> Path:
    """This repository's project (config and datasets) with the `aws` target declared
    without Athena: moto's server does not answer the Athena API, so the core gets no
    workgroup there (as for any S3/Glue-compatible endpoint without Athena)."""
    root = workdir / "project"
    if root.exists():
        shutil.rmtree(root)
    root.mkdir(parents=True)
    shutil.copytree(REPO / "config", root / "config")
    shutil.copytree(REPO / "fda", root / "fda")
    settings = root / "config" / "warehouse.json"
    warehouse = json.loads(settings.read_text())
    warehouse.setdefault("targets", {})["aws"] = {"kind": "aws", "athena": False}
    settings.write_text(json.dumps(warehouse, indent=2) + "\n")
    return root


def deploy(endpoint: str, scratch: Path, logs: Path, project: Path) -> None:
    """`bootstrap-core` and `deploy nsde` on the endpoint (`--yes`: no one to ask)."""
    env = client_env(endpoint, scratch)
    steps = (("bootstrap", ["bootstrap-core", "--yes"]), ("deploy", ["deploy", "nsde", "--yes"]))
    for name, args in steps:
        command = [*ppdw_command(), "--project", str(project), "--target", "aws", *args]
        result, _, err = measure(command, env, logs, f"aws-{name}")
        if result["exit"] != 0:
            raise RuntimeError(f"ppdw --target aws {name} failed:\n{err[-3000:]}")
