"""How a run is described to its user: the header's source, the closing summary, the
`run --json` document, and after Ctrl-C what was kept and the command that resumes.

Rule: everything here is computed from the run record (what the run wrote) and the live
view's step states; nothing is printed here.
"""

from __future__ import annotations

import shlex
from dataclasses import dataclass
from typing import Any

from ppdw.config.loader import Project
from ppdw.contracts.run_record import CHANGE_KEYS, RunRecord, StepRecord
from ppdw.runs.progress import RunProgress
from ppdw.runtime.download import describe

STEP_NAMES = ("fetch", "bronze", "silver")


def _count(count: int, noun: str, plural_form: str | None = None) -> str:
    word = noun if count == 1 else (plural_form or f"{noun}s")
    return f"{count:,} {word}"


def describe_source(project: Project, dataset: str, source: str | None, local: bool) -> str:
    """What a run fetches, as its header names it."""
    if source is not None:
        return describe(source)
    config = project.dataset(dataset).source
    if local and config.samples:
        path = project.dataset_dir(dataset) / config.samples[0]
        shown = path.relative_to(project.root) if path.is_relative_to(project.root) else path
        return f"bundled sample 1 of {len(config.samples)}: {shown}"
    return describe(config.url)


def summary_line(record: RunRecord) -> str:
    """`Run R succeeded: bronze 1,234 rows; silver INSERT 3, ...; 2 duplicate rows dropped`."""
    steps = record.get("steps") or {}
    bronze = (steps.get("bronze") or {}).get("stats") or {}
    silver = (steps.get("silver") or {}).get("stats") or {}
    changes = silver.get("changes") or {}
    parts = ", ".join(f"{k} {int(changes.get(k, 0)):,}" for k in CHANGE_KEYS)
    return (
        f"Run {record.get('run_id')} {record.get('status')}: "
        f"bronze {_count(int(bronze.get('rows', 0)), 'row')}; silver {parts}; "
        f"{_count(int(silver.get('rejected', 0)), 'row')} rejected, "
        f"{_count(int(silver.get('duplicates', 0)), 'duplicate row')} dropped"
    )


def step_counts(name: str, step: StepRecord) -> dict[str, Any]:
    """The counts a user checks per step (bytes fetched, rows, changes)."""
    stats = step.get("stats") or {}
    if name == "fetch":
        counts: dict[str, Any] = {
            "bytes": step.get("bytes"),
            "files": len(step.get("members") or []),
        }
        if step.get("status") == "unchanged":
            counts.update(
                unchanged_since=step.get("unchanged_since"), unchanged_by=step.get("unchanged_by")
            )
        return counts
    if name == "bronze":
        return {"rows": stats.get("rows"), "partition": stats.get("partition")}
    changes = stats.get("changes") or {}
    return {
        **{k: changes.get(k) for k in CHANGE_KEYS},
        "rejected": stats.get("rejected"),
        "duplicates_dropped": stats.get("duplicates"),
    }


def run_document(
    record: RunRecord, progress: RunProgress, exit_code: int, error: str | None = None
) -> dict[str, Any]:
    """`ppdw run --json`: one document, written once the run ended."""
    steps = record.get("steps") or {}
    now = progress.now()
    document_steps = []
    for name, view in progress.steps.items():
        duration = view.duration(now)
        document_steps.append(
            {
                "step": name,
                "status": view.state,
                "seconds": None if duration is None else round(duration, 3),
                **step_counts(name, steps.get(name) or {}),
            }
        )
    return {
        "run_id": record.get("run_id"),
        "dataset": record.get("dataset"),
        "run_time": record.get("run_time"),
        "status": _status(record.get("status"), exit_code),
        "source": record.get("source"),
        "error": error or record.get("error"),
        "exit_code": exit_code,
        "steps": document_steps,
    }


def _status(recorded: Any, exit_code: int) -> Any:
    """A run that ended with an error while its record still says running (a step killed
    before it could record its end) failed, or was interrupted (exit 130)."""
    if exit_code and recorded in (None, "running"):
        return "interrupted" if exit_code == 130 else "failed"
    return recorded


@dataclass(frozen=True)
class Interrupted:
    """What a Ctrl-C left: one line per layer, and the command that resumes."""

    kept: list[str]
    retry: str


def after_interrupt(
    progress: RunProgress,
    *,
    dataset: str,
    run_id: str,
    bucket: str,
    raw_prefix: str,
    saved: bool,
    first_command: list[str],
    ppdw: list[str],
    options: list[str],
) -> Interrupted:
    """`saved`: whether what the run wrote stays (False: the embedded local target keeps
    its state as it was before the command, see `targets.local.should_save`);
    `ppdw`: the program and its global options, as the retry command starts; `options`:
    the run options the retry needs too (`--runner local` on AWS targets)."""
    resume = shlex.join(first_command)
    if not saved:
        return Interrupted(
            ["nothing of this run was saved: the local warehouse is as it was before it"],
            resume,
        )
    state = {name: view.state for name, view in progress.steps.items()}
    raw_done = state.get("fetch") in ("succeeded", "skipped")
    bronze_done = state.get("bronze") == "succeeded"
    kept: list[str] = []
    if raw_done:
        kept.append(f"raw kept: s3://{bucket}/{raw_prefix}")
    else:
        kept.append("raw: incomplete, fetched again by the retry")
    if bronze_done:
        kept.append("bronze kept")
    silver = state.get("silver")
    if silver == "interrupted":
        kept.append(
            "silver: unchanged unless its commit had finished "
            f"(`ppdw status {dataset}` shows the last run)"
        )
    else:
        kept.append("silver unchanged")
    if not raw_done:
        return Interrupted(kept, resume)
    step = "silver" if bronze_done else "bronze"
    retry = shlex.join([*ppdw, "run", dataset, "--run-id", run_id, "--from", step, *options])
    return Interrupted(kept, retry)
