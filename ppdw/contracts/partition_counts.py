"""Row counts the jobs record on the Glue partitions they register, for `ppdw status`.

Rule: standard library only. A count describes the folder it was taken from, so it is
stored with that folder's location (`COUNTED_LOCATION`) in the same PartitionInput that
points the partition there, and read only while the partition still points there. A
partition without counts (registered by an earlier ppdw, a crawler, a revert or the
Spark engine) or repointed since is counted from its parquet files instead.

Why: `ppdw status` otherwise reads every silver file's `is_current` column (all of
silver, over S3 on AWS) and loads Arrow to do it; with the counts it needs the partition
listing it reads anyway.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any

ROWS = "ppdw.rows"
CURRENT_ROWS = "ppdw.current_rows"
COUNTED_LOCATION = "ppdw.counted_location"


@dataclass(frozen=True)
class Counts:
    """Rows of a partition's folder; `current_rows` (silver only): rows with `is_current`."""

    rows: int
    current_rows: int | None = None


def parameters(location: str, counts: Counts | None) -> dict[str, str]:
    """The partition parameters that record `counts` of the folder at `location`."""
    if counts is None:
        return {}
    found = {ROWS: str(counts.rows), COUNTED_LOCATION: location}
    if counts.current_rows is not None:
        found[CURRENT_ROWS] = str(counts.current_rows)
    return found


def read(partition: Mapping[str, Any]) -> Counts | None:
    """The counts a Glue partition (as GetPartitions returns it) holds for the folder it
    points at; None when it holds none, or holds them for another folder."""
    params = partition.get("Parameters") or {}
    location = (partition.get("StorageDescriptor") or {}).get("Location")
    if not location or params.get(COUNTED_LOCATION) != location:
        return None
    try:
        rows = int(params[ROWS])
        current = int(params[CURRENT_ROWS]) if CURRENT_ROWS in params else None
    except (KeyError, ValueError):
        return None
    if rows < 0 or (current is not None and not 0 <= current <= rows):
        return None
    return Counts(rows, current)
