"""The Spark driver's judgement of silver's pass 1: the rules over the whole run.

Rule: what a task cannot judge alone (it holds only some keys) is judged here, from the
reports of all tasks, in the Arrow engine's order and with its functions: the reject
threshold and duplicate-key conflicts (rules 1-2), run order and schema changes, the
delete guard (rule 5), and the partitions to rewrite (rule 4).
"""

from __future__ import annotations

import json
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

import pyarrow as pa

from ppdw.errors import DataQualityError
from ppdw.runtime.hash_upgrade import FORM_KEY as _FORM
from ppdw.runtime.schema import EFFECTIVE_YEAR_MONTH
from ppdw.runtime.silver.changes import guard_deletes
from ppdw.runtime.silver.result import MergeResult, MergeStats
from ppdw.runtime.silver.snapshot import check_reject_ratio, duplicate_key_error
from ppdw.runtime.silver.versions import partitions_to_rewrite
from ppdw.runtime.spark.silver_tasks import REPORT, REPORT_JSON, ROLE, Inputs, Request

if TYPE_CHECKING:
    from pyspark.sql import DataFrame


@dataclass
class Report:
    stats: dict[str, int]
    live: int
    conflicts: list[dict[str, Any]]
    errors: list[dict[str, Any]]
    months: list[str]  # partitions holding a version closed by this run
    changed: bool


def gather(first: DataFrame) -> Report:
    from pyspark.sql import functions as F

    reports = [
        json.loads(row[REPORT_JSON])
        for row in first.filter(F.col(ROLE) == REPORT).select(REPORT_JSON).collect()
    ]
    totals: dict[str, int] = {}
    for report in reports:
        for name, value in (report.get("stats") or {}).items():
            if name != _FORM:  # a property of the run, not a count: set on the driver
                totals[name] = totals.get(name, 0) + int(value)
    return Report(
        stats=totals,
        live=sum(int(r.get("live", 0)) for r in reports),
        conflicts=[c for r in reports for c in r.get("conflicts") or []],
        errors=[r["error"] for r in reports if r.get("error")],
        months=sorted({m for r in reports for m in r.get("months") or []}),
        changed=any(r.get("changed") for r in reports),
    )


def check_snapshot(report: Report, inputs: Inputs, request: Request) -> dict[str, Any]:
    """Rules 1-2 over the whole snapshot (reject threshold, duplicate-key conflicts), then
    the run's statistics."""
    dataset = request.dataset
    base = report.stats
    check_reject_ratio(base.get("rejected", 0), base.get("rows_read", 0), dataset)
    if report.conflicts:
        keys = list(dataset.business_key)
        table = (
            pa.Table.from_pylist(report.conflicts)
            .select(keys)
            .sort_by([(k, "ascending") for k in keys])
        )
        raise duplicate_key_error(table)
    stats: dict[str, Any] = {"bronze_rows": inputs.bronze_rows}
    for name in ("rows_read", "rejected", "duplicates", "inserts", "updates", "deletes"):
        stats[name] = base.get(name, 0)
    stats["unchanged"] = base.get("unchanged", 0)
    stats["rehashed"] = base.get("rehashed", 0)
    stats[_FORM] = MergeStats().record_hash_form
    stats["changes"] = {
        "INSERT": stats["inserts"],
        "UPDATE": stats["updates"],
        "DELETE": stats["deletes"],
        "unchanged": stats["unchanged"],
    }
    return stats


def check_merge(report: Report, request: Request, align_error: DataQualityError | None) -> None:
    """The merge's whole-run rules, in the Arrow engine's order: run order and schema
    changes (the same in every task), then the delete guard over all current keys."""
    if report.errors:
        # Every task judges the same schemas, so a schema error is the same everywhere;
        # of the run-order errors, the one naming the latest applied run is the truth.
        worst = max(report.errors, key=lambda e: str(e["message"]))
        message = str(worst["message"]).removeprefix(f"{worst['rule']}: ")
        raise DataQualityError(str(worst["rule"]), message, worst.get("hint"))
    if align_error is not None:
        raise align_error
    deletes = report.stats.get("deletes", 0)
    guard_deletes(deletes, report.live, request.dataset, request.force)


def targets_of(report: Report, request: Request) -> list[str]:
    """Rule 4, by `partitions_to_rewrite` itself: closed months plus T's when anything new."""
    if not report.changed:
        return []  # a no-change run writes no data file at all
    closed = pa.table({EFFECTIVE_YEAR_MONTH: pa.array(report.months, pa.string())})
    created = sum(report.stats.get(name, 0) for name in ("inserts", "updates", "deletes"))
    new = pa.table({"rows": pa.array([1] if created else [], pa.int8())})
    summary = MergeResult(new_versions=new, closed=closed, stats=MergeStats())
    return sorted(partitions_to_rewrite(summary, request.run_time))
