"""What the reading commands ask of one opened target: tables, run records, as-of states.

Rule: read-only (S3 gets and lists, Glue gets). The CLI calls `Reader`; `Reader` calls the
pure modules (`asof`, `history`, `diff`, `runs`) with what it read.
"""

from __future__ import annotations

import time
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from datetime import UTC, datetime
from typing import Any

import pyarrow as pa

from ppdw.config.loader import Project
from ppdw.contracts.run_record import RunRecord
from ppdw.errors import UsageError
from ppdw.naming import DatasetNames
from ppdw.read import asof, runs
from ppdw.read.asof import AsOf
from ppdw.read.diff import Diff, state_diff
from ppdw.read.history import KeyHistory, key_histories
from ppdw.read.keys import Key, key_filter, key_strings, key_text, parse_key
from ppdw.read.tables import Layer, RegisteredTable, RowFilter, read_table, registered_table
from ppdw.runtime import manifest
from ppdw.targets import TargetContext

LAYERS: tuple[Layer, ...] = ("bronze", "silver")
EXAMPLES = 5


def _listing(items: Sequence[str], limit: int = 10) -> str:
    shown = ", ".join(items[:limit]) or "none"
    return shown + (f", ... ({len(items):,} in all)" if len(items) > limit else "")


@dataclass
class Reader:
    target: TargetContext
    project: Project
    sleep: Callable[[float], None] = time.sleep
    _records: dict[str, list[RunRecord]] = field(default_factory=dict)
    _tables: dict[tuple[str, Layer], RegisteredTable | None] = field(default_factory=dict)

    @property
    def bucket(self) -> str:
        return self.project.warehouse.names.bucket(self.target.account_id)

    @property
    def s3(self) -> Any:
        return self.target.aws.client("s3")

    @property
    def glue(self) -> Any:
        return self.target.aws.client("glue")

    def names(self, dataset: str) -> DatasetNames:
        self.project.dataset(dataset)  # exit 2 with the known datasets
        return self.project.warehouse.names.dataset(dataset)

    def database(self, layer: Layer) -> str:
        return self.project.warehouse.database(layer)

    # ---------------------------------------------------------------------- tables

    def table(self, dataset: str, layer: Layer) -> RegisteredTable | None:
        """The catalog's table, read once per command (the catalog is the reader's truth)."""
        if (dataset, layer) not in self._tables:
            name = self.names(dataset).table
            found = registered_table(self.glue, self.database(layer), name, layer)
            self._tables[(dataset, layer)] = found
        return self._tables[(dataset, layer)]

    def registered_names(self) -> list[str]:
        """Every catalog table of the project's datasets, `database.table`."""
        return [
            f"{self.database(layer)}.{name}"
            for layer in LAYERS
            for name in sorted(self.project.datasets)
            if self.table(name, layer) is not None
        ]

    def require_silver(self, dataset: str) -> RegisteredTable:
        table = self.table(dataset, "silver")
        if table is None:
            raise UsageError(
                f"{dataset} has no silver table yet ({self.database('silver')}.{dataset})",
                f"run the pipeline first: ppdw run {dataset}",
            )
        return table

    def read(
        self,
        table: RegisteredTable,
        *,
        columns: Sequence[str] | None = None,
        rows: RowFilter | None = None,
    ) -> pa.Table:
        return read_table(self.s3, self.bucket, table, columns=columns, rows=rows)

    # -------------------------------------------------------------------------- runs

    def records(self, dataset: str) -> list[RunRecord]:
        if dataset not in self._records:
            self._records[dataset] = manifest.list_runs(self.s3, self.bucket, self.names(dataset))
        return self._records[dataset]

    def run_times(self, dataset: str) -> dict[str, datetime]:
        return runs.run_times(self.records(dataset))

    def require_run(self, dataset: str, run_id: str, option: str) -> datetime:
        times = self.run_times(dataset)
        if run_id not in times:
            newest = sorted(times, key=lambda rid: times[rid], reverse=True)
            raise UsageError(
                f"{option} {run_id!r}: no run of {dataset} has that id",
                f"runs of {dataset}: {_listing(newest)}",
            )
        return times[run_id]

    def as_of(self, dataset: str, text: str | None) -> AsOf:
        """`--as-of` resolved against the dataset's runs; default: the last applied run."""
        if text is not None:
            return asof.resolve(text, self.run_times(dataset), dataset)
        applied = runs.applied(self.records(dataset))
        if applied:
            last = applied[-1]
            return AsOf(manifest.parse_time(str(last["run_time"])), str(last["run_id"]))
        return AsOf(datetime.now(UTC).replace(microsecond=0))

    def runs(self, dataset: str, limit: int | None = None) -> list[dict[str, Any]]:
        ordered = runs.newest_first(self.records(dataset))
        return [runs.summary(r) for r in ordered[:limit]]

    # ----------------------------------------------------------------------- history

    def history(self, dataset: str, key_texts: Sequence[str]) -> list[KeyHistory]:
        keys = list(self.project.dataset(dataset).business_key)
        wanted = [parse_key(text, keys, dataset) for text in key_texts]
        table = self.require_silver(dataset)
        silver = self.read(table, rows=key_filter(keys, wanted))
        found = key_histories(silver, keys, wanted)
        missing = [h.text for h in found if not h.versions]
        if missing:
            raise UsageError(
                f"key(s) {', '.join(missing)} not in silver of {dataset}",
                f"keys look like: {_listing(self._example_keys(table, keys), EXAMPLES)}",
            )
        return found

    def _example_keys(self, table: RegisteredTable, keys: list[str]) -> list[str]:
        found: list[Key] = sorted(set(key_strings(self.read(table, columns=keys), keys)))
        return [key_text(k, keys) for k in found[:EXAMPLES]]

    # -------------------------------------------------------------------------- diff

    def diff(self, dataset: str, run_id: str | None, from_id: str | None) -> dict[str, Any]:
        """What run `run_id` changed (default: the last applied), or `from_id` -> it."""
        records = self.records(dataset)
        applied = {
            str(r["run_id"]): manifest.parse_time(str(r["run_time"])) for r in runs.applied(records)
        }
        if run_id is None:
            if not applied:
                raise UsageError(
                    f"{dataset} has no applied run yet", f"run it first: ppdw run {dataset}"
                )
            run_id = max(applied, key=lambda rid: applied[rid])
        moment = self.require_run(dataset, run_id, "--run")
        if from_id is None:
            from_id = asof.previous_run(applied, moment)
            start = None if from_id is None else applied[from_id]
        else:
            start = self.require_run(dataset, from_id, "--from")
        keys = list(self.project.dataset(dataset).business_key)
        silver = self.read(self.require_silver(dataset))
        before = asof.silver_as_of(silver, start) if start else silver.slice(0, 0)
        result: Diff = state_diff(before, asof.silver_as_of(silver, moment), keys)
        return {
            "dataset": dataset,
            "run": {"run_id": run_id, "run_time": manifest.format_time(moment)},
            "from": None
            if from_id is None or start is None
            else {"run_id": from_id, "run_time": manifest.format_time(start)},
            "diff": result,
        }
