"""What the bench checks and sizes after a run: equal outputs, Arrow sizes, kept bytes.

Rule: ppdw's warehouse is read as a user reads it (`ppdw local export`, then plain
parquet files), the DuckDB pipeline's from its folder; rows are compared as multisets
with DuckDB (`EXCEPT ALL` both ways), so a check fails on any differing row or count.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

SILVER_COLUMNS = (
    "record_hash",
    "record_effective_date",
    "record_end_date",
    "is_current",
    "change_type",
    "meta_run_id",
    "effective_year_month",
)


def _sql_str(value: str) -> str:
    return "'" + value.replace("'", "''") + "'"


def _ident(name: str) -> str:
    return '"' + name.replace('"', '""') + '"'


def _connect() -> Any:
    import duckdb

    con = duckdb.connect()
    con.execute("SET TimeZone = 'UTC'")
    con.execute("SET enable_progress_bar = false")
    return con


def _source(files: list[Path], columns: list[str]) -> str:
    paths = "[" + ", ".join(_sql_str(str(p)) for p in files) + "]"
    cols = ", ".join(_ident(c) for c in columns)
    return f"(SELECT {cols} FROM read_parquet({paths}, union_by_name=true, hive_partitioning=true))"


def rows_equal(left: list[Path], right: list[Path], columns: list[str]) -> str | None:
    """None when both sets of files hold the same multiset of rows over `columns`, else
    the counts of rows only on each side and one example of each."""
    if not left or not right:
        return f"no files to compare ({len(left)} vs {len(right)})"
    con = _connect()
    try:
        lhs, rhs = _source(left, columns), _source(right, columns)
        only_left = con.execute(f"SELECT count(*) FROM ({lhs} EXCEPT ALL {rhs})").fetchone()[0]
        only_right = con.execute(f"SELECT count(*) FROM ({rhs} EXCEPT ALL {lhs})").fetchone()[0]
        if only_left == 0 and only_right == 0:
            return None
        one_left = con.execute(f"{lhs} EXCEPT ALL {rhs} LIMIT 1").fetchall()
        one_right = con.execute(f"{rhs} EXCEPT ALL {lhs} LIMIT 1").fetchall()
        return (
            f"{only_left} rows only in ppdw, {only_right} only in the DuckDB pipeline; "
            f"e.g. {one_left} vs {one_right}"
        )
    finally:
        con.close()


def parquet_files(folder: Path) -> list[Path]:
    return sorted(folder.rglob("*.parquet")) if folder.exists() else []


def silver_columns(files: list[Path]) -> list[str]:
    import pyarrow.parquet as pq

    names = [n for n in pq.read_schema(files[0]).names if n != "effective_year_month"]
    return [*names, "effective_year_month"]


def bronze_columns(files: list[Path]) -> list[str]:
    import pyarrow.parquet as pq

    return [n for n in pq.read_schema(files[0]).names if n != "partition_datetime"]


def arrow_bytes(files: list[Path]) -> int:
    """Size in memory (Arrow buffers) of the rows of `files`, read as plain columns."""
    import pyarrow.parquet as pq

    return sum(int(pq.read_table(path, partitioning=None).nbytes) for path in files)


def folder_bytes(files: list[Path]) -> int:
    return sum(path.stat().st_size for path in files)


def kept_by_ppdw(export: Path, run_id: str, partition: str) -> dict[str, int]:
    """Bytes a ppdw run had to write and keep: its raw folder (download and members), its
    bronze partition and the silver version folders named after it."""
    raw = [p for p in (export / "raw" / "nsde" / f"run_id={run_id}").glob("*") if p.is_file()]
    bronze = parquet_files(export / "bronze" / "bronze_nsde" / f"partition_datetime={partition}")
    silver = [
        p for p in parquet_files(export / "silver" / "silver_nsde") if p.parent.name == run_id
    ]
    return {
        "raw": folder_bytes(raw),
        "bronze": folder_bytes(bronze),
        "silver": folder_bytes(silver),
    }


def kept_by_duckdb(
    warehouse: Path, run_id: str, partition: str, silver: list[str]
) -> dict[str, int]:
    raw = [p for p in (warehouse / "raw" / f"run_id={run_id}").glob("*") if p.is_file()]
    bronze = parquet_files(warehouse / "bronze" / f"partition_datetime={partition}")
    months = [warehouse / "silver" / f"effective_year_month={m}" for m in silver]
    return {
        "raw": folder_bytes(raw),
        "bronze": folder_bytes(bronze),
        "silver": sum(folder_bytes(parquet_files(m)) for m in months),
    }
