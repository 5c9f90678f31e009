"""ppdw's silver step on local folders, step for step as `ppdw.runtime.layers` runs it.

Rule: the same calls in the same order as the silver job (`prepare_snapshot`, the current
versions of every partition, `merge`, `partitions_to_rewrite`, `apply_to_partition`,
`storage.to_parquet_bytes`), with S3 prefixes replaced by folders
`silver_dir/effective_year_month=YM/` so the time measured is the transform and the
parquet I/O. A rewritten partition gets a new file and its old files are removed, as the
job's commit does; a run that changes nothing writes no data file.
"""

from __future__ import annotations

from datetime import datetime
from pathlib import Path
from typing import Any

import pyarrow as pa
import pyarrow.compute as pc
import pyarrow.parquet as pq

PARTITION = "effective_year_month"


def _partitions(silver_dir: Path) -> dict[str, Path]:
    if not silver_dir.exists():
        return {}
    prefix = f"{PARTITION}="
    return {
        folder.name[len(prefix) :]: folder
        for folder in sorted(silver_dir.iterdir())
        if folder.is_dir() and folder.name.startswith(prefix)
    }


def read_partition(folder: Path, ym: str) -> pa.Table | None:
    files = sorted(folder.glob("*.parquet"))
    if not files:
        return None
    tables = [pq.read_table(f) for f in files]
    table = tables[0] if len(tables) == 1 else pa.concat_tables(tables, promote_options="default")
    if PARTITION in table.schema.names:
        table = table.drop_columns([PARTITION])
    return table.append_column(PARTITION, pa.array([ym] * table.num_rows, pa.string()))


def read_current(partitions: dict[str, Path]) -> pa.Table | None:
    """As the job: each file's `is_current` column first; files without a live version are
    not read further, the others are returned whole (merge looks only at the live rows)."""
    from ppdw.runtime.schema import IS_CURRENT

    parts: list[pa.Table] = []
    for ym, folder in sorted(partitions.items()):
        for path in sorted(folder.glob("*.parquet")):
            parquet = pq.ParquetFile(path)
            if not pc.any(parquet.read(columns=[IS_CURRENT]).column(IS_CURRENT)).as_py():
                continue
            table = parquet.read()
            if PARTITION in table.schema.names:
                table = table.drop_columns([PARTITION])
            parts.append(table.append_column(PARTITION, pa.array([ym] * table.num_rows)))
    if not parts:
        return None
    return pa.concat_tables(parts, promote_options="default")


def apply_local(params: dict[str, Any]) -> dict[str, Any]:
    """Apply the bronze file `params['bronze']` to `params['silver_dir']` at `run_time`."""
    from ppdw.config.loader import load_dataset
    from ppdw.runtime import silver, storage

    dataset = load_dataset(Path(params["project"]), "nsde")
    silver_dir = Path(params["silver_dir"])
    run_id, run_time = params["run_id"], datetime.fromisoformat(params["run_time"])
    bronze = pq.read_table(params["bronze"])
    snapshot, rejected, _prep = silver.prepare_snapshot(bronze, dataset)
    del bronze  # as the job: each input is released once the next form of it exists
    rejects_written = 0
    if rejected is not None and rejected.num_rows:
        rejects = silver_dir.parent / f"{silver_dir.name}_rejects" / f"run_id={run_id}"
        rejects.mkdir(parents=True, exist_ok=True)
        (rejects / storage.PART_FILE).write_bytes(storage.to_parquet_bytes(rejected))
        rejects_written = 1
    partitions = _partitions(silver_dir)
    current = read_current(partitions)
    result = silver.merge(current, snapshot, dataset, run_id=run_id, run_time=run_time, force=False)
    sizes = {
        "current_arrow_bytes": 0 if current is None else int(current.nbytes),
        "snapshot_arrow_bytes": int(snapshot.nbytes),
    }
    del current, snapshot  # the merge's result holds copies of what it needs
    targets = sorted(silver.partitions_to_rewrite(result, run_time))
    if not (result.new_versions.num_rows or result.closed.num_rows):
        targets = []  # as the job: a no-change run writes no data file at all
    for ym in targets:
        folder = partitions.get(ym)
        existing = read_partition(folder, ym) if folder is not None else None
        table = silver.apply_to_partition(existing, result, ym)
        del existing
        if PARTITION in table.schema.names:
            table = table.drop_columns([PARTITION])
        target = silver_dir / f"{PARTITION}={ym}"
        target.mkdir(parents=True, exist_ok=True)
        fresh = target / f"part-{run_id}.parquet"
        fresh.write_bytes(storage.to_parquet_bytes(table))
        for old in target.glob("*.parquet"):
            if old != fresh:
                old.unlink()
    counts = _counts(result.new_versions)
    return {
        **counts,
        "rejected": 0 if rejected is None else int(rejected.num_rows),
        "rejects_files": rejects_written,
        "partitions": targets,
        "files_written": len(targets),
        **sizes,
    }


def _counts(new_versions: pa.Table) -> dict[str, int]:
    from ppdw.runtime.schema import CHANGE_TYPE

    counts = {"INSERT": 0, "UPDATE": 0, "DELETE": 0}
    if new_versions.num_rows:
        for row in pc.value_counts(new_versions[CHANGE_TYPE]).to_pylist():
            counts[str(row["values"])] = int(row["counts"])
    return counts
