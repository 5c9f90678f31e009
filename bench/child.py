"""Run one command as a user would and measure it: wall time, peak RSS, bytes written.

`python -m bench.child REPORT.json [--stdout FILE] [--stderr FILE] [--tty] -- COMMAND...`

Rule: standard library only, and this process stays small. The kernel carries a parent's
peak RSS into a child it starts (vfork + exec), so the peak of COMMAND is only its own
when the process that starts it is a fresh, small interpreter: this one.

- wall time: from just before the start to the exit, `time.perf_counter`;
- peak RSS: `ru_maxrss` of COMMAND from `os.wait4` (its own high-water mark);
- bytes written: `/proc/PID/io` of COMMAND read after it exited but before it is reaped
  (`waitid(WNOWAIT)`): `write_bytes` is what it sent to the storage layer (files, not
  pipes); `cancelled_write_bytes` what was dropped before reaching the disk (a file
  deleted while still in the page cache). Only COMMAND's own writes count, not those of
  processes it starts.
- `--tty`: COMMAND's stdout and stderr are a pseudo-terminal (what a user at a terminal
  sees: rich's live view is on), drained into the `--stderr` file.
"""

from __future__ import annotations

import json
import os
import subprocess
import sys
import threading
import time
from pathlib import Path
from typing import Any


def _io(pid: int) -> dict[str, int]:
    try:
        text = Path(f"/proc/{pid}/io").read_text()
    except OSError:
        return {}
    values = dict(line.split(": ", 1) for line in text.splitlines() if ": " in line)
    return {k: int(v) for k, v in values.items()}


def _drain(fd: int, sink: Any) -> None:
    while True:
        try:
            data = os.read(fd, 65536)
        except OSError:
            return
        if not data:
            return
        sink.write(data)


def run(command: list[str], stdout: Path | None, stderr: Path | None, tty: bool) -> dict[str, Any]:
    out = open(stdout, "wb") if stdout else subprocess.DEVNULL  # noqa: SIM115 - closed below
    err = open(stderr, "wb") if stderr else subprocess.DEVNULL  # noqa: SIM115 - closed below
    reader: threading.Thread | None = None
    try:
        if tty:
            import pty

            master, slave = pty.openpty()
            start = time.perf_counter()
            process = subprocess.Popen(
                command, stdin=subprocess.DEVNULL, stdout=slave, stderr=slave, close_fds=True
            )
            os.close(slave)
            reader = threading.Thread(target=_drain, args=(master, err), daemon=True)
            reader.start()
        else:
            start = time.perf_counter()
            process = subprocess.Popen(command, stdin=subprocess.DEVNULL, stdout=out, stderr=err)
        os.waitid(os.P_PID, process.pid, os.WEXITED | os.WNOWAIT)
        seconds = time.perf_counter() - start
        io_counts = _io(process.pid)
        _, status, usage = os.wait4(process.pid, 0)
        process.returncode = os.waitstatus_to_exitcode(status)
        if reader is not None:
            reader.join(timeout=5)
            os.close(master)
    finally:
        for handle in (out, err):
            if handle is not subprocess.DEVNULL:
                handle.close()  # type: ignore[union-attr]
    return {
        "exit": process.returncode,
        "seconds": seconds,
        "user_seconds": usage.ru_utime,
        "system_seconds": usage.ru_stime,
        "peak_rss_bytes": usage.ru_maxrss * 1024,
        "write_bytes": io_counts.get("write_bytes"),
        "cancelled_write_bytes": io_counts.get("cancelled_write_bytes"),
    }


def main(argv: list[str]) -> int:
    import argparse

    if "--" not in argv:
        sys.stderr.write(__doc__.splitlines()[2] + "\n")
        return 2
    split = argv.index("--")
    parser = argparse.ArgumentParser(prog="python -m bench.child")
    parser.add_argument("report", type=Path)
    parser.add_argument("--stdout", type=Path)
    parser.add_argument("--stderr", type=Path)
    parser.add_argument("--tty", action="store_true")
    args = parser.parse_args(argv[:split])
    result = run(argv[split + 1 :], args.stdout, args.stderr, args.tty)
    args.report.write_text(json.dumps(result))
    return 0


if __name__ == "__main__":
    raise SystemExit(main(sys.argv[1:]))
