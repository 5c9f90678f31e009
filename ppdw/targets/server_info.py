"""Where a running `ppdw local serve` is found: `server.json` in the state directory.

Rule: files and sockets only. A server writes its endpoint and pid when it starts and
removes them when it stops; another ppdw invocation uses the server only while that
process is alive and its endpoint answers.
"""

from __future__ import annotations

import json
import os
import socket
from dataclasses import dataclass
from pathlib import Path
from urllib.parse import urlsplit

from ppdw.errors import UsageError

SERVER_FILE = "server.json"


@dataclass(frozen=True)
class ServerInfo:
    endpoint: str
    pid: int


def read_server(directory: Path) -> ServerInfo | None:
    try:
        info = json.loads((directory / SERVER_FILE).read_text())
        return ServerInfo(endpoint=str(info["endpoint"]), pid=int(info["pid"]))
    except (OSError, ValueError, KeyError, TypeError):
        return None


def write_server(directory: Path, info: ServerInfo) -> None:
    directory.mkdir(parents=True, exist_ok=True)
    text = json.dumps({"endpoint": info.endpoint, "pid": info.pid})
    (directory / SERVER_FILE).write_text(text)


def remove_server(directory: Path) -> None:
    (directory / SERVER_FILE).unlink(missing_ok=True)


def pid_alive(pid: int) -> bool:
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except PermissionError:
        return True
    return True


def endpoint_answers(endpoint: str, timeout: float = 0.5) -> bool:
    parts = urlsplit(endpoint)
    if parts.hostname is None or parts.port is None:
        return False
    try:
        with socket.create_connection((parts.hostname, parts.port), timeout=timeout):
            return True
    except OSError:
        return False


def live_server(directory: Path) -> ServerInfo | None:
    """The server of this state directory, if its process is alive and it answers."""
    info = read_server(directory)
    if info is None or info.pid == os.getpid():
        return None
    if pid_alive(info.pid) and endpoint_answers(info.endpoint):
        return info
    return None


def check_port_free(host: str, port: int) -> None:
    if port == 0:
        return
    with socket.socket(socket.AF_INET6 if ":" in host else socket.AF_INET) as probe:
        try:
            probe.bind((host, port))
        except OSError as exc:
            raise UsageError(
                f"cannot listen on {host}:{port}: {exc.strerror}",
                "choose another port with --port (0 picks a free one)",
            ) from None
