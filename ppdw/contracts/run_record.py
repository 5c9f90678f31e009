"""The run record (`silver/_runs/{dataset}/{run_id}.json`) and the last-success pointer.

Rule: types only, standard library only. The fetch Lambda and the jobs write the record
through `ppdw.runtime.manifest`; the CLI, `status`, `read` and the runners read it. The
types describe the JSON as it is stored: every field may be missing from a record written
by an older ppdw, so all are optional (`total=False`), and readers use `.get`.
"""

from __future__ import annotations

from typing import Any, Literal, TypedDict

RunStatus = Literal["running", "succeeded", "failed", "unchanged", "reverted"]
RUN_STATUSES: tuple[RunStatus, ...] = ("running", "succeeded", "failed", "unchanged", "reverted")
STEPS: tuple[str, ...] = ("fetch", "bronze", "silver")
#: The change types of silver's versions (the `change_type` column) that a merge counts.
CHANGE_TYPES: tuple[str, ...] = ("INSERT", "UPDATE", "DELETE")
#: The keys of a silver step's `stats.changes`: the change types, then the keys it left.
CHANGE_KEYS: tuple[str, ...] = (*CHANGE_TYPES, "unchanged")


class ChangeCounts(TypedDict, total=False):
    """`steps.silver.stats.changes`: keys per `CHANGE_KEYS`."""

    INSERT: int
    UPDATE: int
    DELETE: int
    unchanged: int


class StepRecord(TypedDict, total=False):
    """One step's part (`steps.{fetch|bronze|silver}`).

    The fetch step adds what it downloaded (`source`, `file`, `bytes`, `sha256`, `etag`,
    `last_modified`, `members`, `unchanged_since`, `unchanged_by`); the layers put their
    counts in `stats` (silver's `stats.changes` is a `ChangeCounts`)."""

    status: str  # running | succeeded | failed | unchanged | committing (silver)
    started_at: str | None
    finished_at: str | None
    error: str | None
    stats: dict[str, Any]
    source: str | None
    file: str | None
    bytes: int | None
    sha256: str | None
    etag: str | None
    last_modified: str | None
    members: list[dict[str, Any]]
    unchanged_since: str | None
    #: "download": the same bytes as then; "files": the same files in another archive.
    unchanged_by: str | None


class RevertRecord(TypedDict, total=False):
    """`revert`: what `ppdw revert` of the run commits, then did."""

    revert_id: str
    previous_run_id: str | None
    partitions: list[dict[str, Any]]
    status: Literal["committing", "done"]
    finished_at: str


class RunRecord(TypedDict, total=False):
    """One run of a dataset. Times are `ppdw.contracts.times` text."""

    dataset: str
    run_id: str
    run_time: str
    status: RunStatus
    started_at: str
    finished_at: str | None
    source: str | None
    steps: dict[str, StepRecord]
    error: str | None
    reverted_at: str
    revert: RevertRecord
    #: Only in the record a local run returns for a run applied already; never stored.
    already_applied: bool


class LastSuccess(TypedDict):
    """`silver/_runs/{dataset}/_last_success.json`: the last fully applied run."""

    run_id: str
    run_time: str
    source_sha256: str | None
