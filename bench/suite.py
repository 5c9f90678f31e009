"""The benchmark suite: which step is timed against which baseline, and the goals of issue 5.

Rule: every ratio compares two steps timed in the same run on the same input files; every
ppdw output that a peer also produces is compared with it row for row (a ppdw step that is
fast but wrong fails the suite). Data is generated once per (rows, seed) and cached.
"""

from __future__ import annotations

import os
from collections.abc import Callable
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import Any

from bench import gen
from bench.baselines import parquet_tables_equal
from bench.measure import REPO, Timing, run_child, time_it
from bench.steps import STEPS, data_files, reset_dir

T1 = "2026-11-01T06:00:00+00:00"
T2 = "2026-11-02T06:00:00+00:00"
T3 = "2026-11-03T06:00:00+00:00"
SEED = 20261101
DATE_COLUMNS = (
    "marketing_start_date",
    "marketing_end_date",
    "inactivation_date",
    "reactivation_date",
)
SECTIONS = ("bronze", "silver", "fetch", "control", "startup")


@dataclass
class Measured:
    """One step: median seconds of the timed runs, and peak RSS of a fresh run (if taken)."""

    name: str
    runs: list[float]
    median: float
    peak_rss_bytes: int | None = None
    detail: dict[str, Any] = field(default_factory=dict)


@dataclass
class Goal:
    """A goal of the issue: what was measured, against what, and whether it is met."""

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
    measured: dict[str, Measured] = field(default_factory=dict)
    goals: list[Goal] = field(default_factory=list)
    checks: dict[str, str | None] = field(default_factory=dict)
    info: dict[str, Any] = field(default_factory=dict)

    def add(self, measured: Measured) -> Measured:
        self.measured[measured.name] = measured
        return measured

    def goal(
        self,
        name: str,
        value: float,
        limit: float,
        unit: str,
        *,
        rows: int | None = None,
        note: str = "",
        at_least: bool = False,
    ) -> None:
        ok = value >= limit if at_least else value <= limit
        self.goals.append(Goal(name, value, limit, unit, ok, rows, note))

    def as_dict(self) -> dict[str, Any]:
        return {
            "rows": self.rows,
            "repeat": self.repeat,
            "info": self.info,
            "measured": {k: asdict(v) for k, v in self.measured.items()},
            "goals": [asdict(g) for g in self.goals],
            "checks": self.checks,
        }


@dataclass(frozen=True)
class Options:
    rows: list[int]
    repeat: int
    workdir: Path
    only: frozenset[str]
    fetch_mb: int
    memory: bool = True

    def wants(self, section: str) -> bool:
        return not self.only or section in self.only


def _timed(
    report: Report,
    name: str,
    step: Callable[[], object],
    repeat: int,
    before_each: Callable[[], object] | None = None,
) -> Measured:
    last: dict[str, object] = {}

    def once() -> None:
        last["output"] = step()

    timing: Timing = time_it(once, repeat=repeat, before_each=before_each)
    output = last.get("output")
    detail = dict(output) if isinstance(output, dict) else {}
    return report.add(Measured(name, list(timing.runs), timing.median, detail=detail))


def _params(**values: Any) -> dict[str, Any]:
    return {k: str(v) if isinstance(v, Path) else v for k, v in values.items()}


def dataset_for(options: Options, rows: int) -> gen.Generated:
    folder = options.workdir / f"data-{rows}-{SEED}"
    marker = folder / "done"
    if not marker.exists():
        generated = gen.generate(folder, rows, seed=SEED)
        marker.write_text(repr(generated))
    return gen.Generated(
        day1=folder / "day1.csv",
        day2=folder / "day2.csv",
        rows=rows,
        day1_rows=0,
        day2_rows=0,
        updated=0,
        deleted=0,
        inserted=0,
    )


# -------------------------------------------------------------------------------- bronze


def bronze_section(report: Report, options: Options, rows: int, data: gen.Generated) -> None:
    work = options.workdir / f"run-{rows}"
    work.mkdir(parents=True, exist_ok=True)
    common = _params(
        project=REPO, run_id="nsde-20261101-060000", run_time=T1, source_file=data.day1.name
    )
    floor = _params(csv=data.day1, out=work / "floor.parquet")
    duck = {
        **common,
        **_params(
            csv=data.day1,
            out=work / "duck_bronze.parquet",
            date_columns=list(DATE_COLUMNS),
            date_format="%Y%m%d",
        ),
    }
    ppdw = {**common, **_params(csv=data.day1, out=work / "bronze1.parquet")}
    names = {
        "floor": f"{rows}.bronze.floor",
        "duck": f"{rows}.bronze.duckdb",
        "ppdw": f"{rows}.bronze.ppdw",
    }
    m_floor = _timed(report, names["floor"], lambda: STEPS["bronze.floor"](floor), options.repeat)
    m_duck = _timed(report, names["duck"], lambda: STEPS["bronze.duckdb"](duck), options.repeat)
    m_ppdw = _timed(report, names["ppdw"], lambda: STEPS["bronze.ppdw"](ppdw), options.repeat)
    columns = [*_bronze_columns(work / "bronze1.parquet")]
    report.checks[f"{rows}.bronze ppdw == duckdb"] = parquet_tables_equal(
        [work / "bronze1.parquet"], [work / "duck_bronze.parquet"], columns
    )
    if options.memory:
        for key, step, params in (
            ("ppdw", "bronze.ppdw", ppdw),
            ("floor", "bronze.floor", floor),
            ("duck", "bronze.duckdb", duck),
        ):
            child = run_child(step, params)
            report.measured[names[key]].peak_rss_bytes = child.peak_rss_bytes
            report.measured[names[key]].detail.update(child.output)
    report.goal("bronze / floor", m_ppdw.median / m_floor.median, 1.3, "x", rows=rows)
    report.goal("bronze / DuckDB", m_ppdw.median / m_duck.median, 1.0, "x", rows=rows)
    # Day 2's bronze is the silver benchmark's snapshot (not timed).
    day2 = {
        **ppdw,
        **_params(
            csv=data.day2,
            out=work / "bronze2.parquet",
            run_id="nsde-20261102-060000",
            run_time=T2,
            source_file=data.day2.name,
        ),
    }
    STEPS["bronze.ppdw"](day2)


def _bronze_columns(path: Path) -> list[str]:
    import pyarrow.parquet as pq

    return list(pq.read_schema(path).names)


# -------------------------------------------------------------------------------- silver


def silver_section(report: Report, options: Options, rows: int) -> None:
    work = options.workdir / f"run-{rows}"
    if not (work / "bronze2.parquet").exists():
        raise RuntimeError("the silver section needs the bronze section's output (run both)")

    def params(bronze: str, folder: str, run_id: str, run_time: str) -> dict[str, Any]:
        return _params(
            project=REPO,
            bronze=work / bronze,
            silver_dir=work / folder,
            run_id=run_id,
            run_time=run_time,
            keys=["ndc11"],
        )

    first = params("bronze1.parquet", "s1", "r1", T1)
    first_duck = params("bronze1.parquet", "d1", "r1", T1)
    apply = params("bronze2.parquet", "s2", "r2", T2)
    apply_duck = params("bronze2.parquet", "d2", "r2", T2)
    same = params("bronze2.parquet", "s3", "r3", T3)
    name = f"{rows}.silver"
    m_first = _timed(
        report,
        f"{name}.first_load.ppdw",
        lambda: STEPS["silver.ppdw"](first),
        options.repeat,
        lambda: reset_dir(None, work / "s1"),
    )
    _timed(
        report,
        f"{name}.first_load.duckdb",
        lambda: STEPS["silver.duckdb"](first_duck),
        options.repeat,
        lambda: reset_dir(None, work / "d1"),
    )
    columns = _silver_columns(work / "s1")
    report.checks[f"{name} first load ppdw == duckdb"] = parquet_tables_equal(
        data_files(work / "s1"), data_files(work / "d1"), columns
    )
    m_apply = _timed(
        report,
        f"{name}.apply.ppdw",
        lambda: STEPS["silver.ppdw"](apply),
        options.repeat,
        lambda: reset_dir(work / "s1", work / "s2"),
    )
    m_duck = _timed(
        report,
        f"{name}.apply.duckdb",
        lambda: STEPS["silver.duckdb"](apply_duck),
        options.repeat,
        lambda: reset_dir(work / "s1", work / "d2"),
    )
    report.checks[f"{name} apply ppdw == duckdb"] = parquet_tables_equal(
        data_files(work / "s2"), data_files(work / "d2"), columns
    )
    before: dict[str, Any] = {}

    def snapshot_files() -> None:
        reset_dir(work / "s2", work / "s3")
        before["files"] = _file_state(work / "s3")

    m_same = _timed(
        report,
        f"{name}.no_change.ppdw",
        lambda: STEPS["silver.ppdw"](same),
        options.repeat,
        snapshot_files,
    )
    written = _changed_files(before["files"], _file_state(work / "s3"))
    m_same.detail["data_files_written"] = written
    report.checks[f"{name} no change leaves silver identical"] = parquet_tables_equal(
        data_files(work / "s2"), data_files(work / "s3"), columns
    )
    if options.memory:
        reset_dir(work / "s1", work / "s2")
        child = run_child("silver.ppdw", apply)
        m_apply.peak_rss_bytes = child.peak_rss_bytes
        m_apply.detail.update(child.output)
        reset_dir(work / "s1", work / "d2")
        m_duck.peak_rss_bytes = run_child("silver.duckdb", apply_duck).peak_rss_bytes
        reset_dir(work / "s1", work / "s2")
        STEPS["silver.ppdw"](apply)  # leave s2 as the applied state
    report.goal("silver apply / DuckDB", m_apply.median / m_duck.median, 1.0, "x", rows=rows)
    report.goal(
        "silver no-change / first load", m_same.median / m_first.median, 0.25, "x", rows=rows
    )
    report.goal("silver no-change data files written", float(written), 0.0, "files", rows=rows)


def _silver_columns(folder: Path) -> list[str]:
    import pyarrow.parquet as pq

    return [*pq.read_schema(data_files(folder)[0]).names, "effective_year_month"]


def _file_state(folder: Path) -> dict[str, tuple[int, int]]:
    return {
        str(p.relative_to(folder)): (p.stat().st_ino, p.stat().st_mtime_ns)
        for p in data_files(folder)
    }


def _changed_files(before: dict[str, tuple[int, int]], after: dict[str, tuple[int, int]]) -> int:
    return sum(1 for path, state in after.items() if before.get(path) != state)


def memory_goals(report: Report, rows: int) -> None:
    """Peak RSS of the steps against the Arrow size of the data they hold.

    The goal uses the peak as measured; the note also gives the peak above the fixed cost
    of the interpreter and the imports (step `imports`), which dominates at small sizes.
    """
    base = report.measured.get("imports")
    fixed = base.peak_rss_bytes if base and base.peak_rss_bytes else 0
    bronze = report.measured.get(f"{rows}.bronze.ppdw")
    silver = report.measured.get(f"{rows}.silver.apply.ppdw")
    if bronze and bronze.peak_rss_bytes and bronze.detail.get("arrow_bytes"):
        arrow = bronze.detail["arrow_bytes"]
        report.goal(
            "bronze peak RSS / Arrow size of bronze",
            bronze.peak_rss_bytes / arrow,
            float("inf"),
            "x",
            rows=rows,
            note=_memory_note(bronze.peak_rss_bytes, fixed, arrow),
        )
    if silver and silver.peak_rss_bytes and silver.detail.get("snapshot_arrow_bytes"):
        arrow = silver.detail["current_arrow_bytes"] + silver.detail["snapshot_arrow_bytes"]
        report.goal(
            "silver peak RSS / Arrow size (current + snapshot)",
            silver.peak_rss_bytes / arrow,
            4.0,
            "x",
            rows=rows,
            note=_memory_note(silver.peak_rss_bytes, fixed, arrow),
        )


def _memory_note(peak: int, fixed: int, arrow: int) -> str:
    return (
        f"peak {peak / 1e6:,.0f} MB, Arrow {arrow / 1e6:,.0f} MB, imports {fixed / 1e6:,.0f} MB; "
        f"(peak - imports) / Arrow = {(peak - fixed) / arrow:.2f}x"
    )


# ---------------------------------------------------------------------- fetch, control


def fetch_section(report: Report, options: Options) -> None:
    import boto3

    from bench.control import moto_server
    from bench.fetch_local import BUCKET

    big = options.workdir / f"big-{options.fetch_mb}mb.csv"
    if not big.exists() or big.stat().st_size < options.fetch_mb * 1024 * 1024:
        gen.write_big_file(big, options.fetch_mb * 1024 * 1024)
    with moto_server(options.workdir) as server:
        s3 = boto3.client(
            "s3",
            endpoint_url=server.url,
            region_name="us-east-1",
            aws_access_key_id="testing",
            aws_secret_access_key="testing",
        )
        s3.create_bucket(Bucket=BUCKET)
        env = {
            "AWS_ACCESS_KEY_ID": "testing",
            "AWS_SECRET_ACCESS_KEY": "testing",
            "AWS_REGION": "us-east-1",
        }
        child = run_child(
            "fetch.ppdw",
            _params(endpoint=server.url, source=big, run_id="nsde-fetch", run_time=T1),
            env=env,
        )
    seconds = float(child.output["seconds"])
    size = int(child.output["bytes"])
    cpu = float(child.output["cpu_seconds"])
    report.add(
        Measured(
            "fetch.ppdw",
            [seconds],
            seconds,
            child.peak_rss_bytes,
            {**child.output, "mb_per_s": size / seconds / 1e6},
        )
    )
    report.goal(
        "fetch peak RSS",
        child.peak_rss_bytes / 1e6,
        150.0,
        "MB",
        note=f"{size / 1e6:.0f} MB at {size / seconds / 1e6:.0f} MB/s into a moto server; "
        f"fetch's own CPU {cpu:.1f} s ({size / max(cpu, 1e-9) / 1e6:.0f} MB per CPU second)",
    )


def control_section(report: Report, options: Options) -> None:
    from bench.control import control_plane

    result = control_plane(options.workdir)
    report.info["control_plane"] = asdict(result)
    report.goal(
        "2nd bootstrap-core + deploy --all: mutating calls",
        float(len(result.second_pass_mutating)),
        0.0,
        "calls",
        note=f"{result.second_pass_calls} calls in all; first pass "
        f"{result.first_pass_mutating} mutating of {result.first_pass_calls}",
    )


def startup_section(report: Report, options: Options) -> None:
    from bench.control import startup

    result = startup(options.repeat)
    report.add(Measured("startup.ppdw_help", list(result.ppdw_help.runs), result.ppdw_help.median))
    report.add(
        Measured("startup.python_pass", list(result.python_pass.runs), result.python_pass.median)
    )
    report.goal("ppdw --help minus python -c pass", result.extra_seconds, 0.3, "s")


# ---------------------------------------------------------------------------------- run


def run(options: Options) -> Report:
    options.workdir.mkdir(parents=True, exist_ok=True)
    report = Report(rows=options.rows, repeat=options.repeat, info=machine_info())
    if options.memory and (options.wants("bronze") or options.wants("silver")):
        report.add(Measured("imports", [0.0], 0.0, run_child("imports", {}).peak_rss_bytes))
    for rows in options.rows:
        if options.wants("bronze") or options.wants("silver"):
            data = dataset_for(options, rows)
            bronze_section(report, options, rows, data)
        if options.wants("silver"):
            silver_section(report, options, rows)
        memory_goals(report, rows)
    if options.wants("fetch"):
        fetch_section(report, options)
    if options.wants("control"):
        control_section(report, options)
    if options.wants("startup"):
        startup_section(report, options)
    report.info["load_average_end"] = list(os.getloadavg())
    return report


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
