"""The baselines ppdw is measured against, run in the same script on the same files.

Rule: each baseline does the same job as the ppdw step it is compared with, no less (same
input file, same output format: ZSTD parquet; the peers apply the same rules), and is
written the way a careful engineer would write it with that tool. The floor is the least
work any bronze can do: read every column as text and write it back.

- `floor_bronze`: bare pyarrow, CSV read all-as-text -> ZSTD parquet.
- `duckdb_bronze`: DuckDB doing the full bronze transform (trim, empty -> null, dates by
  strptime, metadata columns) and COPY to ZSTD parquet.
- `duckdb_silver`: one SQL implementation of the SCD2 rules of data.md and the canonical
  MD5 record hash, producing the rows ppdw must produce (the bench compares them).
"""

from __future__ import annotations

import os
from dataclasses import dataclass
from datetime import datetime
from pathlib import Path
from typing import Any

import pyarrow as pa
import pyarrow.csv as pacsv
import pyarrow.parquet as pq

from ppdw.naming import normalize_column_names

THREADS = os.cpu_count() or 1


def _sql_str(value: str) -> str:
    return "'" + value.replace("'", "''") + "'"


def _ident(name: str) -> str:
    return '"' + name.replace('"', '""') + '"'


def _csv_header(path: Path) -> list[str]:
    with path.open(encoding="utf-8-sig", newline="") as handle:
        first = handle.readline().rstrip("\r\n")
    import csv

    return next(csv.reader([first]))


# --------------------------------------------------------------------------------- floor


def floor_bronze(csv_path: Path, out_path: Path) -> int:
    """Bare pyarrow: every column as text (no conversion), written as ZSTD parquet."""
    names = _csv_header(csv_path)
    table = pacsv.read_csv(
        csv_path,
        read_options=pacsv.ReadOptions(use_threads=True),
        convert_options=pacsv.ConvertOptions(column_types={n: pa.string() for n in names}),
    )
    pq.write_table(table, out_path, compression="zstd")
    return int(table.num_rows)


# -------------------------------------------------------------------------------- duckdb


def connect() -> Any:
    import duckdb

    con = duckdb.connect()
    con.execute(f"SET threads = {THREADS}")
    con.execute("SET TimeZone = 'UTC'")
    return con


@dataclass(frozen=True)
class BronzeSpec:
    """What the bronze rules need to know about the file, independent of ppdw's code."""

    date_columns: tuple[str, ...]
    date_format: str
    run_id: str
    run_time: datetime
    source_file: str


def duckdb_bronze(csv_path: Path, out_path: Path, spec: BronzeSpec) -> int:
    """The bronze transform in DuckDB: text read, trim, '' -> null, dates, metadata, ZSTD."""
    raw_names = _csv_header(csv_path)
    names = normalize_column_names(raw_names)
    select = []
    for raw, name in zip(raw_names, names, strict=True):
        value = f"nullif(trim({_ident(raw)}), '')"
        if name in spec.date_columns:
            value = f"try_strptime({value}, {_sql_str(spec.date_format)})::DATE"
        select.append(f"{value} AS {_ident(name)}")
    stamp = spec.run_time.strftime("%Y-%m-%d %H:%M:%S")
    select += [
        f"TIMESTAMPTZ '{stamp}+00' AS meta_ingest_timestamp",
        f"{_sql_str(spec.run_id)} AS meta_run_id",
        f"{_sql_str(spec.source_file)} AS meta_source_file",
    ]
    source = (
        f"read_csv({_sql_str(str(csv_path))}, all_varchar=true, header=true, delim=',', "
        "quote='\"', escape='\"')"
    )
    con = connect()
    try:
        con.execute(
            f"COPY (SELECT {', '.join(select)} FROM {source}) "
            f"TO {_sql_str(str(out_path))} (FORMAT parquet, COMPRESSION zstd)"
        )
        rows = con.execute(f"SELECT count(*) FROM read_parquet({_sql_str(str(out_path))})")
        return int(rows.fetchone()[0])
    finally:
        con.close()


def parquet_tables_equal(left: list[Path], right: list[Path], columns: list[str]) -> str | None:
    """None when both sets of parquet files hold the same multiset of rows over `columns`,
    else a short description of the difference (counts and one differing row each way)."""
    con = connect()
    try:
        cols = ", ".join(_ident(c) for c in columns)
        lhs = f"(SELECT {cols} FROM read_parquet({_paths(left)}, union_by_name=true))"
        rhs = f"(SELECT {cols} FROM read_parquet({_paths(right)}, union_by_name=true))"
        only_left = con.execute(f"SELECT count(*) FROM ({lhs} EXCEPT ALL {rhs})").fetchone()[0]
        only_right = con.execute(f"SELECT count(*) FROM ({rhs} EXCEPT ALL {lhs})").fetchone()[0]
        if only_left == 0 and only_right == 0:
            return None
        example_l = con.execute(f"{lhs} EXCEPT ALL {rhs} LIMIT 1").fetchall()
        example_r = con.execute(f"{rhs} EXCEPT ALL {lhs} LIMIT 1").fetchall()
        return (
            f"{only_left} rows only in the first, {only_right} only in the second; "
            f"e.g. {example_l} vs {example_r}"
        )
    finally:
        con.close()


def _paths(paths: list[Path]) -> str:
    return "[" + ", ".join(_sql_str(str(p)) for p in paths) + "]"
