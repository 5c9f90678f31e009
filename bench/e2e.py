"""End to end: `ppdw run` through its console script, and the DuckDB pipeline, timed alike.

Rule: ppdw runs as a user runs it: its console script in a fresh process, on the embedded
`local` target (state in a folder of its own), on zip sources named with `--source`. The
DuckDB pipeline (`bench.duckdb_pipeline`) runs in a fresh process too, on the same zips,
and both are measured by `bench.child` (wall time, peak RSS, bytes written). Each snapshot
runs ppdw and DuckDB back to back, alternating which goes first, so a change in the
machine's load hits both; the load average is recorded at each run.

The snapshots of one sequence, in run-time order:
- `first_load`: day 1 into an empty warehouse;
- `churn`: day 2 (0.5% of keys deleted, 1% updated, 0.5% inserted);
- `no_change`: day 2's rows again in a new zip (another file, the same data: ppdw stops
  after the fetch, its extracted file being the last run's; DuckDB processes it in full);
- `same_file`: the `no_change` zip again (ppdw stops after the fetch: source unchanged).
"""

from __future__ import annotations

import json
import os
import re
import shutil
import statistics
import subprocess
import sys
import zipfile
from dataclasses import asdict, dataclass, field
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

from bench import gen

REPO = Path(__file__).resolve().parent.parent
SEED = 20261101
MEMBER = "Comprehensive_NDC_SPL_Data_Elements_File.csv"
ARCHIVE = "Comprehensive_NDC_SPL_Data_Elements_File.zip"
RUNS = ("first_load", "churn", "no_change", "same_file")
#: Run times: 06:00 UTC on consecutive days (the order silver applies them in).
RUN_TIMES = {
    "first_load": datetime(2026, 11, 1, 6, tzinfo=UTC),
    "churn": datetime(2026, 11, 2, 6, tzinfo=UTC),
    "no_change": datetime(2026, 11, 3, 6, tzinfo=UTC),
    "same_file": datetime(2026, 11, 4, 6, tzinfo=UTC),
}
PHASES = ("state_load", "fetch", "bronze", "silver", "state_save")


def run_id(run: str) -> str:
    return f"nsde-{RUN_TIMES[run].strftime('%Y%m%d-%H%M%S')}"


def iso(run: str) -> str:
    return RUN_TIMES[run].strftime("%Y-%m-%dT%H:%M:%SZ")


# ------------------------------------------------------------------------------- sources


def _zip(csv: Path, target: Path, when: tuple[int, int, int, int, int, int]) -> Path:
    """The CSV as the one member of a zip, with a fixed member time (so a rerun of the
    bench makes byte-identical zips, and two times give two files with the same rows)."""
    target.parent.mkdir(parents=True, exist_ok=True)
    partial = target.with_suffix(".partial")
    info = zipfile.ZipInfo(MEMBER, date_time=when)
    info.compress_type = zipfile.ZIP_DEFLATED
    with (
        zipfile.ZipFile(partial, "w") as archive,
        archive.open(info, "w") as member,
        csv.open("rb") as source,
    ):
        shutil.copyfileobj(source, member, 1 << 20)
    partial.replace(target)
    return target


def sources(workdir: Path, rows: int) -> dict[str, Path]:
    """The zip of each run (generated once per row count and cached in `workdir`)."""
    folder = workdir / f"data-{rows}-{SEED}"
    marker = folder / "zips.done"
    zips = {
        "first_load": folder / "day1" / ARCHIVE,
        "churn": folder / "day2" / ARCHIVE,
        "no_change": folder / "day3" / ARCHIVE,
    }
    if not marker.exists():
        generated = gen.generate(folder, rows, seed=SEED)
        _zip(generated.day1, zips["first_load"], (2026, 11, 1, 5, 0, 0))
        _zip(generated.day2, zips["churn"], (2026, 11, 2, 5, 0, 0))
        _zip(generated.day2, zips["no_change"], (2026, 11, 3, 5, 0, 0))
        generated.day1.unlink()
        generated.day2.unlink()
        marker.write_text(json.dumps(asdict(generated), default=str))
    return {**zips, "same_file": zips["no_change"]}


# ---------------------------------------------------------------------------- one process


@dataclass
class Run:
    """One invocation: what `bench.child` measured and what its output said."""

    tool: str
    run: str
    seconds: float
    peak_rss_bytes: int
    write_bytes: int | None
    load1: float
    exit: int
    user_seconds: float = 0.0
    system_seconds: float = 0.0
    phases: dict[str, float] = field(default_factory=dict)
    counts: dict[str, int] = field(default_factory=dict)
    status: str = ""
    tty: bool = False
    detail: dict[str, Any] = field(default_factory=dict)


def ppdw_command() -> list[str]:
    """The console script next to this interpreter (`python -m ppdw` if there is none)."""
    script = Path(sys.executable).with_name("ppdw")
    return [str(script)] if script.exists() else [sys.executable, "-m", "ppdw"]


def clean_env(**extra: str) -> dict[str, str]:
    """This environment without anything that would point ppdw elsewhere."""
    env = {
        k: v
        for k, v in os.environ.items()
        if not k.startswith(("AWS_", "PPDW_")) and k not in ("NO_COLOR", "FORCE_COLOR")
    }
    env["PYTHONPATH"] = os.pathsep.join(p for p in (str(REPO), env.get("PYTHONPATH", "")) if p)
    env.update(extra)
    return env


def measure(
    command: list[str], env: dict[str, str], logs: Path, name: str, *, tty: bool = False
) -> tuple[dict[str, Any], str, str]:
    """Run `command` under `bench.child`; its report, stdout and stderr."""
    logs.mkdir(parents=True, exist_ok=True)
    report, out, err = (logs / f"{name}.{kind}" for kind in ("json", "out", "err"))
    wrapper = [sys.executable, "-m", "bench.child", str(report), "--stdout", str(out)]
    wrapper += ["--stderr", str(err), *(["--tty"] if tty else []), "--", *command]
    subprocess.run(wrapper, check=True, cwd=REPO, env=env, timeout=3600)
    result: dict[str, Any] = json.loads(report.read_text())
    return result, out.read_text(errors="replace"), err.read_text(errors="replace")


_DURATION = re.compile(r"^(?:(\d+)m)?(\d+(?:\.\d+)?)s$")
_STEP = re.compile(r"^(fetch|bronze|silver): (succeeded|unchanged|failed)\s+(\S+)", re.MULTILINE)
_STATE = re.compile(r"local state (loaded|saved) in ([\d.]+) s")
_N = r"(\d[\d,]*)"  # counts are printed with thousands separators
_SUMMARY = re.compile(
    rf"Run \S+ (\w+): bronze {_N} rows?; silver INSERT {_N}, UPDATE {_N}, DELETE {_N}, "
    rf"unchanged {_N}; {_N} rows? rejected"
)
_ANSI = re.compile(r"\x1b\[[0-9;?]*[A-Za-z]")


def _seconds(text: str) -> float:
    match = _DURATION.match(text)
    if match is None:
        return 0.0
    return int(match.group(1) or 0) * 60 + float(match.group(2))


def parse_ppdw(stderr: str) -> tuple[dict[str, float], dict[str, int], str]:
    """Phase seconds, change counts and status from `ppdw -v run`'s plain output."""
    text = _ANSI.sub("", stderr)
    phases: dict[str, float] = {}
    for kind, seconds in _STATE.findall(text):
        phases["state_load" if kind == "loaded" else "state_save"] = float(seconds)
    for step, _, took in _STEP.findall(text):
        phases[step] = _seconds(took)
    counts: dict[str, int] = {}
    status = "unchanged" if "Source unchanged since run" in text else ""
    found = _SUMMARY.search(re.sub(r"\s+", " ", text))  # the summary may wrap
    if found:
        status = found.group(1)
        names = ("bronze_rows", "INSERT", "UPDATE", "DELETE", "unchanged", "rejected")
        numbers = (int(g.replace(",", "")) for g in found.groups()[1:])
        counts = dict(zip(names, numbers, strict=True))
    return phases, counts, status


def run_ppdw(
    run: str,
    source: Path,
    env: dict[str, str],
    logs: Path,
    *,
    tool: str = "ppdw",
    tty: bool = False,
    target: list[str] | None = None,
    runner: list[str] | None = None,
    project: Path = REPO,
) -> Run:
    """`ppdw -v run nsde --source ZIP --as-of T --run-id ID`, measured."""
    command = [*ppdw_command(), "-v", "--project", str(project), *(target or []), "run", "nsde"]
    command += ["--source", str(source), "--as-of", iso(run), "--run-id", run_id(run)]
    command += runner or []
    load1 = os.getloadavg()[0]
    result, _, err = measure(command, env, logs, f"{tool}{'-tty' if tty else ''}-{run}", tty=tty)
    if result["exit"] != 0:
        raise RuntimeError(f"{tool} run {run} failed (exit {result['exit']}):\n{err[-3000:]}")
    phases, counts, status = parse_ppdw(err)
    return _run(tool, run, result, load1, phases, counts, status, tty)


def local_env(state: Path) -> dict[str, str]:
    return clean_env(PPDW_STATE_DIR=str(state))


def run_duckdb(run: str, source: Path, warehouse: Path, logs: Path) -> Run:
    command = [sys.executable, "-m", "bench.duckdb_pipeline", str(source), str(warehouse)]
    command += ["--run-id", run_id(run), "--run-time", iso(run)]
    load1 = os.getloadavg()[0]
    result, out, err = measure(command, clean_env(), logs, f"duckdb-{run}")
    if result["exit"] != 0:
        raise RuntimeError(f"DuckDB pipeline {run} failed:\n{err[-3000:]}")
    doc = json.loads(out.strip().splitlines()[-1])
    changed = any(doc["counts"].get(k) for k in ("INSERT", "UPDATE", "DELETE"))
    done = _run("duckdb", run, result, load1, doc["seconds"], doc["counts"], "succeeded")
    done.detail["partitions"] = doc["partitions"] if changed else []
    return done


def _run(
    tool: str,
    run: str,
    result: dict[str, Any],
    load1: float,
    phases: dict[str, float],
    counts: dict[str, int],
    status: str,
    tty: bool = False,
) -> Run:
    return Run(
        tool=tool,
        run=run,
        seconds=float(result["seconds"]),
        peak_rss_bytes=int(result["peak_rss_bytes"]),
        write_bytes=result.get("write_bytes"),
        load1=load1,
        exit=int(result["exit"]),
        user_seconds=float(result.get("user_seconds", 0.0)),
        system_seconds=float(result.get("system_seconds", 0.0)),
        phases=phases,
        counts=counts,
        status=status,
        tty=tty,
    )


def deploy_local(state: Path, logs: Path) -> float:
    """`ppdw bootstrap-core` and `ppdw deploy nsde` on a fresh local target (untimed by the
    comparison: a warehouse is deployed once, then runs every day). Returns the seconds."""
    total = 0.0
    for args in (["bootstrap-core"], ["deploy", "nsde"]):
        command = [*ppdw_command(), "--project", str(REPO), *args]
        result, _, err = measure(command, local_env(state), logs, f"deploy-{args[0]}")
        if result["exit"] != 0:
            raise RuntimeError(f"ppdw {args[0]} failed:\n{err[-3000:]}")
        total += float(result["seconds"])
    return total


def export(state: Path, destination: Path, logs: Path, name: str) -> Path:
    """`ppdw local export` of a state folder (untimed), as a user reads the warehouse."""
    if destination.exists():
        shutil.rmtree(destination)
    command = [*ppdw_command(), "--project", str(REPO), "local", "export", str(destination)]
    result, _, err = measure(command, clean_env(PPDW_STATE_DIR=str(state)), logs, name)
    if result["exit"] != 0:
        raise RuntimeError(f"ppdw local export failed:\n{err[-3000:]}")
    return destination


def link_copy(source: Path, target: Path) -> None:
    """A copy of a local state folder made of hard links: its files are never changed in
    place (new bodies get new names, the state file is replaced by a rename)."""
    if target.exists():
        shutil.rmtree(target)
    ignore = shutil.ignore_patterns("state.lock*", "server.json")
    shutil.copytree(source, target, copy_function=os.link, ignore=ignore)


def median(values: list[float]) -> float:
    return statistics.median(values) if values else float("nan")
