"""Run records summarized for people and CI: status and reason, source, durations, counts.

Pure: takes the records `ppdw.runtime.manifest.list_runs` returns (one JSON object per
run) and never reads anything itself.
"""

from __future__ import annotations

from collections.abc import Sequence
from datetime import datetime
from typing import Any

from ppdw.contracts.run_record import CHANGE_KEYS, CHANGE_TYPES, RunRecord
from ppdw.runtime import manifest

STEPS = manifest.STEPS


def _time(text: Any) -> datetime | None:
    if not text:
        return None
    try:
        return manifest.parse_time(str(text))
    except ValueError:
        return None


def run_times(records: Sequence[RunRecord]) -> dict[str, datetime]:
    """run id -> run time `T`, for every record that has one."""
    out = {}
    for record in records:
        moment = _time(record.get("run_time"))
        if moment is not None and record.get("run_id"):
            out[str(record["run_id"])] = moment
    return out


def applied(records: Sequence[RunRecord]) -> list[RunRecord]:
    """Runs whose silver step succeeded (the ones silver holds), oldest first."""
    return sorted(
        (r for r in records if r.get("status") == "succeeded"),
        key=lambda r: (str(r.get("run_time") or ""), str(r.get("run_id") or "")),
    )


def silver_stats(record: RunRecord) -> dict[str, Any]:
    return dict((((record.get("steps") or {}).get("silver") or {}).get("stats")) or {})


def changes(record: RunRecord) -> dict[str, int] | None:
    """The run's INSERT/UPDATE/DELETE/unchanged counts; None when silver never merged it."""
    counts = silver_stats(record).get("changes")
    if not isinstance(counts, dict):
        return None
    return {kind: int(counts.get(kind, 0)) for kind in CHANGE_KEYS}


def changed_silver(record: RunRecord) -> bool:
    counts = changes(record)
    return (
        record.get("status") == "succeeded"
        and counts is not None
        and any(counts[k] for k in CHANGE_TYPES)
    )


def last_change(records: Sequence[RunRecord]) -> RunRecord | None:
    """The applied run with the latest run time that inserted, updated or deleted a key."""
    found = [r for r in applied(records) if changed_silver(r)]
    return found[-1] if found else None


def durations(record: RunRecord) -> dict[str, int | None]:
    """Seconds each step took (whole seconds, as recorded); None for a step not finished."""
    steps = record.get("steps") or {}
    out: dict[str, int | None] = {}
    for step in STEPS:
        part = steps.get(step) or {}
        start, end = _time(part.get("started_at")), _time(part.get("finished_at"))
        out[step] = int((end - start).total_seconds()) if start and end else None
    return out


def source(record: RunRecord) -> dict[str, Any]:
    fetch = (record.get("steps") or {}).get("fetch") or {}
    return {
        "location": record.get("source") or fetch.get("source"),
        "file": fetch.get("file"),
        "sha256": fetch.get("sha256"),
        "bytes": fetch.get("bytes"),
    }


def summary(record: RunRecord) -> dict[str, Any]:
    """One run as `ppdw runs` shows it."""
    steps = record.get("steps") or {}
    fetch = steps.get("fetch") or {}
    bronze = (steps.get("bronze") or {}).get("stats") or {}
    silver = silver_stats(record)
    failures = {str(k): int(v) for k, v in (bronze.get("parse_failures") or {}).items()}
    return {
        "run_id": record.get("run_id"),
        "run_time": record.get("run_time"),
        "status": record.get("status"),
        "error": record.get("error"),
        "started_at": record.get("started_at"),
        "finished_at": record.get("finished_at"),
        "source": source(record),
        # an unchanged run: the applied run it is unchanged since, and by what (download:
        # the same bytes; files: the same files in another archive)
        "unchanged_since": fetch.get("unchanged_since"),
        "unchanged_by": fetch.get("unchanged_by"),
        "durations": durations(record),
        "bronze_rows": bronze.get("rows"),
        "changes": changes(record),
        "rejected": silver.get("rejected"),
        "duplicates": silver.get("duplicates"),
        "parse_failures": sum(failures.values()),
        "parse_failures_by_column": failures,
        "engine": silver.get("engine") or bronze.get("engine"),
    }


def newest_first(records: Sequence[RunRecord]) -> list[RunRecord]:
    return sorted(
        records,
        key=lambda r: (str(r.get("run_time") or ""), str(r.get("started_at") or "")),
        reverse=True,
    )
