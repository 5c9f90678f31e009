"""One silver run, start to end: bronze snapshot + current silver -> new partition contents.

Rule: the one place the rule groups are chained (prepare -> merge -> partitions -> apply);
the silver job, the test simulator and the benchmark all call `apply_run`. It does no I/O
of its own: the current silver and the previous content of a partition are read through
the callers' functions, when needed, so that the caller holds only what the step needs
(bronze is released once the snapshot is prepared; one partition is built at a time).
"""

from __future__ import annotations

import dataclasses
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from datetime import datetime
from typing import TYPE_CHECKING, Any, TypeAlias

import pyarrow as pa

from ppdw.runtime.silver.changes import merge
from ppdw.runtime.silver.result import MergeResult
from ppdw.runtime.silver.snapshot import select_snapshot
from ppdw.runtime.silver.versions import apply_to_partition, partitions_to_rewrite

if TYPE_CHECKING:
    from ppdw.config.models import Dataset

#: The current versions of silver, or a function reading them (None: no silver yet).
Current: TypeAlias = "pa.Table | Callable[[], pa.Table | None] | None"


@dataclass
class AppliedRun:
    """What one run does to silver, before anything is written."""

    result: MergeResult
    #: The run's statistics as the job records them: `bronze_rows`, then rules 1-3's
    #: counts (`MergeStats`).
    stats: dict[str, Any]
    #: The partitions the run rewrites (rule 4), sorted; empty when it changes nothing.
    targets: list[str]

    def partitions(
        self, previous: Callable[[str], pa.Table | None]
    ) -> Iterator[tuple[str, pa.Table]]:
        """(ym, new full content) of each target, in order; `previous(ym)` is the content
        the partition holds now (None: none). One partition is built at a time."""
        for ym in self.targets:
            existing = previous(ym)
            content = apply_to_partition(
                existing if existing is not None else pa.table({}), self.result, ym
            )
            del existing
            yield ym, content
            del content  # before the next partition is read


def apply_run(
    current: Current,
    bronze: pa.Table,
    dataset: Dataset,
    run_time: datetime,
    *,
    run_id: str,
    force: bool = False,
    upgrade_hashes: bool = True,
    rejected: Callable[[pa.Table], None] | None = None,
) -> AppliedRun:
    """Rules 1-5 for one run. `rejected` is given the rows rule 1 rejects (when any) once
    rules 1-2 pass, before the merge's own checks; `current` is read after that."""
    snapshot, rows, rejects, prep_stats = select_snapshot(bronze, dataset)
    stats: dict[str, Any] = {"bronze_rows": bronze.num_rows, **dataclasses.asdict(prep_stats)}
    del bronze  # peak memory: the snapshot is bronze itself, or its deduplicated copy
    if rejected is not None and rejects.num_rows:
        rejected(rejects)
    del rejects
    table = current() if callable(current) else current
    result = merge(
        table if table is not None else pa.table({}),
        snapshot,
        dataset,
        run_id=run_id,
        run_time=run_time,
        force=force,
        base_stats=prep_stats,  # keeps rows_read, rejected and duplicates of rules 1-2
        upgrade_hashes=upgrade_hashes,
        snapshot_rows=rows,  # the clean rows are read in place, not copied
    )
    del table, snapshot  # the result holds copies of the rows it writes
    stats.update(dataclasses.asdict(result.stats))
    targets = sorted(partitions_to_rewrite(result, run_time))
    if not result.writes_anything:
        targets = []  # a no-change run writes no data file at all
    return AppliedRun(result, stats, targets)
