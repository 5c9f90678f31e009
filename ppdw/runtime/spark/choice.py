"""Which engine a run's layer uses: arrow, spark, or `auto` by the raw snapshot's size.

Rule: no pyspark here (the Arrow engine's jobs import this module). `auto` picks Spark when
the raw members of the run (uncompressed, as recorded in raw's `_manifest.json`) exceed
the threshold and pyspark can be imported; both layers of a run decide from the same
manifest, so they agree.
"""

from __future__ import annotations

import logging
from collections.abc import Mapping
from typing import Any, Literal

from ppdw.runtime.spark.session import pyspark_available, require_pyspark

Chosen = Literal["arrow", "spark"]
ENGINES: tuple[str, ...] = ("arrow", "spark", "auto")
MIB = 1024 * 1024

log = logging.getLogger(__name__)


def raw_bytes(raw_manifest: Mapping[str, Any] | None) -> int:
    """Uncompressed size of the run's raw members (what bronze reads)."""
    members = (raw_manifest or {}).get("members") or []
    return sum(int(m.get("bytes") or 0) for m in members if isinstance(m, Mapping))


def choose(requested: str, size: int, spark_above_mb: int) -> Chosen:
    if requested == "arrow":
        return "arrow"
    if requested == "spark":
        require_pyspark()
        return "spark"
    if size <= spark_above_mb * MIB:
        return "arrow"
    if not pyspark_available():
        log.warning(
            "raw snapshot of %d MiB is above %d MiB but pyspark is not installed: arrow engine",
            size // MIB,
            spark_above_mb,
        )
        return "arrow"
    return "spark"
