"""Render a `Report` as the Markdown tables printed by the bench and written to RESULTS.md.

Rule: numbers only from the report (what was measured in this run); the prose around them
is fixed, except the scaling verdict, which is computed from the measured per-row cost.
"""

from __future__ import annotations

import math

from bench.suite import Goal, Measured, Report

MB = 1e6
GB = 1e9
#: Memory of the smallest Glue worker the design uses (G.1X: 4 vCPU, 16 GB).
GLUE_G1X_BYTES = 16 * GB


def _mb(value: int | None) -> str:
    return "-" if value is None else f"{value / MB:,.0f}"


def _goal_value(goal: Goal) -> str:
    if goal.unit in ("x",):
        return f"{goal.value:.2f}x"
    if goal.unit == "s":
        return f"{goal.value:+.3f} s"
    return f"{goal.value:,.0f} {goal.unit}"


def _goal_limit(goal: Goal) -> str:
    if math.isinf(goal.limit):
        return "(reported)"
    if goal.unit == "x":
        return f"<= {goal.limit:g}x"
    if goal.unit == "s":
        return f"<= +{goal.limit:g} s"
    return f"<= {goal.limit:g} {goal.unit}"


def goals_table(report: Report) -> list[str]:
    lines = ["| goal | rows | measured | goal | met | note |", "|---|---:|---:|---|---|---|"]
    for goal in report.goals:
        met = "-" if math.isinf(goal.limit) else ("yes" if goal.ok else "**NO**")
        rows = f"{goal.rows:,}" if goal.rows else "-"
        lines.append(
            f"| {goal.name} | {rows} | {_goal_value(goal)} | {_goal_limit(goal)} | {met} "
            f"| {goal.note} |"
        )
    return lines


def timings_table(report: Report) -> list[str]:
    lines = [
        "| step | median s | runs (s) | peak RSS MB | detail |",
        "|---|---:|---|---:|---|",
    ]
    for m in report.measured.values():
        runs = ", ".join(f"{r:.3f}" for r in m.runs)
        lines.append(
            f"| {m.name} | {m.median:.3f} | {runs} | {_mb(m.peak_rss_bytes)} | {_detail(m)} |"
        )
    return lines


def _detail(m: Measured) -> str:
    keep = (
        "rows",
        "INSERT",
        "UPDATE",
        "DELETE",
        "rejected",
        "files_written",
        "data_files_written",
        "arrow_bytes",
        "current_arrow_bytes",
        "snapshot_arrow_bytes",
        "bytes",
        "mb_per_s",
    )
    parts = []
    for key in keep:
        if key in m.detail:
            value = m.detail[key]
            if key.endswith("bytes"):
                value = f"{value / MB:,.0f} MB"
            elif isinstance(value, float):
                value = f"{value:,.1f}"
            parts.append(f"{key}={value}")
    return ", ".join(parts)


def checks_table(report: Report) -> list[str]:
    lines = ["| check | result |", "|---|---|"]
    for name, problem in report.checks.items():
        lines.append(f"| {name} | {'equal' if problem is None else 'DIFFERENT: ' + problem} |")
    return lines


def scaling_table(report: Report) -> list[str]:
    lines = [
        "| rows | bronze s | bronze peak RSS MB | silver apply s | silver peak RSS MB "
        "| silver RSS bytes/row | first load s | no-change s |",
        "|---:|---:|---:|---:|---:|---:|---:|---:|",
    ]
    for rows in report.rows:
        b = report.measured.get(f"{rows}.bronze.ppdw")
        s = report.measured.get(f"{rows}.silver.apply.ppdw")
        f = report.measured.get(f"{rows}.silver.first_load.ppdw")
        n = report.measured.get(f"{rows}.silver.no_change.ppdw")
        per_row = f"{s.peak_rss_bytes / rows:,.0f}" if s and s.peak_rss_bytes else "-"
        lines.append(
            f"| {rows:,} | {_sec(b)} | {_mb(b.peak_rss_bytes if b else None)} | {_sec(s)} "
            f"| {_mb(s.peak_rss_bytes if s else None)} | {per_row} | {_sec(f)} | {_sec(n)} |"
        )
    return lines


def _sec(m: Measured | None) -> str:
    return "-" if m is None else f"{m.median:.2f}"


def scaling_verdict(report: Report) -> str | None:
    """Where one process stops being right, from the measured marginal memory per row."""
    points = [
        (rows, report.measured[f"{rows}.silver.apply.ppdw"].peak_rss_bytes)
        for rows in report.rows
        if f"{rows}.silver.apply.ppdw" in report.measured
        and report.measured[f"{rows}.silver.apply.ppdw"].peak_rss_bytes
    ]
    if len(points) < 2:
        return None
    (r0, m0), (r1, m1) = points[0], points[-1]
    assert m0 is not None
    assert m1 is not None
    per_row = max((m1 - m0) / (r1 - r0), 1.0)
    limit_rows = (GLUE_G1X_BYTES / 2 - m0) / per_row + r0
    return (
        f"Silver's peak memory grows by about {per_row:,.0f} bytes per row "
        f"({r0:,} -> {r1:,} rows). Keeping the peak under half of a G.1X worker's 16 GB, "
        f"the single-process path holds up to roughly {limit_rows / 1e6:,.0f} million rows "
        "of current silver plus snapshot; beyond that (or when the whole history no longer "
        "fits one partition rewrite) the merge has to be split by key range or run on "
        "Spark/DuckDB out-of-core."
    )


def markdown(report: Report) -> str:
    info = report.info
    versions = ", ".join(f"{k} {v}" for k, v in info.get("versions", {}).items())
    load = ", ".join(f"{x:.2f}" for x in info.get("load_average", []))
    load_end = ", ".join(f"{x:.2f}" for x in info.get("load_average_end", []))
    out = [
        "# ppdw benchmark results",
        "",
        "Written by `python -m bench` (see [README](README.md)); every number below was "
        "measured in that one run. Times are medians of "
        f"{report.repeat} runs after one warm-up; peak RSS is the kernel's high-water mark "
        "(VmHWM) of a fresh process running the step once.",
        "",
        f"- date: {info.get('date')}",
        f"- machine: {info.get('cpus')} CPUs, {info.get('memory_bytes', 0) / GB:.1f} GB RAM, "
        f"{info.get('platform')}, Python {info.get('python')}",
        f"- load average (1, 5, 15 min) at start: {load}; at the end: {load_end} "
        "(the machine is shared: a load above the CPU count inflates every time, and the "
        "ratios less so)",
        f"- libraries: {versions}",
        f"- rows: {', '.join(f'{r:,}' for r in report.rows)}",
        "",
        "## Goals (issue 5)",
        "",
        *goals_table(report),
        "",
        "## Correctness checks (ppdw output vs the DuckDB peer)",
        "",
        *checks_table(report),
        "",
        "## Every measurement",
        "",
        *timings_table(report),
        "",
    ]
    if any(f"{r}.bronze.ppdw" in report.measured for r in report.rows):
        out += ["## Scaling", "", *scaling_table(report), ""]
        verdict = scaling_verdict(report)
        if verdict:
            out += [verdict, ""]
    control = info.get("control_plane")
    if control:
        mutating = ", ".join(control["second_pass_mutating"]) or "none"
        out += [
            "## Control plane",
            "",
            f"Commands: {', '.join(control['commands'])}, run twice against a fresh moto "
            f"server; calls counted by the server's request recorder. First pass: "
            f"{control['first_pass_calls']} calls, {control['first_pass_mutating']} mutating. "
            f"Second pass: {control['second_pass_calls']} calls, mutating: {mutating}.",
            "",
        ]
    return "\n".join(out)
