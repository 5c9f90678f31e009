"""One ppdw invocation at a time on a local state directory.

Rule: the lock is held from the moment the local target opens until it closes (load, the
command's work, save). A second invocation waits `PPDW_LOCK_TIMEOUT` seconds (default 5),
then fails with `LockedError` naming the holder (pid and command line), which the holder
writes beside the lock once it has it. The OS releases the lock if the holder dies.
"""

from __future__ import annotations

import json
import os
import sys
from pathlib import Path
from types import TracebackType

from filelock import FileLock, Timeout

from ppdw.errors import ConfigError, LockedError

LOCK_FILE = "state.lock"
HOLDER_FILE = "state.lock.json"
DEFAULT_TIMEOUT = 5.0


def lock_timeout() -> float:
    raw = os.environ.get("PPDW_LOCK_TIMEOUT")
    if raw is None or raw == "":
        return DEFAULT_TIMEOUT
    try:
        value = float(raw)
    except ValueError:
        value = -1.0
    if value < 0:
        raise ConfigError(
            f"PPDW_LOCK_TIMEOUT={raw!r} is not a number of seconds",
            "set it to a number >= 0, e.g. PPDW_LOCK_TIMEOUT=10",
        )
    return value


def describe_command(argv: list[str] | None = None) -> str:
    args = list(sys.argv if argv is None else argv)
    if args and (args[0].endswith("__main__.py") or Path(args[0]).name in ("ppdw", "-m")):
        args[0] = "ppdw"
    return " ".join(args)[:200]


class StateLock:
    """Exclusive lock on a state directory; use as a context manager or acquire/release."""

    def __init__(self, directory: Path, timeout: float | None = None) -> None:
        self.directory = directory
        self.timeout = lock_timeout() if timeout is None else timeout
        self._lock = FileLock(str(directory / LOCK_FILE), timeout=self.timeout)

    @property
    def held(self) -> bool:
        return self._lock.is_locked

    def acquire(self) -> None:
        self.directory.mkdir(parents=True, exist_ok=True)
        try:
            self._lock.acquire()
        except Timeout:
            raise LockedError(
                f"another ppdw command is using the local state ({self.holder()})",
                f"wait for it to finish (waited {self.timeout:g}s; PPDW_LOCK_TIMEOUT "
                "sets how long), or stop it",
            ) from None
        holder = {"pid": os.getpid(), "command": describe_command()}
        (self.directory / HOLDER_FILE).write_text(json.dumps(holder))

    def release(self) -> None:
        if self._lock.is_locked:
            (self.directory / HOLDER_FILE).unlink(missing_ok=True)
            self._lock.release()

    def holder(self) -> str:
        try:
            info = json.loads((self.directory / HOLDER_FILE).read_text())
            return f"pid {info['pid']}, command {info['command']}"
        except (OSError, ValueError, KeyError, TypeError):
            return "pid unknown"

    def __enter__(self) -> StateLock:
        self.acquire()
        return self

    def __exit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        self.release()
