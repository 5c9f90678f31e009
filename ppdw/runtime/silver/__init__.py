"""Silver: SCD Type 2 history of every business key (data.md "Silver", rules 1-6).

Rule: pure functions of Arrow tables, one module per rule group:

- `snapshot`: rules 1-2 (rejects, duplicates) on a bronze snapshot (`prepare_snapshot`);
- `changes`: rule 3, pairing the snapshot with the current versions and finding what
  changed (`merge`), after the delete guard (rule 5) and the run-order check (rule 6);
- `versions`: rule 4, stamping this run's versions and rewriting only the partitions they
  touch (`apply_to_partition`, `partitions_to_rewrite`), and reading the history (`as_of`);
- `result`: the statistics and versions one run adds and closes;
- `run`: the one chain of them all for a run (`apply_run`), which every caller uses.

Transforms work on any batch of rows that holds all rows of each key they touch (the Spark
engine calls them on such batches).
"""

from __future__ import annotations

from ppdw.runtime.silver.changes import merge
from ppdw.runtime.silver.result import MergeResult, MergeStats
from ppdw.runtime.silver.run import AppliedRun, apply_run
from ppdw.runtime.silver.snapshot import prepare_snapshot
from ppdw.runtime.silver.versions import apply_to_partition, as_of, partitions_to_rewrite

__all__ = [
    "AppliedRun",
    "MergeResult",
    "MergeStats",
    "apply_run",
    "apply_to_partition",
    "as_of",
    "merge",
    "partitions_to_rewrite",
    "prepare_snapshot",
]
