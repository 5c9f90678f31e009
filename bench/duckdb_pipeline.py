"""The peer of `ppdw run`: the same pipeline written as a plain DuckDB script.

`python -m bench.duckdb_pipeline SOURCE.zip WAREHOUSE_DIR --run-id ID --run-time ISO`
applies one snapshot to its own warehouse folder and prints one JSON line (phase times
and counts). It is written the way a careful DuckDB user would write it, and does no less
than ppdw's run does with the data:

1. extract the CSV member of the zip (streamed to `raw/{run_id}/`);
2. bronze: `read_csv(all_varchar)`, the bronze rules (names normalized, values trimmed,
   '' -> null, `*date*` columns parsed with the dataset's format, unparseable -> null, the
   three meta columns), `COPY ... (FORMAT parquet, COMPRESSION zstd)`;
3. silver: rejects (null or empty key), keep_last per key, then the SCD2 merge as ONE full
   outer join of the snapshot and the current versions on the key with an MD5 of the
   tracked columns (data.md's canonical text, so the hashes equal ppdw's), the delete guard,
   and a `COPY` of every rewritten month (closed versions, tombstones, new versions).

Standard library and duckdb only: no ppdw import, so it is an independent second opinion
of the rules (the bench compares its silver with ppdw's).
"""

from __future__ import annotations

import argparse
import json
import re
import shutil
import sys
import time
import zipfile
from dataclasses import dataclass, field
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

#: The NSDE dataset's rules, as dataset.json states them (key, date format, guard).
KEYS = ("ndc11",)
DATE_FORMAT = "%Y%m%d"
MAX_DELETE_RATIO = 0.5
MEMBER_PATTERN = re.compile(r".*\.csv$", re.IGNORECASE)

_US, _RS, _ESC = "chr(31)", "chr(30)", "chr(27)"
_OPEN_END = "TIMESTAMPTZ '9999-12-31 00:00:00+00'"


def _sql_str(value: str) -> str:
    return "'" + value.replace("'", "''") + "'"


def _ident(name: str) -> str:
    return '"' + name.replace('"', '""') + '"'


def normalize(names: list[str]) -> list[str]:
    """data.md's column-name rule, written again here (lower case, runs of other
    characters -> `_`, no leading/trailing `_`, leading digit -> `_`, repeats `_2`)."""
    out: list[str] = []
    seen: dict[str, int] = {}
    for raw in names:
        name = re.sub(r"[^a-z0-9]+", "_", raw.lower()).strip("_") or "column"
        if name[0].isdigit():
            name = "_" + name
        count = seen.get(name, 0) + 1
        seen[name] = count
        out.append(name if count == 1 else f"{name}_{count}")
    return out


@dataclass
class Result:
    seconds: dict[str, float] = field(default_factory=dict)
    counts: dict[str, int] = field(default_factory=dict)
    partitions: list[str] = field(default_factory=list)

    def timed(self, phase: str, start: float) -> float:
        now = time.perf_counter()
        self.seconds[phase] = now - start
        return now


def connect() -> Any:
    import duckdb

    con = duckdb.connect()
    con.execute("SET TimeZone = 'UTC'")
    con.execute("SET enable_progress_bar = false")
    con.execute("SET preserve_insertion_order = false")
    return con


def extract(source: Path, raw_dir: Path) -> Path:
    """The one CSV member of the zip, streamed to a file (no member path is trusted)."""
    raw_dir.mkdir(parents=True, exist_ok=True)
    with zipfile.ZipFile(source) as archive:
        members = [m for m in archive.infolist() if MEMBER_PATTERN.match(m.filename)]
        if len(members) != 1:
            raise SystemExit(f"{source}: expected one CSV member, found {len(members)}")
        target = raw_dir / Path(members[0].filename).name
        with archive.open(members[0]) as src, target.open("wb") as dst:
            shutil.copyfileobj(src, dst, 1 << 20)
    return target


def _header(csv_path: Path) -> list[str]:
    import csv

    with csv_path.open(encoding="utf-8-sig", newline="") as handle:
        return next(csv.reader([handle.readline()]))


def bronze(con: Any, csv_path: Path, out: Path, run_id: str, run_time: datetime) -> None:
    raw_names = _header(csv_path)
    names = normalize(raw_names)
    select = []
    for position, name in enumerate(names):
        value = f"nullif(trim({_ident(raw_names[position])}), '')"
        if "date" in name:
            value = f"try_strptime({value}, {_sql_str(DATE_FORMAT)})::DATE"
        select.append(f"{value} AS {_ident(name)}")
    stamp = run_time.strftime("%Y-%m-%d %H:%M:%S")
    select += [
        f"TIMESTAMPTZ '{stamp}+00' AS meta_ingest_timestamp",
        f"{_sql_str(run_id)} AS meta_run_id",
        f"{_sql_str(csv_path.name)} AS meta_source_file",
    ]
    source = (
        f"read_csv({_sql_str(str(csv_path))}, all_varchar=true, header=true, delim=',', "
        "quote='\"', escape='\"')"
    )
    out.parent.mkdir(parents=True, exist_ok=True)
    con.execute(
        f"COPY (SELECT {', '.join(select)} FROM {source}) "
        f"TO {_sql_str(str(out))} (FORMAT parquet, COMPRESSION zstd)"
    )


def _canonical_value(name: str, kind: str) -> str:
    """data.md's canonical text of one value (NULL stays NULL), escaped."""
    col = _ident(name)
    if kind == "VARCHAR":
        text = col
    elif kind == "DATE":
        text = f"strftime({col}, '%Y-%m-%d')"
    elif kind.startswith("TIMESTAMP"):
        text = f"strftime(timezone('UTC', {col}::TIMESTAMPTZ), '%Y-%m-%dT%H:%M:%S.%gZ')"
    else:
        text = f"CAST({col} AS VARCHAR)"
    return (
        f"replace(replace(replace({text}, {_ESC}, {_ESC} || '0'), {_RS}, {_ESC} || '1'), "
        f"{_US}, {_ESC} || '2')"
    )


def record_hash_sql(tracked: list[tuple[str, str]]) -> str:
    """MD5 of `name US value` fields in name order, joined by RS; null fields left out."""
    fields = [
        f"{_sql_str(name)} || {_US} || {_canonical_value(name, kind)}"
        for name, kind in sorted(tracked)
    ]
    return f"md5(concat_ws({_RS}, {', '.join(fields)}))" if fields else "md5('')"


def silver(
    con: Any, bronze_file: Path, silver_dir: Path, run_id: str, run_time: datetime
) -> Result:
    result = Result()
    con.execute(
        "CREATE TEMP VIEW bronze AS SELECT * FROM "
        f"read_parquet({_sql_str(str(bronze_file))}, file_row_number=true, hive_partitioning=false)"
    )
    business = [
        (str(r[0]), str(r[1]))
        for r in con.execute("DESCRIBE bronze").fetchall()
        if not str(r[0]).startswith("meta_") and r[0] != "file_row_number"
    ]
    tracked = [(n, k) for n, k in business if n not in KEYS]
    cols = ", ".join(_ident(n) for n, _ in business)
    key = _ident(KEYS[0])
    stamp = f"TIMESTAMPTZ '{run_time.strftime('%Y-%m-%d %H:%M:%S')}+00'"
    ym = run_time.strftime("%Y-%m")
    files = sorted(silver_dir.glob("effective_year_month=*/*.parquet"))
    valid = f"{key} IS NOT NULL AND trim({key}) <> ''"
    result.counts["rejected"] = con.execute(
        f"SELECT count(*) FROM bronze WHERE NOT ({valid})"
    ).fetchone()[0]
    # keep_last: the last row of each key in file order; the hash of every snapshot row.
    con.execute(
        f"CREATE TEMP TABLE snap AS SELECT {cols}, {record_hash_sql(tracked)} AS record_hash "
        f"FROM bronze WHERE {valid} "
        f"QUALIFY row_number() OVER (PARTITION BY {key} ORDER BY file_row_number DESC) = 1"
    )
    if files:
        pattern = _sql_str(str(silver_dir / "*" / "*.parquet"))
        history = f"read_parquet({pattern}, hive_partitioning=true)"
    else:
        history = (
            f"(SELECT {cols}, ''::VARCHAR AS record_hash, NULL::TIMESTAMPTZ AS "
            "record_effective_date, NULL::TIMESTAMPTZ AS record_end_date, false AS is_current, "
            "''::VARCHAR AS change_type, ''::VARCHAR AS meta_run_id, ''::VARCHAR AS "
            "effective_year_month FROM snap WHERE false)"
        )
    con.execute(f"CREATE TEMP VIEW history AS SELECT * FROM {history}")
    # The SCD2 merge: one full outer join of the snapshot and the current versions.
    con.execute(
        "CREATE TEMP TABLE change AS SELECT "
        f"coalesce(s.{key}, c.{key}) AS {key}, c.effective_year_month AS closes_in, "
        f"CASE WHEN c.{key} IS NULL THEN 'INSERT' WHEN s.{key} IS NULL THEN 'DELETE' "
        "ELSE 'UPDATE' END AS change_type "
        f"FROM snap s FULL OUTER JOIN (SELECT {key}, record_hash, effective_year_month "
        f"FROM history WHERE is_current) c ON s.{key} = c.{key} "
        f"WHERE c.{key} IS NULL OR s.{key} IS NULL OR s.record_hash <> c.record_hash"
    )
    counts = dict(con.execute("SELECT change_type, count(*) FROM change GROUP BY 1").fetchall())
    for kind in ("INSERT", "UPDATE", "DELETE"):
        result.counts[kind] = int(counts.get(kind, 0))
    live = con.execute("SELECT count(*) FROM history WHERE is_current").fetchone()[0]
    if live and result.counts["DELETE"] / live > MAX_DELETE_RATIO:
        raise SystemExit(f"max_delete_ratio: {result.counts['DELETE']} of {live} current keys")
    if not any(result.counts[k] for k in ("INSERT", "UPDATE", "DELETE")):
        return result  # nothing changes: nothing is written
    months = [
        str(r[0])
        for r in con.execute(
            "SELECT DISTINCT closes_in FROM change WHERE closes_in IS NOT NULL "
            f"UNION SELECT {_sql_str(ym)} ORDER BY 1"
        ).fetchall()
    ]
    out_cols = (
        f"{cols}, record_hash, record_effective_date, record_end_date, is_current, "
        "change_type, meta_run_id"
    )
    closing = "(h.is_current AND x.closes_in IS NOT NULL)"
    kept = (
        f"SELECT {', '.join('h.' + _ident(n) for n, _ in business)}, h.record_hash, "
        f"h.record_effective_date, CASE WHEN {closing} THEN {stamp} ELSE h.record_end_date END, "
        f"CASE WHEN {closing} THEN false ELSE h.is_current END, h.change_type, h.meta_run_id "
        f"FROM history h LEFT JOIN change x ON h.{key} = x.{key} AND x.closes_in IS NOT NULL "
        "WHERE h.effective_year_month = $month"
    )
    new_rows = (
        f"SELECT {', '.join('s.' + _ident(n) for n, _ in business)}, s.record_hash, {stamp}, "
        f"{_OPEN_END}, true, x.change_type, {_sql_str(run_id)} FROM snap s "
        f"JOIN change x ON s.{key} = x.{key} AND x.change_type <> 'DELETE' "
        f"UNION ALL SELECT {', '.join('h.' + _ident(n) for n, _ in business)}, h.record_hash, "
        f"{stamp}, {stamp}, false, 'DELETE', {_sql_str(run_id)} FROM history h "
        f"JOIN change x ON h.{key} = x.{key} AND x.change_type = 'DELETE' AND h.is_current"
    )
    silver_dir.mkdir(parents=True, exist_ok=True)
    for month in months:
        folder = silver_dir / f"effective_year_month={month}"
        staging = silver_dir / f".{month}.{run_id}.parquet"
        query = kept if month != ym else f"{kept} UNION ALL {new_rows}"
        con.execute(
            f"COPY (SELECT * FROM ({query}) AS t({out_cols})) TO {_sql_str(str(staging))} "
            "(FORMAT parquet, COMPRESSION zstd)",
            {"month": month},
        )
        folder.mkdir(parents=True, exist_ok=True)
        for old in folder.glob("*.parquet"):
            old.unlink()
        staging.rename(folder / "part-0.parquet")
    result.partitions = months
    return result


def run(source: Path, warehouse: Path, run_id: str, run_time: datetime) -> Result:
    start = time.perf_counter()
    member = extract(source, warehouse / "raw" / f"run_id={run_id}")
    now = time.perf_counter()
    extract_seconds = now - start
    con = connect()
    try:
        partition = run_time.strftime("%Y-%m-%d-%H%M%S")
        bronze_file = warehouse / "bronze" / f"partition_datetime={partition}" / "part-0.parquet"
        bronze(con, member, bronze_file, run_id, run_time)
        bronze_seconds = time.perf_counter() - now
        now = time.perf_counter()
        result = silver(con, bronze_file, warehouse / "silver", run_id, run_time)
        result.seconds = {
            "extract": extract_seconds,
            "bronze": bronze_seconds,
            "silver": time.perf_counter() - now,
        }
    finally:
        con.close()
    return result


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m bench.duckdb_pipeline")
    parser.add_argument("source", type=Path)
    parser.add_argument("warehouse", type=Path)
    parser.add_argument("--run-id", required=True)
    parser.add_argument("--run-time", required=True, help="ISO-8601, UTC")
    args = parser.parse_args(argv)
    run_time = datetime.fromisoformat(args.run_time.replace("Z", "+00:00")).astimezone(UTC)
    result = run(args.source, args.warehouse, args.run_id, run_time)
    doc = {"seconds": result.seconds, "counts": result.counts, "partitions": result.partitions}
    sys.stdout.write(json.dumps(doc) + "\n")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
