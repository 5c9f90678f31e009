"""A silver table kept in memory, one Arrow table per partition, driven like the silver job.

Used by the SCD2 rule tests and the property tests: it applies runs exactly as the job
does (`apply_run`: prepare -> merge -> rewrite only the partitions the run names).
"""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import datetime
from typing import Any

import pyarrow as pa
import pyarrow.compute as pc

from ppdw.config.models import Dataset
from ppdw.runtime.schema import IS_CURRENT
from ppdw.runtime.silver import MergeResult, apply_run

BUSINESS = ["k", "name", "size"]


def make_dataset(**overrides: Any) -> Dataset:
    base: dict[str, Any] = {
        "name": "demo",
        "source": {"url": "https://example.org/x.csv", "format": "csv"},
        "business_key": ["k"],
        "quality": {"max_reject_ratio": 0.5, "max_delete_ratio": 1.0},
    }
    return Dataset.model_validate(base | overrides)


def bronze_table(rows: list[dict[str, Any]], *, run_id: str = "b") -> pa.Table:
    """A bronze snapshot: k, name (string), size (int64) plus bronze meta columns."""
    columns = list(rows[0]) if rows else BUSINESS
    types = {"size": pa.int64()}
    data = {c: pa.array([r.get(c) for r in rows], types.get(c, pa.string())) for c in columns}
    data["meta_ingest_timestamp"] = pa.array(
        [datetime(2000, 1, 1)] * len(rows), pa.timestamp("ms", tz="UTC")
    )
    data["meta_run_id"] = pa.array([run_id] * len(rows), pa.string())
    data["meta_source_file"] = pa.array(["f.csv"] * len(rows), pa.string())
    return pa.table(data)


@dataclass
class Silver:
    dataset: Dataset
    partitions: dict[str, pa.Table] = field(default_factory=dict)
    rewritten: list[list[str]] = field(default_factory=list)

    def history(self) -> pa.Table:
        if not self.partitions:
            return pa.table({})
        parts = [self.partitions[ym] for ym in sorted(self.partitions)]
        return pa.concat_tables(parts, promote_options="default")

    def current(self) -> pa.Table | None:
        if not self.partitions:
            return None
        history = self.history()
        return history.filter(pc.equal(history.column(IS_CURRENT), True))

    def run(
        self,
        bronze: pa.Table,
        run_time: datetime,
        *,
        run_id: str | None = None,
        force: bool = False,
    ) -> MergeResult:
        applied = apply_run(
            self.current(),
            bronze,
            self.dataset,
            run_time,
            run_id=run_id or f"run-{run_time:%Y%m%d%H%M%S}",
            force=force,
        )
        self.partitions.update(applied.partitions(self.partitions.get))
        self.rewritten.append(applied.targets)
        return applied.result

    def rows(self, *columns: str) -> list[dict[str, Any]]:
        history = self.history()
        if history.num_columns == 0:
            return []
        keep = list(columns) or history.column_names
        ordered = history.sort_by([("k", "ascending"), ("record_effective_date", "ascending")])
        return ordered.select(keep).to_pylist()
