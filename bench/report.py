"""Render a `Report` as the Markdown printed by the bench and written to RESULTS.md.

Rule: every number comes from the report (what this one run measured); the prose around
the tables is fixed. The one exception is marked as such: "Misses, explained" is
bench/MISSES.md, written by hand from profiles (dated there), when a goal is missed.
"""

from __future__ import annotations

import math
from pathlib import Path
from typing import Any

from bench.e2e import PHASES, RUNS, median
from bench.suite import COMPARED, LIVE, Goal, Report

MB = 1e6


def _mb(value: float | None) -> str:
    return "-" if value is None or math.isnan(value) else f"{value / MB:,.0f}"


def _s(value: float) -> str:
    return "-" if math.isnan(value) else f"{value:.2f}"


def _goal_value(goal: Goal) -> str:
    if goal.unit == "x":
        return f"{goal.value:.2f}x"
    if goal.unit == "s":
        return f"{goal.value:+.3f} s"
    return f"{goal.value:,.0f} {goal.unit}"


def _goal_limit(goal: Goal) -> str:
    if goal.unit == "x":
        return f"<= {goal.limit:g}x"
    if goal.unit == "s":
        return f"<= +{goal.limit:g} s"
    return f"<= {goal.limit:g} {goal.unit}"


def goals_table(report: Report) -> list[str]:
    lines = ["| goal | rows | measured | goal | met | note |", "|---|---:|---:|---|---|---|"]
    for goal in report.goals:
        rows = f"{goal.rows:,}" if goal.rows else "-"
        met = "yes" if goal.ok else "**NO**"
        lines.append(
            f"| {goal.name} | {rows} | {_goal_value(goal)} | {_goal_limit(goal)} | {met} "
            f"| {goal.note} |"
        )
    return lines


def _median_of(runs: list[dict[str, Any]], key: str) -> float:
    values = [r[key] for r in runs if r.get(key) is not None]
    return median([float(v) for v in values])


def e2e_table(report: Report) -> list[str]:
    lines = [
        "| rows | run | ppdw s | DuckDB s | ppdw / DuckDB | ppdw peak RSS MB | DuckDB peak RSS MB "
        "| ppdw written MB | ppdw keeps MB | DuckDB written MB |",
        "|---:|---|---:|---:|---:|---:|---:|---:|---:|---:|",
    ]
    for rows in report.rows:
        for run in RUNS:
            ppdw, peer = report.select(rows, "ppdw", run), report.select(rows, "duckdb", run)
            if not ppdw:
                continue
            mine, theirs = _median_of(ppdw, "seconds"), _median_of(peer, "seconds")
            kept = (report.sizes.get(f"{rows}.{run}.ppdw") or {}).get("kept")
            lines.append(
                f"| {rows:,} | {run.replace('_', ' ')} | {_s(mine)} | {_s(theirs)} | "
                f"{_s(mine / theirs) + 'x' if peer else '-'} | "
                f"{_mb(_median_of(ppdw, 'peak_rss_bytes'))} | "
                f"{_mb(_median_of(peer, 'peak_rss_bytes'))} | "
                f"{_mb(_median_of(ppdw, 'write_bytes'))} | "
                f"{_mb(sum(kept.values())) if kept else '-'} | "
                f"{_mb(_median_of(peer, 'write_bytes'))} |"
            )
    return lines


def phases_table(report: Report, rows: int) -> list[str]:
    """Median seconds of each phase, and its share of the whole run."""
    names = ("state load", "fetch", "bronze", "silver", "state save", "other")
    lines = [
        "| run | total s | " + " | ".join(names) + " |",
        "|---|---:|" + "---:|" * len(names),
    ]
    for tool in ("ppdw", "duckdb"):
        for run in COMPARED:
            runs = report.select(rows, tool, run)
            if not runs:
                continue
            total = _median_of(runs, "seconds")
            keys = PHASES if tool == "ppdw" else ("-", "extract", "bronze", "silver", "-")
            cells = []
            known = 0.0
            for key in keys:
                values = [r["phases"].get(key) for r in runs if key in r["phases"]]
                if not values:
                    cells.append("-")
                    continue
                value = median([float(v) for v in values])
                known += value
                cells.append(f"{value:.2f} ({value / total:.0%})")
            other = total - known
            cells.append(f"{other:.2f} ({other / total:.0%})")
            label = f"{'ppdw' if tool == 'ppdw' else 'DuckDB'} {run.replace('_', ' ')}"
            lines.append(f"| {label} | {total:.2f} | " + " | ".join(cells) + " |")
    return lines


def aws_table(report: Report) -> list[str]:
    lines = [
        "| rows | run | AWS-shaped s | embedded s | AWS-shaped / embedded | phases (AWS-shaped) |",
        "|---:|---|---:|---:|---:|---|",
    ]
    for rows in report.rows:
        for run in RUNS:
            shaped = report.select(rows, "ppdw-aws", run)
            if not shaped:
                continue
            mine = _median_of(shaped, "seconds")
            local = _median_of(report.select(rows, "ppdw", run), "seconds")
            phases = ", ".join(
                f"{k} {median([float(r['phases'][k]) for r in shaped if k in r['phases']]):.2f}"
                for k in ("fetch", "bronze", "silver")
                if any(k in r["phases"] for r in shaped)
            )
            lines.append(
                f"| {rows:,} | {run.replace('_', ' ')} | {_s(mine)} | {_s(local)} | "
                f"{_s(mine / local)}x | {phases} |"
            )
    return lines


def live_table(report: Report) -> list[str]:
    lines = ["| rows | output | median s | runs (s) |", "|---:|---|---:|---|"]
    for rows in report.rows:
        for tty, label in ((False, "plain lines (not a terminal)"), (True, "live view (terminal)")):
            runs = report.select(rows, LIVE, "churn", tty=tty)
            if not runs:
                continue
            shown = ", ".join(f"{r['seconds']:.2f}" for r in runs)
            lines.append(f"| {rows:,} | {label} | {_median_of(runs, 'seconds'):.2f} | {shown} |")
    return lines


def checks_table(report: Report) -> list[str]:
    lines = ["| check | result |", "|---|---|"]
    for name, problem in report.checks.items():
        lines.append(f"| {name} | {'equal' if problem is None else '**' + problem + '**'} |")
    return lines


def runs_table(report: Report) -> list[str]:
    lines = [
        "| rows | repeat | tool | run | s | load (1 min) | peak RSS MB | written MB | CPU s |",
        "|---:|---:|---|---|---:|---:|---:|---:|---:|",
    ]
    for r in report.runs:
        tool = r["tool"] + (" (terminal)" if r["tty"] else "")
        cpu = r["user_seconds"] + r["system_seconds"]
        lines.append(
            f"| {r['rows']:,} | {r['repeat']} | {tool} | {r['run'].replace('_', ' ')} | "
            f"{r['seconds']:.2f} | {r['load1']:.2f} | {_mb(r['peak_rss_bytes'])} | "
            f"{_mb(r['write_bytes'])} | {cpu:.2f} |"
        )
    return lines


def _loads(report: Report) -> str:
    loads = [r["load1"] for r in report.runs]
    if not loads:
        return "-"
    return f"{min(loads):.2f} / {median(loads):.2f} / {max(loads):.2f}"


#: The profile behind the goals a run misses: written by hand after profiling (a
#: benchmark run measures, it does not explain), included as it is.
MISSES = Path(__file__).with_name("MISSES.md")


def _misses() -> list[str]:
    if not MISSES.is_file():
        return []
    return ["## Misses, explained (profiles)", "", MISSES.read_text(encoding="utf-8").strip(), ""]


def markdown(report: Report) -> str:
    info = report.info
    start = ", ".join(f"{x:.2f}" for x in info.get("load_average", []))
    end = ", ".join(f"{x:.2f}" for x in info.get("load_average_end", []))
    versions = ", ".join(f"{k} {v}" for k, v in info.get("versions", {}).items())
    out = [
        "# ppdw benchmark results",
        "",
        "Written by `python -m bench` (see [README](README.md)); every number below was "
        "measured in that one run. ppdw runs through its console script on the embedded "
        "`local` target; the DuckDB pipeline (`bench/duckdb_pipeline.py`) runs in its own "
        "process on the same zips. Times are wall-clock medians over the repeats; each "
        "ratio is the median of the per-repeat ratios of runs taken back to back.",
        "",
        f"- date: {info.get('date')}",
        f"- machine: {info.get('cpus')} CPUs, {info.get('memory_bytes', 0) / 1e9:.1f} GB RAM, "
        f"{info.get('platform')}, Python {info.get('python')}",
        f"- load average (1, 5, 15 min) at start: {start}; at the end: {end}; "
        f"1-minute load at the runs (min / median / max): {_loads(report)} "
        "(the machine is shared: a load above the CPU count stretches every time)",
        f"- libraries: {versions}",
        f"- rows: {', '.join(f'{r:,}' for r in report.rows)}; repeats: {report.repeat}",
        "",
        "## Goals (issue 14)",
        "",
        *goals_table(report),
        "",
        "## End to end, medians",
        "",
        *e2e_table(report),
        "",
    ]
    for rows in report.rows:
        out += [f"## Where the time goes, {rows:,} rows (median s and share)", ""]
        out += [*phases_table(report, rows), ""]
    if any(r["tool"] == "ppdw-aws" for r in report.runs):
        out += ["## AWS-shaped run (`--target aws --runner local` on `ppdw local serve`)", ""]
        out += [*aws_table(report), ""]
    if any(r["tty"] for r in report.runs):
        out += ["## Live view", "", *live_table(report), ""]
    out += _misses()
    out += ["## Correctness checks (ppdw against the DuckDB pipeline)", ""]
    out += [*checks_table(report), ""]
    control = report.extra.get("control_plane")
    if control:
        out += [
            "## Control plane",
            "",
            f"`ppdw bootstrap-core` then `ppdw deploy --all`, twice, against a fresh moto "
            f"server: first pass {control['first_pass_calls']} calls, "
            f"{control['first_pass_mutating']} mutating; second pass "
            f"{control['second_pass_calls']} calls, mutating: "
            f"{', '.join(control['second_pass_mutating']) or 'none'}.",
            "",
        ]
    from bench.engines import section

    out += section()  # the engine runs recorded by `python -m bench.engines`, if any
    out += ["## Every run", "", *runs_table(report)]
    return "\n".join(out)
