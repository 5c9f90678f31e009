"""The benchmark suite (issue 14): ppdw end to end against the DuckDB pipeline.

Rule: every ratio compares runs of the same repeat, taken back to back in this one run of
the bench (the median over the repeats is reported); every ppdw result that the DuckDB
pipeline also produces is compared row for row, at every snapshot (a fast but wrong ppdw
fails the suite). Data is generated once per (rows, seed) and cached in the work folder.
"""

from __future__ import annotations

import os
import shutil
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import Any

from bench import checks
from bench.e2e import (
    RUN_TIMES,
    RUNS,
    Run,
    deploy_local,
    export,
    link_copy,
    local_env,
    median,
    run_duckdb,
    run_id,
    run_ppdw,
    sources,
)

SECTIONS = ("e2e", "aws", "live", "control", "startup", "fetch")
#: The snapshots both pipelines run (the same file again only concerns ppdw's fetch).
COMPARED = ("first_load", "churn", "no_change")
#: The snapshots ppdw stops after the fetch as unchanged: the same file again, and a new
#: archive of the same files (the DuckDB pipeline processes the latter in full).
UNCHANGED = ("no_change", "same_file")
#: The snapshots that keep new data (raw, bronze, silver): the bytes-written goal's runs.
KEEPING = ("first_load", "churn")
#: The tool name of the live-view runs (kept apart from the e2e runs they would skew).
LIVE = "ppdw-view"


@dataclass
class Goal:
    name: str
    value: float
    limit: float
    unit: str
    ok: bool
    rows: int | None = None
    note: str = ""


@dataclass
class Report:
    rows: list[int]
    repeat: int
    info: dict[str, Any] = field(default_factory=dict)
    runs: list[dict[str, Any]] = field(default_factory=list)
    goals: list[Goal] = field(default_factory=list)
    checks: dict[str, str | None] = field(default_factory=dict)
    sizes: dict[str, dict[str, Any]] = field(default_factory=dict)
    extra: dict[str, Any] = field(default_factory=dict)

    def add(self, rows: int, repeat: int, run: Run) -> Run:
        self.runs.append({"rows": rows, "repeat": repeat, **asdict(run)})
        return run

    def goal(self, name: str, value: float, limit: float, unit: str, **kw: Any) -> None:
        self.goals.append(Goal(name, value, limit, unit, value <= limit, **kw))

    def select(self, rows: int, tool: str, run: str, tty: bool = False) -> list[dict[str, Any]]:
        return [
            r
            for r in self.runs
            if r["rows"] == rows and r["tool"] == tool and r["run"] == run and r["tty"] == tty
        ]

    def as_dict(self) -> dict[str, Any]:
        return {
            "rows": self.rows,
            "repeat": self.repeat,
            "info": self.info,
            "runs": self.runs,
            "goals": [asdict(g) for g in self.goals],
            "checks": self.checks,
            "sizes": self.sizes,
            "extra": self.extra,
        }


@dataclass(frozen=True)
class Options:
    rows: list[int]
    repeat: int
    workdir: Path
    only: frozenset[str]
    fetch_mb: int = 1024

    def wants(self, section: str) -> bool:
        return not self.only or section in self.only


# ------------------------------------------------------------------------------ e2e


def _fresh(*folders: Path) -> None:
    for folder in folders:
        if folder.exists():
            shutil.rmtree(folder)


def e2e_section(report: Report, options: Options, rows: int) -> None:
    zips = sources(options.workdir, rows)
    work = options.workdir / f"e2e-{rows}"
    logs = work / "logs"
    for repeat in range(options.repeat):
        last = repeat == options.repeat - 1
        state, duck = work / f"ppdw-{repeat}", work / f"duckdb-{repeat}"
        _fresh(state, duck)
        report.extra.setdefault("deploy_seconds", []).append(deploy_local(state, logs))
        for index, run in enumerate(RUNS):
            first_ppdw = (repeat + index) % 2 == 0
            got: dict[str, Run] = {}
            for tool in ("ppdw", "duckdb") if first_ppdw else ("duckdb", "ppdw"):
                if tool == "ppdw":
                    got[tool] = report.add(
                        rows, repeat, run_ppdw(run, zips[run], local_env(state), logs)
                    )
                elif run in COMPARED:
                    got[tool] = report.add(rows, repeat, run_duckdb(run, zips[run], duck, logs))
            if last:
                _stage_checks(report, rows, run, got, state, duck, work)
                if run == "first_load":
                    link_copy(state, work / "after-first-load")
        if not last:
            _fresh(state, duck)


def _stage_checks(
    report: Report,
    rows: int,
    run: str,
    got: dict[str, Run],
    state: Path,
    duck: Path,
    work: Path,
) -> None:
    """After each snapshot of the last repeat: ppdw's warehouse (exported) against the
    DuckDB pipeline's, and the sizes the goals need."""
    exported = export(state, work / "export", work / "logs", f"export-{run}")
    partition = RUN_TIMES[run].strftime("%Y-%m-%d-%H%M%S")
    ppdw_silver = checks.parquet_files(exported / "silver" / "silver_nsde")
    ppdw_bronze = checks.parquet_files(
        exported / "bronze" / "bronze_nsde" / f"partition_datetime={partition}"
    )
    peer_silver = checks.parquet_files(duck / "silver")
    name = f"{rows:,} rows, {run.replace('_', ' ')}"
    peer = got.get("duckdb")  # None for the same file again, which DuckDB does not run
    if run in KEEPING:
        assert peer is not None, f"the DuckDB pipeline did not run {run}"
        counts = {k: got["ppdw"].counts.get(k) for k in ("INSERT", "UPDATE", "DELETE", "rejected")}
        wanted = {k: peer.counts.get(k) for k in counts}
        report.checks[f"{name}: INSERT/UPDATE/DELETE/rejected counts"] = (
            None if counts == wanted else f"ppdw {counts} vs DuckDB {wanted}"
        )
        peer_bronze = checks.parquet_files(duck / "bronze" / f"partition_datetime={partition}")
        report.checks[f"{name}: bronze rows"] = checks.rows_equal(
            ppdw_bronze, peer_bronze, checks.bronze_columns(peer_bronze)
        )
    if peer is not None:
        shutil.copytree(duck / "silver", work / f"duckdb-silver-{run}", dirs_exist_ok=True)
        kept_peer = checks.kept_by_duckdb(
            duck, run_id(run), partition, list(peer.detail.get("partitions", []))
        )
        report.sizes[f"{rows}.{run}.duckdb"] = {"kept": kept_peer}
    if run in UNCHANGED:
        status = got["ppdw"].status
        report.checks[f"{name}: stops after fetch as unchanged"] = (
            None if status == "unchanged" else f"status {status!r}"
        )
    report.checks[f"{name}: silver rows (every version)"] = checks.rows_equal(
        ppdw_silver, peer_silver, checks.silver_columns(peer_silver)
    )
    if run in KEEPING:
        sizes: dict[str, Any] = {"kept": checks.kept_by_ppdw(exported, run_id(run), partition)}
        sizes["snapshot_arrow_bytes"] = checks.arrow_bytes(ppdw_bronze)
        sizes["silver_arrow_bytes_after"] = checks.arrow_bytes(ppdw_silver)
        report.sizes[f"{rows}.{run}.ppdw"] = sizes
    shutil.rmtree(exported)


def live_section(report: Report, options: Options, rows: int) -> None:
    """The churn run with the live view on (a terminal) and off (plain lines)."""
    work = options.workdir / f"e2e-{rows}"
    base = work / "after-first-load"
    if not base.exists():
        raise RuntimeError("the live-view section needs the e2e section's state (run both)")
    zips = sources(options.workdir, rows)
    for repeat in range(options.repeat):
        for tty in (False, True) if repeat % 2 == 0 else (True, False):
            state = work / "live"
            link_copy(base, state)
            done = run_ppdw(
                "churn", zips["churn"], local_env(state), work / "logs", tool=LIVE, tty=tty
            )
            report.add(rows, repeat, done)
    _fresh(work / "live")


def aws_section(report: Report, options: Options, rows: int) -> None:
    from bench.aws_shaped import client_env, deploy, project_copy, served

    work = options.workdir / f"aws-{rows}"
    zips = sources(options.workdir, rows)
    project = project_copy(work)
    for repeat in range(options.repeat):
        state, scratch = work / f"serve-{repeat}", work / "scratch"
        _fresh(state)
        with served(state, work / "logs") as endpoint:
            deploy(endpoint, scratch, work / "logs", project)
            env = client_env(endpoint, scratch)
            for run in RUNS:
                done = run_ppdw(
                    run,
                    zips[run],
                    env,
                    work / "logs",
                    tool="ppdw-aws",
                    target=["--target", "aws"],
                    runner=["--runner", "local"],
                    project=project,
                )
                report.add(rows, repeat, done)
            if repeat == options.repeat - 1:
                exported = export(state, work / "export", work / "logs", "export-aws")
                peer_dir = options.workdir / f"e2e-{rows}" / "duckdb-silver-no_change"
                peer = checks.parquet_files(peer_dir)
                report.checks[f"{rows:,} rows, AWS-shaped run: silver rows (every version)"] = (
                    checks.rows_equal(
                        checks.parquet_files(exported / "silver" / "silver_nsde"),
                        peer,
                        checks.silver_columns(peer) if peer else [],
                    )
                )
                shutil.rmtree(exported)
        _fresh(state)


# ------------------------------------------------------------------------------- goals


def _ratios(
    report: Report, rows: int, top: tuple[str, str], bottom: tuple[str, str]
) -> list[float]:
    """Per-repeat ratios of two measured runs (same repeat, taken back to back)."""
    ups = {r["repeat"]: r["seconds"] for r in report.select(rows, *top)}
    downs = {r["repeat"]: r["seconds"] for r in report.select(rows, *bottom)}
    return [ups[k] / downs[k] for k in sorted(ups) if k in downs and downs[k] > 0]


def e2e_goals(report: Report, rows: int) -> None:
    for run in ("first_load", "churn"):
        ratios = _ratios(report, rows, ("ppdw", run), ("duckdb", run))
        ppdw_s = median([r["seconds"] for r in report.select(rows, "ppdw", run)])
        peer_s = median([r["seconds"] for r in report.select(rows, "duckdb", run)])
        report.goal(
            f"{run.replace('_', ' ')}: ppdw / DuckDB pipeline",
            median(ratios),
            1.5,
            "x",
            rows=rows,
            note=f"medians {ppdw_s:.2f} s vs {peer_s:.2f} s; per repeat "
            + ", ".join(f"{x:.2f}" for x in ratios),
        )
    ratios = _ratios(report, rows, ("ppdw", "no_change"), ("ppdw", "first_load"))
    written = [r["write_bytes"] for r in report.select(rows, "ppdw", "no_change")]
    report.goal(
        "no change (new file, same rows): ppdw / its first load",
        median(ratios),
        0.25,
        "x",
        rows=rows,
        note="per repeat "
        + ", ".join(f"{x:.2f}" for x in ratios)
        + (
            f"; wrote {median(written) / 1e6:,.0f} MB (the download, written to be hashed, "
            "removed again)"
            if written
            else ""
        ),
    )
    _memory_goal(report, rows)
    for run in KEEPING:
        _written_goal(report, rows, run)


def _memory_goal(report: Report, rows: int) -> None:
    before = report.sizes.get(f"{rows}.first_load.ppdw", {}).get("silver_arrow_bytes_after")
    snapshot = report.sizes.get(f"{rows}.churn.ppdw", {}).get("snapshot_arrow_bytes")
    peaks = [r["peak_rss_bytes"] for r in report.select(rows, "ppdw", "churn")]
    if before is None or snapshot is None or not peaks:
        return
    arrow = before + snapshot
    peak = median(peaks)
    report.goal(
        "churn peak RSS / Arrow size of current silver + snapshot",
        peak / arrow,
        2.0,
        "x",
        rows=rows,
        note=f"peak {peak / 1e6:,.0f} MB; silver {before / 1e6:,.0f} MB + snapshot "
        f"{snapshot / 1e6:,.0f} MB (Arrow)",
    )


def _written_goal(report: Report, rows: int, run: str) -> None:
    kept = report.sizes.get(f"{rows}.{run}.ppdw", {}).get("kept")
    written = [r["write_bytes"] for r in report.select(rows, "ppdw", run) if r["write_bytes"]]
    if not kept or not written:
        return
    must = sum(kept.values())
    value = median(written)
    report.goal(
        f"{run.replace('_', ' ')}: bytes written / bytes the run keeps",
        value / must if must else float("inf"),
        2.0,
        "x",
        rows=rows,
        note=f"wrote {value / 1e6:,.0f} MB; keeps raw {kept['raw'] / 1e6:,.0f} + bronze "
        f"{kept['bronze'] / 1e6:,.0f} + silver {kept['silver'] / 1e6:,.0f} MB",
    )


def live_goal(report: Report, rows: int) -> None:
    tty = {r["repeat"]: r["seconds"] for r in report.select(rows, LIVE, "churn", tty=True)}
    plain = {r["repeat"]: r["seconds"] for r in report.select(rows, LIVE, "churn")}
    ratios = [tty[k] / plain[k] for k in sorted(tty) if k in plain]
    if ratios:
        report.goal(
            "live view: churn run on a terminal / with plain output",
            median(ratios),
            1.05,
            "x",
            rows=rows,
            note="per repeat " + ", ".join(f"{x:.3f}" for x in ratios),
        )


# ---------------------------------------------------------------------------------- run


def run(options: Options) -> Report:
    options.workdir.mkdir(parents=True, exist_ok=True)
    report = Report(rows=options.rows, repeat=options.repeat, info=machine_info())
    largest = max(options.rows)
    for rows in options.rows:
        if options.wants("e2e") or options.wants("live"):
            e2e_section(report, options, rows)
            e2e_goals(report, rows)
        if options.wants("aws"):
            aws_section(report, options, rows)
    if options.wants("live"):
        live_section(report, options, largest)
        live_goal(report, largest)
    _other_sections(report, options)
    report.info["load_average_end"] = list(os.getloadavg())
    return report


def _other_sections(report: Report, options: Options) -> None:
    """Issue 5's control-plane, start-up and fetch-memory measurements, kept."""
    from bench.others import control_section, fetch_section, startup_section

    if options.wants("control"):
        control_section(report, options)
    if options.wants("startup"):
        startup_section(report, options)
    if options.wants("fetch"):
        fetch_section(report, options)


def machine_info() -> dict[str, Any]:
    import platform
    from datetime import UTC, datetime
    from importlib import metadata

    memory = 0
    try:
        for line in Path("/proc/meminfo").read_text().splitlines():
            if line.startswith("MemTotal:"):
                memory = int(line.split()[1]) * 1024
    except OSError:
        memory = 0
    versions = {}
    for package in ("ppdw", "pyarrow", "duckdb", "boto3", "moto", "pandas"):
        try:
            versions[package] = metadata.version(package)
        except metadata.PackageNotFoundError:
            versions[package] = "not installed"
    return {
        "date": datetime.now(UTC).strftime("%Y-%m-%d %H:%M UTC"),
        "cpus": os.cpu_count(),
        "memory_bytes": memory,
        "load_average": list(os.getloadavg()),
        "python": platform.python_version(),
        "platform": platform.platform(),
        "versions": versions,
    }
