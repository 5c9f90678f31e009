"""Test support: a moto warehouse for pipeline tests and an independent SCD2 oracle.

The oracle reads the sample files with the standard library (csv, zipfile, datetime), so
the expectations do not share code with the runtime under test.
"""

from __future__ import annotations

import csv
import io
import json
import re
import zipfile
from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import pyarrow as pa
import pyarrow.parquet as pq

from ppdw.aws.session import make_session
from ppdw.config.loader import Project, load_project
from ppdw.runs.local import RunRequest, run_local
from ppdw.runs.progress import QuietProgress
from ppdw.targets import TargetContext

ACCOUNT = "123456789012"
BUCKET = f"pp-dw-{ACCOUNT}"
RUN_TIMES = {
    "nsde": ["2026-11-01T06:00:00", "2026-11-02T06:00:00", "2026-11-03T06:00:00"],
    "rxnorm": ["2026-09-08T08:00:00", "2026-10-06T08:00:00", "2026-11-02T08:00:00"],
}


def aws_target() -> TargetContext:
    """The `aws` target as `--target aws` opens it (moto answers in this process)."""
    aws = make_session(region="us-east-1")
    return TargetContext(
        name="aws", kind="aws", aws=aws, account_id=ACCOUNT, region="us-east-1", athena=True
    )


def make_core(target: TargetContext, project: Project, datasets: list[str]) -> None:
    """What bootstrap-core and deploy leave behind that the local runner needs."""
    s3, glue = target.aws.client("s3"), target.aws.client("glue")
    s3.create_bucket(Bucket=BUCKET)
    for layer in ("bronze", "silver", "gold"):
        glue.create_database(DatabaseInput={"Name": project.warehouse.database(layer)})
    for name in datasets:
        names = project.warehouse.names.dataset(name)
        body = (project.dataset_dir(name) / "config" / "dataset.json").read_bytes()
        s3.put_object(Bucket=BUCKET, Key=f"{names.scripts_prefix}dataset.json", Body=body)


def run_time(text: str) -> datetime:
    return datetime.fromisoformat(text).replace(tzinfo=UTC)


def request(project: Project, dataset: str, index: int, **overrides: Any) -> RunRequest:
    sample = project.dataset_dir(dataset) / project.dataset(dataset).source.samples[index]
    moment = run_time(RUN_TIMES[dataset][index])
    fields: dict[str, Any] = {
        "dataset": dataset,
        "run_id": f"{dataset}-{moment:%Y%m%d-%H%M%S}",
        "run_time": moment,
        "source": str(sample),
    }
    fields.update(overrides)
    return RunRequest(**fields)


def run(
    target: TargetContext, project: Project, dataset: str, index: int, **kw: Any
) -> dict[str, Any]:
    return run_local(
        target,
        project,
        request(project, dataset, index, **kw),
        QuietProgress(),
        sleep=lambda _: None,
    )


def load(root: Path) -> Project:
    return load_project(root)


# --------------------------------------------------------------------------- the oracle


def _norm(name: str) -> str:
    cleaned = re.sub(r"[^a-z0-9]+", "_", name.lower()).strip("_")
    return f"_{cleaned}" if cleaned[:1].isdigit() else cleaned


def _value(name: str, text: str, date_format: str) -> Any:
    text = text.strip()
    if text == "":
        return None
    if "date" in name:
        try:
            return datetime.strptime(text, date_format).date()
        except ValueError:
            return None
    return text


@dataclass
class Snapshot:
    rows: int  # data rows in the file
    records: dict[str, tuple[Any, ...]]  # key -> tracked values (last wins)
    columns: list[str]


def read_snapshot(project: Project, dataset: str, index: int) -> Snapshot:
    ds = project.dataset(dataset)
    path = project.dataset_dir(dataset) / ds.source.samples[index]
    with zipfile.ZipFile(path) as archive:
        member = next(
            n
            for n in archive.namelist()
            if any(Path(n).match(p) or n == p for p in ds.source.members)
        )
        text = archive.read(member).decode("utf-8-sig", errors="replace")
    if ds.source.format == "rrf":
        names = [_norm(c) for c in ds.source.columns or ()]
        lines = [line.split("|")[:-1] for line in text.splitlines() if line.strip()]
    else:
        reader = csv.reader(io.StringIO(text, newline=""))
        header = next(reader)
        names = [_norm(c) for c in header]
        lines = list(reader)
    key = ds.business_key[0]
    tracked = sorted(n for n in names if n != key)
    records: dict[str, tuple[Any, ...]] = {}
    for line in lines:
        row = {n: _value(n, v, ds.date_format) for n, v in zip(names, line, strict=True)}
        if row[key] is None:
            continue
        records[row[key]] = tuple(row[n] for n in tracked)
    return Snapshot(rows=len(lines), records=records, columns=names)


def expected_changes(snapshots: list[Snapshot]) -> list[dict[str, int]]:
    """INSERT/UPDATE/DELETE of each run (tombstone deletes, full extracts)."""
    out: list[dict[str, int]] = []
    live: dict[str, tuple[Any, ...]] = {}
    for snap in snapshots:
        new = snap.records
        out.append(
            {
                "INSERT": sum(1 for k in new if k not in live),
                "UPDATE": sum(1 for k in new if k in live and live[k] != new[k]),
                "DELETE": sum(1 for k in live if k not in new),
            }
        )
        live = dict(new)
    return out


# ----------------------------------------------------------------------------- readers


def read_s3_parquet(s3: Any, key: str) -> pa.Table:
    body = s3.get_object(Bucket=BUCKET, Key=key)["Body"].read()
    return pq.read_table(io.BytesIO(body))


def parquet_schema(s3: Any, key: str) -> pa.Schema:
    body = s3.get_object(Bucket=BUCKET, Key=key)["Body"].read()
    return pq.read_schema(io.BytesIO(body))


def keys_under(s3: Any, prefix: str) -> list[str]:
    pages = s3.get_paginator("list_objects_v2").paginate(Bucket=BUCKET, Prefix=prefix)
    return sorted(item["Key"] for page in pages for item in page.get("Contents", []))


def partitions(glue: Any, database: str, table: str) -> dict[str, str]:
    found = glue.get_partitions(DatabaseName=database, TableName=table)["Partitions"]
    return {p["Values"][0]: p["StorageDescriptor"]["Location"] for p in found}


def read_silver(target: TargetContext, dataset: str) -> pa.Table:
    """Silver as a reader sees it: the files at the registered partitions' locations."""
    s3, glue = target.aws.client("s3"), target.aws.client("glue")
    tables = []
    for ym, location in sorted(partitions(glue, "pp_dw_silver", dataset).items()):
        prefix = location.removeprefix(f"s3://{BUCKET}/")
        for key in keys_under(s3, prefix):
            table = read_s3_parquet(s3, key)
            tables.append(table.append_column("effective_year_month", pa.array([ym] * len(table))))
    return pa.concat_tables(tables, promote_options="default")


def run_record(target: TargetContext, dataset: str, run_id: str) -> dict[str, Any]:
    body = (
        target.aws.client("s3")
        .get_object(Bucket=BUCKET, Key=f"silver/_runs/{dataset}/{run_id}.json")["Body"]
        .read()
    )
    return dict(json.loads(body))
