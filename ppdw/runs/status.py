"""`ppdw status`: what is deployed, what ran, and what each layer holds.

Rule: read-only. Facts come from the AWS resources (found by name), the Glue catalog (the
registered partitions are what readers see) and the run records. Row counts come from
parquet footers; current rows from the `is_current` column alone, never whole tables.
"""

from __future__ import annotations

from typing import Any

import pyarrow.compute as pc

from ppdw.aws import objects
from ppdw.aws.glue import Glue
from ppdw.aws.lambda_ import Lambda
from ppdw.aws.stepfunctions import StepFunctions
from ppdw.config.loader import Project
from ppdw.contracts.run_record import RunRecord
from ppdw.naming import DatasetNames
from ppdw.read import runs
from ppdw.runtime import catalog, manifest, storage
from ppdw.runtime.schema import IS_CURRENT
from ppdw.targets import TargetContext

CHANGE_TYPES = ("INSERT", "UPDATE", "DELETE")


def is_deployed(target: TargetContext, names: DatasetNames) -> bool:
    """The dataset's Lambda, both Glue jobs and its state machine all exist."""
    glue = Glue(target.aws, target.account_id, target.region)
    if Lambda(target.aws).function(names.fetch_function) is None:
        return False
    if any(glue.job(names.job(layer)) is None for layer in ("bronze", "silver")):
        return False
    machines = StepFunctions(target.aws, target.account_id, target.region)
    return machines.state_machine(names.state_machine) is not None


def last_run(records: list[RunRecord]) -> RunRecord | None:
    if not records:
        return None
    latest = max(
        records, key=lambda r: (str(r.get("started_at") or ""), str(r.get("run_time") or ""))
    )
    return latest


def changes_of(record: RunRecord | None) -> dict[str, int]:
    """INSERT/UPDATE/DELETE counts a run's silver step recorded (zeros when none)."""
    stats = (((record or {}).get("steps") or {}).get("silver") or {}).get("stats") or {}
    changes = stats.get("changes") or {}
    return {kind: int(changes.get(kind, 0)) for kind in CHANGE_TYPES}


def last_change_summary(records: list[RunRecord]) -> dict[str, Any] | None:
    """The last applied run that changed silver: the one whose merge a reader sees, even
    when later runs were unchanged or failed."""
    record = runs.last_change(records)
    if record is None:
        return None
    return {
        **{k: record.get(k) for k in ("run_id", "run_time", "finished_at")},
        "changes": changes_of(record),
    }


def raw_summary(
    s3: Any, bucket: str, names: DatasetNames, records: list[RunRecord]
) -> dict[str, Any]:
    prefix = names.raw_prefix
    run_ids = [
        p[len(prefix) :].rstrip("/").removeprefix("run_id=")
        for p in objects.list_prefixes(s3, bucket, prefix)
        if p[len(prefix) :].startswith("run_id=")
    ]
    times = {str(r.get("run_id")): str(r.get("run_time") or "") for r in records}
    latest = max(run_ids, key=lambda rid: (times.get(rid, ""), rid)) if run_ids else None
    return {"runs": len(run_ids), "latest_run_id": latest}


def _keys_at(s3: Any, bucket: str, location: str) -> list[str]:
    prefix = storage.key_of(location, bucket)
    return storage.parquet_keys(s3, bucket, prefix if prefix.endswith("/") else prefix + "/")


def bronze_summary(
    target: TargetContext, s3: Any, bucket: str, database: str, names: DatasetNames
) -> dict[str, Any]:
    glue = target.aws.client("glue")
    locations = catalog.partition_locations(glue, database, names.table)
    latest = max(locations) if locations else None
    rows = 0
    if latest is not None:
        rows = sum(
            storage.row_count(s3, bucket, k) for k in _keys_at(s3, bucket, locations[latest])
        )
    return {"partitions": len(locations), "latest_partition": latest, "latest_rows": rows}


def silver_summary(
    target: TargetContext, s3: Any, bucket: str, database: str, names: DatasetNames
) -> dict[str, int]:
    glue = target.aws.client("glue")
    rows = current = 0
    for location in catalog.partition_locations(glue, database, names.table).values():
        for key in _keys_at(s3, bucket, location):
            parquet = storage.open_parquet(s3, bucket, key)
            rows += parquet.metadata.num_rows
            flags = parquet.read(columns=[IS_CURRENT]).column(IS_CURRENT)
            current += int(pc.sum(flags.cast("int64")).as_py() or 0)
    return {"rows": rows, "current_rows": current}


def dataset_status(
    target: TargetContext, project: Project, dataset: str, *, deployed: bool | None = None
) -> dict[str, Any]:
    """Every layer of one dataset. `deployed`: already known (a run just used the stack),
    or None to look the stack up."""
    warehouse = project.warehouse
    names = warehouse.names.dataset(dataset)
    bucket = warehouse.names.bucket(target.account_id)
    s3 = target.aws.client("s3")
    if deployed is None:
        deployed = is_deployed(target, names)
    if objects.bucket_state(s3, bucket) != "exists":  # a bucket not ours holds no run of ours
        return _empty(dataset, deployed)
    records = manifest.list_runs(s3, bucket, names)
    latest = last_run(records)
    silver = silver_summary(target, s3, bucket, warehouse.database("silver"), names)
    return {
        "dataset": dataset,
        "deployed": deployed,
        "last_run": None
        if latest is None
        else {k: latest.get(k) for k in ("run_id", "status", "started_at", "finished_at", "error")},
        "last_change_run": last_change_summary(records),
        "raw": raw_summary(s3, bucket, names, records),
        "bronze": bronze_summary(target, s3, bucket, warehouse.database("bronze"), names),
        "silver": {**silver, "last_changes": changes_of(latest)},
    }


def _empty(dataset: str, deployed: bool) -> dict[str, Any]:
    return {
        "dataset": dataset,
        "deployed": deployed,
        "last_run": None,
        "last_change_run": None,
        "raw": {"runs": 0, "latest_run_id": None},
        "bronze": {"partitions": 0, "latest_partition": None, "latest_rows": 0},
        "silver": {"rows": 0, "current_rows": 0, "last_changes": dict.fromkeys(CHANGE_TYPES, 0)},
    }


def collect_status(
    target: TargetContext, project: Project, datasets: list[str], *, orphans: bool = False
) -> dict[str, Any]:
    """`orphans`: also list managed stacks whose dataset folder is gone (all datasets)."""
    document: dict[str, Any] = {
        "target": target.name,
        "datasets": [dataset_status(target, project, name) for name in datasets],
    }
    if orphans:
        from ppdw.deploy.service import ControlPlane

        found = ControlPlane(project, target).orphans()
        document["orphans"] = [orphan.to_json() for orphan in found]
    return document
