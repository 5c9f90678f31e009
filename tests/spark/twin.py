"""Twin warehouses: the same sequence of snapshots through the Arrow and the Spark engine.

Each engine gets its own fresh emulator (moto) and runs the real local runner
(`run_local`, fetch -> bronze -> silver, as `ppdw run --runner local --engine ...`). What
a user can see is then read back from each: the bronze partition of every run (its files
in order), every registered silver partition (rows, and the run-named folder it points
at), the rejects, and each run's record. `compare` says where they differ.
"""

from __future__ import annotations

import io
import json
from dataclasses import dataclass, field
from datetime import datetime
from pathlib import Path
from typing import Any

import pyarrow as pa
import pyarrow.parquet as pq
from moto import mock_aws

from ppdw.config.loader import Project
from ppdw.errors import PpdwError
from ppdw.runs.local import RunRequest, run_local
from ppdw.runs.progress import QuietProgress
from tests.functional import pipeline_support as sup

#: Statistics that describe the file layout, not the data: they differ by design.
LAYOUT = {"files", "bytes", "files_written", "bytes_written", "engine", "table"}


@dataclass(frozen=True)
class Step:
    source: Path
    run_time: datetime
    force: bool = False
    #: `silver` options of dataset.json for this run (deployed before it, then restored).
    silver_options: dict[str, str] = field(default_factory=dict)


@dataclass
class Seen:
    """Everything a user can read back after the sequence."""

    errors: list[str | None] = field(default_factory=list)
    records: list[dict[str, Any]] = field(default_factory=list)
    bronze: list[pa.Table | None] = field(default_factory=list)
    silver: dict[str, pa.Table] = field(default_factory=dict)
    folders: dict[str, str] = field(default_factory=dict)
    rejects: dict[str, pa.Table] = field(default_factory=dict)
    engines: list[set[str]] = field(default_factory=list)


def run_sequence(project: Project, dataset: str, steps: list[Step], engine: str) -> Seen:
    seen = Seen()
    with mock_aws(config={"core": {"reset_boto3_session": False}}):
        target = sup.aws_target()
        sup.make_core(target, project, [dataset])
        s3, glue = target.aws.client("s3"), target.aws.client("glue")
        for index, step in enumerate(steps):
            run_id = f"{dataset}-{index:02d}"
            request = RunRequest(
                dataset=dataset,
                run_id=run_id,
                run_time=step.run_time,
                source=str(step.source),
                force=step.force,
                engine=engine,
            )
            _deploy_config(s3, project, dataset, step.silver_options)
            try:
                run_local(target, project, request, QuietProgress(), sleep=lambda _: None)
                seen.errors.append(None)
            except PpdwError as error:
                seen.errors.append(error.message)
            _deploy_config(s3, project, dataset, {})
            record = _json(s3, f"silver/_runs/{dataset}/{run_id}.json") or {}
            seen.records.append(_data_stats(record))
            seen.engines.append(
                {str(s.get("stats", {}).get("engine")) for s in record.get("steps", {}).values()}
                - {"None"}
            )
            seen.bronze.append(_bronze(s3, glue, dataset, step.run_time))
        for ym, location in sorted(sup.partitions(glue, "pp_dw_silver", dataset).items()):
            prefix = location.removeprefix(f"s3://{sup.BUCKET}/")
            seen.folders[ym] = prefix.rstrip("/").rsplit("/", 1)[-1]
            seen.silver[ym] = _read_all(s3, prefix)
        for key in sup.keys_under(s3, f"silver/_rejects/{dataset}/"):
            seen.rejects[key.rsplit("/", 2)[-2]] = _read_all(s3, key.rsplit("/", 1)[0] + "/")
    return seen


def _deploy_config(s3: Any, project: Project, dataset: str, silver: dict[str, str]) -> None:
    """The dataset.json the jobs read, with these `silver` options."""
    path = project.dataset_dir(dataset) / "config" / "dataset.json"
    document = json.loads(path.read_text(encoding="utf-8"))
    document["silver"] = {**document.get("silver", {}), **silver}
    key = f"{project.warehouse.names.dataset(dataset).scripts_prefix}dataset.json"
    s3.put_object(Bucket=sup.BUCKET, Key=key, Body=json.dumps(document).encode())


def _json(s3: Any, key: str) -> dict[str, Any] | None:
    try:
        body = s3.get_object(Bucket=sup.BUCKET, Key=key)["Body"].read()
    except s3.exceptions.NoSuchKey:
        return None
    document = json.loads(body)
    return document if isinstance(document, dict) else None


def _data_stats(record: dict[str, Any]) -> dict[str, Any]:
    """The run record without times and file layout."""
    steps = {}
    for name, step in (record.get("steps") or {}).items():
        if name == "fetch":
            continue
        stats = {k: v for k, v in (step.get("stats") or {}).items() if k not in LAYOUT}
        steps[name] = {"status": step.get("status"), "error": step.get("error"), "stats": stats}
    return {"status": record.get("status"), "error": record.get("error"), "steps": steps}


def _read_all(s3: Any, prefix: str) -> pa.Table:
    tables = [
        pq.read_table(io.BytesIO(s3.get_object(Bucket=sup.BUCKET, Key=key)["Body"].read()))
        for key in sup.keys_under(s3, prefix)
        if key.endswith(".parquet")
    ]
    return pa.concat_tables(tables, promote_options="default")


def _bronze(s3: Any, glue: Any, dataset: str, moment: datetime) -> pa.Table | None:
    partition = moment.strftime("%Y-%m-%d-%H%M%S")
    if partition not in sup.partitions(glue, "pp_dw_bronze", dataset):
        return None
    return _read_all(s3, f"bronze/bronze_{dataset}/partition_datetime={partition}/")


def ordered(table: pa.Table) -> pa.Table:
    """Rows in one order whatever the files (all columns, in name order)."""
    names = sorted(table.column_names)
    return table.select(names).sort_by([(n, "ascending") for n in names])


def compare(arrow: Seen, spark: Seen) -> list[str]:
    """Every difference a user could see, as lines (empty: the engines agree)."""
    out: list[str] = []
    for index, (a, s) in enumerate(zip(arrow.errors, spark.errors, strict=True)):
        if a != s:
            out.append(f"run {index}: error {a!r} != {s!r}")
    for index, (a, s) in enumerate(zip(arrow.records, spark.records, strict=True)):
        if a != s:
            out.append(f"run {index}: record {a} != {s}")
    for index, (a, s) in enumerate(zip(arrow.bronze, spark.bronze, strict=True)):
        if (a is None) != (s is None) or (a is not None and s is not None and not a.equals(s)):
            out.append(f"run {index}: bronze differs (row for row, in source order)")
    if sorted(arrow.silver) != sorted(spark.silver):
        out.append(f"silver partitions {sorted(arrow.silver)} != {sorted(spark.silver)}")
    for ym in sorted(set(arrow.silver) & set(spark.silver)):
        a, s = arrow.silver[ym], spark.silver[ym]
        if a.schema != s.schema or not ordered(a).equals(ordered(s)):
            out.append(f"silver partition {ym} differs")
    if arrow.folders != spark.folders:
        out.append(f"version folders {arrow.folders} != {spark.folders}")
    if sorted(arrow.rejects) != sorted(spark.rejects) or any(
        not ordered(arrow.rejects[k]).equals(ordered(spark.rejects[k])) for k in arrow.rejects
    ):
        out.append("rejects differ")
    return out
