"""The steps the bench times: ppdw's bronze and silver on local files, its fetch, and the
baselines, each callable in this process or in a fresh child (for peak RSS).

Rule: a ppdw step calls ppdw's own code exactly as its job does (reader -> transform ->
`storage.to_parquet_bytes`), with S3 replaced by local files only where S3 is not what is
measured, so the numbers are the transforms' and the parquet I/O's. Every step takes one
JSON-able dict of parameters (paths as strings) and returns a JSON-able dict.
"""

from __future__ import annotations

import os
import shutil
from collections.abc import Callable
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

Params = dict[str, Any]
Output = dict[str, Any]

SILVER_PART = "effective_year_month="


def _when(text: str) -> datetime:
    return datetime.fromisoformat(text).astimezone(UTC)


def load_nsde(project_root: Path) -> Any:
    from ppdw.config.loader import load_dataset

    return load_dataset(project_root, "nsde")


# ---------------------------------------------------------------------------- baselines


def step_imports(params: Params) -> Output:
    """Only the imports the ppdw data steps make: the fixed cost under their peak RSS."""
    import pyarrow.parquet  # noqa: F401

    import ppdw.config.loader
    import ppdw.runtime.bronze
    import ppdw.runtime.readers
    import ppdw.runtime.silver
    import ppdw.runtime.storage  # noqa: F401

    return {}


def step_bronze_floor(params: Params) -> Output:
    from bench.baselines import floor_bronze

    return {"rows": floor_bronze(Path(params["csv"]), Path(params["out"]))}


def step_bronze_duckdb(params: Params) -> Output:
    from bench.baselines import BronzeSpec, duckdb_bronze

    spec = BronzeSpec(
        date_columns=tuple(params["date_columns"]),
        date_format=params["date_format"],
        run_id=params["run_id"],
        run_time=_when(params["run_time"]),
        source_file=params["source_file"],
    )
    return {"rows": duckdb_bronze(Path(params["csv"]), Path(params["out"]), spec)}


def step_silver_duckdb(params: Params) -> Output:
    from bench.baselines import SilverRun, duckdb_silver

    return duckdb_silver(SilverRun.from_params(params))


# --------------------------------------------------------------------------------- ppdw


def step_bronze_ppdw(params: Params) -> Output:
    """ppdw's bronze job minus S3: read the raw CSV as text, apply the bronze rules, write
    the typed table the way the job writes it."""
    from ppdw.runtime import bronze, readers, storage

    dataset = load_nsde(Path(params["project"]))
    csv_path = Path(params["csv"])
    raw = readers.read_text_table(
        csv_path, readers.SourceFormat.from_source(dataset.source), source_name=csv_path.name
    )
    result = bronze.to_bronze(
        raw.table,
        dataset,
        run_id=params["run_id"],
        run_time=_when(params["run_time"]),
        source_file=params["source_file"],
    )
    Path(params["out"]).write_bytes(storage.to_parquet_bytes(result.table))
    return {"rows": result.table.num_rows, "arrow_bytes": result.table.nbytes}


def step_silver_ppdw(params: Params) -> Output:
    from bench.silver_local import apply_local

    return apply_local(params)


def step_fetch_ppdw(params: Params) -> Output:
    from bench.fetch_local import fetch_file

    return fetch_file(params)


STEPS: dict[str, Callable[[Params], Output]] = {
    "imports": step_imports,
    "bronze.floor": step_bronze_floor,
    "bronze.duckdb": step_bronze_duckdb,
    "bronze.ppdw": step_bronze_ppdw,
    "silver.ppdw": step_silver_ppdw,
    "silver.duckdb": step_silver_duckdb,
    "fetch.ppdw": step_fetch_ppdw,
}


# ------------------------------------------------------------------------------ helpers


def reset_dir(source: Path | None, target: Path) -> None:
    """Make `target` a fresh copy of `source` (hard links: instant, and no step ever
    modifies a file in place, it writes new ones), or empty when `source` is None."""
    if target.exists():
        shutil.rmtree(target)
    if source is None:
        target.mkdir(parents=True)
        return
    shutil.copytree(source, target, copy_function=os.link)


def data_files(root: Path) -> list[Path]:
    return sorted(root.rglob("*.parquet")) if root.exists() else []
