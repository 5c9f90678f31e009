"""Timing and memory measurement: medians after a warm-up, peak RSS in a fresh process.

Rule: a time is the median of `repeat` runs after one untimed warm-up run, measured in this
process with `time.perf_counter`. A peak RSS is measured on a fresh child process that runs
the step once (`python -m bench.measure STEP PARAMS_JSON`), read from the kernel's
accounting of that child's own address space (`/proc/self/status` VmHWM, reported by the
child when its step is done), so nothing the parent imported or allocated counts. No psutil.
"""

from __future__ import annotations

import json
import os
import resource
import statistics
import subprocess
import sys
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

REPO = Path(__file__).resolve().parent.parent


@dataclass(frozen=True)
class Timing:
    """Seconds of each timed run, and their median."""

    runs: tuple[float, ...]

    @property
    def median(self) -> float:
        return statistics.median(self.runs)

    @property
    def spread(self) -> float:
        """(max - min) / median: how noisy the runs were."""
        return (max(self.runs) - min(self.runs)) / self.median if self.median else 0.0


def time_it(
    step: Callable[[], object],
    *,
    repeat: int,
    warmup: int = 1,
    before_each: Callable[[], object] | None = None,
) -> Timing:
    """Run `step` `warmup` times untimed, then `repeat` times timed; `before_each` is not timed."""
    for _ in range(warmup):
        if before_each is not None:
            before_each()
        step()
    runs: list[float] = []
    for _ in range(max(1, repeat)):
        if before_each is not None:
            before_each()
        start = time.perf_counter()
        step()
        runs.append(time.perf_counter() - start)
    return Timing(tuple(runs))


@dataclass(frozen=True)
class ChildResult:
    """One step run in a fresh interpreter: its wall time, peak RSS and what it returned."""

    seconds: float
    peak_rss_bytes: int
    output: dict[str, Any] = field(default_factory=dict)


def run_child(
    step: str,
    params: dict[str, Any],
    *,
    env: dict[str, str] | None = None,
    timeout: float = 3600,
) -> ChildResult:
    """Run registered `step` once in a new `python -m bench.measure` and measure its peak RSS."""
    command = [sys.executable, "-m", "bench.measure", step, json.dumps(params)]
    child_env = {**os.environ, **(env or {})}
    child_env["PYTHONPATH"] = os.pathsep.join(
        part for part in (str(REPO), child_env.get("PYTHONPATH", "")) if part
    )
    start = time.perf_counter()
    process = subprocess.Popen(
        command, stdout=subprocess.PIPE, stderr=subprocess.PIPE, env=child_env, cwd=REPO
    )
    try:
        stdout, stderr = process.communicate(timeout=timeout)
    except subprocess.TimeoutExpired:
        process.kill()
        process.communicate()
        raise RuntimeError(f"bench step {step} timed out after {timeout:.0f}s") from None
    # The child reports its own peak (VmHWM); RUSAGE_CHILDREN would only give the running
    # maximum over every child this process has waited for.
    seconds = time.perf_counter() - start
    if process.returncode != 0:
        raise RuntimeError(
            f"bench step {step} failed (exit {process.returncode}):\n{stderr.decode()[-3000:]}"
        )
    report = json.loads(stdout.decode().strip().splitlines()[-1])
    return ChildResult(
        seconds=seconds, peak_rss_bytes=int(report["peak_rss_bytes"]), output=report["output"]
    )


def own_peak_rss_bytes() -> int:
    """Peak resident set size of this process so far.

    `/proc/self/status` VmHWM belongs to this process's own address space. `ru_maxrss` is
    not used where VmHWM exists: Linux carries the parent's high-water mark across
    fork+exec into it, so a child of a 1 GB parent would report at least 1 GB.
    """
    try:
        for line in Path("/proc/self/status").read_text().splitlines():
            if line.startswith("VmHWM:"):
                return int(line.split()[1]) * 1024
    except OSError:
        pass
    return int(resource.getrusage(resource.RUSAGE_SELF).ru_maxrss) * 1024


def _child_main(argv: list[str]) -> int:
    from bench.steps import STEPS

    name, params = argv[0], json.loads(argv[1])
    output = STEPS[name](params)
    report = {"peak_rss_bytes": own_peak_rss_bytes(), "output": output or {}}
    sys.stdout.write(json.dumps(report) + "\n")
    return 0


if __name__ == "__main__":
    raise SystemExit(_child_main(sys.argv[1:]))
