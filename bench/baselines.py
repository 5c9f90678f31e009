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
    con.execute("SET enable_progress_bar = false")
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


# ------------------------------------------------------------------------- duckdb silver

#: data.md's canonical text separators (US between name and value, RS between fields).
_US, _RS, _ESC = "chr(31)", "chr(30)", "chr(27)"
_OPEN_END = "TIMESTAMPTZ '9999-12-31 00:00:00+00'"


@dataclass(frozen=True)
class SilverRun:
    """One silver run on local folders: `silver_dir/effective_year_month=YM/*.parquet`."""

    bronze: Path
    silver_dir: Path
    keys: tuple[str, ...]
    run_id: str
    run_time: datetime
    deletes: str = "tombstone"
    max_delete_ratio: float = 0.5

    @classmethod
    def from_params(cls, params: dict[str, Any]) -> SilverRun:
        return cls(
            bronze=Path(params["bronze"]),
            silver_dir=Path(params["silver_dir"]),
            keys=tuple(params["keys"]),
            run_id=params["run_id"],
            run_time=datetime.fromisoformat(params["run_time"]),
            deletes=params.get("deletes", "tombstone"),
            max_delete_ratio=float(params.get("max_delete_ratio", 0.5)),
        )


def _canonical_value(name: str, kind: str) -> str:
    """SQL rendering of one column as data.md's canonical text (NULL stays NULL)."""
    col = _ident(name)
    if kind == "VARCHAR":
        text = col
    elif kind == "DATE":
        text = f"strftime({col}, '%Y-%m-%d')"
    elif kind.startswith("TIMESTAMP"):
        text = f"strftime(timezone('UTC', {col}::TIMESTAMPTZ), '%Y-%m-%dT%H:%M:%S.%gZ')"
    elif kind in ("BIGINT", "INTEGER", "BOOLEAN") or kind.startswith("DECIMAL"):
        text = f"CAST({col} AS VARCHAR)"
    else:
        raise TypeError(f"the DuckDB peer does not render {kind} columns")
    escaped = f"replace(replace(replace({text}, {_ESC}, {_ESC} || '0'), {_RS}, {_ESC} || '1'), "
    return escaped + f"{_US}, {_ESC} || '2')"


def _record_hash_sql(tracked: list[tuple[str, str]]) -> str:
    fields = [
        f"{_sql_str(name)} || {_US} || {_canonical_value(name, kind)}"
        for name, kind in sorted(tracked)
    ]
    return f"md5(concat_ws({_RS}, {', '.join(fields)}))" if fields else "md5('')"


def duckdb_silver(run: SilverRun) -> dict[str, Any]:
    """Apply one bronze snapshot to the silver folder with data.md's SCD2 rules, in SQL.

    Rewrites only the partitions that hold a version this run closes plus the partition of
    the run time (when anything changed); other partitions are not touched.
    """
    con = connect()
    try:
        return _duckdb_silver(con, run)
    finally:
        con.close()


def _duckdb_silver(con: Any, run: SilverRun) -> dict[str, Any]:
    # Written the way a careful DuckDB user would: parquet read through views (parallel
    # scans, projection pushdown), hash joins only, and the MD5 computed only for the rows
    # that are new or whose tracked values differ (equal values <=> equal canonical text).
    bronze = _sql_str(str(run.bronze))
    con.execute(
        f"CREATE TEMP VIEW bronze AS SELECT * FROM read_parquet({bronze}, file_row_number=true)"
    )
    schema = con.execute("DESCRIBE bronze").fetchall()
    business = [
        (str(r[0]), str(r[1]))
        for r in schema
        if not str(r[0]).startswith("meta_") and r[0] != "file_row_number"
    ]
    tracked = [(n, k) for n, k in business if n not in run.keys]
    keys = ", ".join(_ident(k) for k in run.keys)
    cols = ", ".join(_ident(n) for n, _ in business)
    stamp = f"TIMESTAMPTZ '{run.run_time.strftime('%Y-%m-%d %H:%M:%S')}+00'"
    ym = _sql_str(run.run_time.strftime("%Y-%m"))
    rid = _sql_str(run.run_id)
    valid = " AND ".join(f"{_ident(k)} IS NOT NULL AND {_ident(k)} <> ''" for k in run.keys)
    key_eq = " AND ".join(f"s.{_ident(k)} = c.{_ident(k)}" for k in run.keys)
    first_key = _ident(run.keys[0])
    differs = " OR ".join(f"s.{_ident(n)} IS DISTINCT FROM c.{_ident(n)}" for n, _ in tracked)
    # Rule 1: rejects (null or empty key); rule 2 keep_last: the last row of a key in file order.
    rejected = con.execute(f"SELECT count(*) FROM bronze WHERE NOT ({valid})").fetchone()[0]
    con.execute(
        f"CREATE TEMP TABLE snap AS SELECT {cols} FROM bronze WHERE {valid} "
        f"QUALIFY row_number() OVER (PARTITION BY {keys} ORDER BY file_row_number DESC) = 1"
    )
    con.execute(f"CREATE TEMP VIEW cur AS {_silver_source(run.silver_dir)}")
    con.execute(
        f"CREATE TEMP TABLE live AS SELECT {cols}, record_hash, effective_year_month "
        "FROM cur WHERE is_current"
    )
    con.execute(
        f"CREATE TEMP TABLE changed AS SELECT s.*, CASE WHEN c.{first_key} IS NULL "
        "THEN 'INSERT' ELSE 'UPDATE' END AS change_type "
        f"FROM snap s LEFT JOIN live c ON {key_eq} "
        f"WHERE c.{first_key} IS NULL OR {differs or 'false'}"
    )
    if run.deletes == "tombstone":
        con.execute(
            f"CREATE TEMP TABLE gone AS SELECT c.* FROM live c ANTI JOIN snap s ON {key_eq}"
        )
    else:
        con.execute("CREATE TEMP TABLE gone AS SELECT * FROM live WHERE false")
    live_count = con.execute("SELECT count(*) FROM live").fetchone()[0]
    gone_count = con.execute("SELECT count(*) FROM gone").fetchone()[0]
    if live_count and gone_count / live_count > run.max_delete_ratio:
        raise RuntimeError(f"delete guard: {gone_count} of {live_count} current keys")
    # Versions this run closes (updated and deleted keys), with the partition they sit in.
    con.execute(
        f"CREATE TEMP TABLE closing AS SELECT c.{keys.replace(', ', ', c.')}, "
        "c.effective_year_month FROM live c "
        f"SEMI JOIN (SELECT {keys} FROM changed WHERE change_type = 'UPDATE' "
        f"UNION ALL SELECT {keys} FROM gone) s ON {key_eq}"
    )
    targets = [
        str(r[0])
        for r in con.execute(
            "SELECT DISTINCT effective_year_month FROM closing "
            f"UNION SELECT {ym} WHERE (SELECT count(*) FROM changed) + "
            "(SELECT count(*) FROM gone) > 0 ORDER BY 1"
        ).fetchall()
    ]
    out_cols = f"{cols}, record_hash, record_effective_date, record_end_date, is_current, "
    out_cols += "change_type, meta_run_id, effective_year_month"
    new_rows = (
        f"SELECT {cols}, {_record_hash_sql(tracked)} AS record_hash, {stamp}, {_OPEN_END}, "
        f"true, change_type, {rid}, {ym} FROM changed "
        f"UNION ALL SELECT {cols}, record_hash, {stamp}, {stamp}, false, 'DELETE', {rid}, {ym} "
        "FROM gone"
    )
    closes = f"(c.is_current AND s.{first_key} IS NOT NULL)"
    kept = (
        f"SELECT {', '.join('c.' + _ident(n) for n, _ in business)}, c.record_hash, "
        f"c.record_effective_date, CASE WHEN {closes} THEN {stamp} ELSE c.record_end_date END, "
        f"CASE WHEN {closes} THEN false ELSE c.is_current END, c.change_type, c.meta_run_id, "
        f"c.effective_year_month FROM cur c LEFT JOIN closing s ON {key_eq} "
        "WHERE c.effective_year_month IN (SELECT unnest($targets))"
    )
    written = 0
    if targets:
        staging = run.silver_dir.parent / f".{run.silver_dir.name}.{run.run_id}.staging"
        con.execute(
            f"COPY (SELECT * FROM ({kept} UNION ALL {new_rows}) AS t({out_cols})) "
            f"TO {_sql_str(str(staging))} (FORMAT parquet, COMPRESSION zstd, "
            "PARTITION_BY (effective_year_month), OVERWRITE_OR_IGNORE)",
            {"targets": targets},
        )
        written = _swap_partitions(staging, run.silver_dir, targets)
    counts = dict(con.execute("SELECT change_type, count(*) FROM changed GROUP BY 1").fetchall())
    return {
        "INSERT": int(counts.get("INSERT", 0)),
        "UPDATE": int(counts.get("UPDATE", 0)),
        "DELETE": int(gone_count),
        "rejected": int(rejected),
        "partitions": targets,
        "files_written": written,
    }


def _silver_source(silver_dir: Path) -> str:
    files = sorted(silver_dir.rglob("*.parquet")) if silver_dir.exists() else []
    if not files:
        # First load: an empty current silver with bronze's business columns.
        return (
            "SELECT * EXCLUDE (file_row_number, meta_ingest_timestamp, meta_run_id, "
            "meta_source_file), ''::VARCHAR AS record_hash, NULL::TIMESTAMPTZ AS "
            "record_effective_date, NULL::TIMESTAMPTZ AS record_end_date, false AS is_current, "
            "''::VARCHAR AS change_type, ''::VARCHAR AS meta_run_id, ''::VARCHAR AS "
            "effective_year_month FROM bronze WHERE false"
        )
    pattern = _sql_str(str(silver_dir / "*" / "*.parquet"))
    return f"SELECT * FROM read_parquet({pattern}, hive_partitioning=true)"


def _swap_partitions(staging: Path, silver_dir: Path, targets: list[str]) -> int:
    """Move each rewritten partition from staging into place (old files removed)."""
    import shutil

    written = 0
    for ym in targets:
        source = staging / f"effective_year_month={ym}"
        target = silver_dir / f"effective_year_month={ym}"
        if target.exists():
            shutil.rmtree(target)
        target.parent.mkdir(parents=True, exist_ok=True)
        source.rename(target)
        written += len(list(target.glob("*.parquet")))
    shutil.rmtree(staging, ignore_errors=True)
    return written
