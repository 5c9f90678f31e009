"""`ppdw status`: what is deployed, what ran, and what each layer holds.

Rule: read-only. Facts come from the AWS resources (found by name), the Glue catalog (the
registered partitions are what readers see) and the run records. Row counts are the ones
the jobs recorded on each partition for the folder it points at
(`ppdw.contracts.partition_counts`); a partition without them is counted from its parquet
footers, and its current rows from the `is_current` column alone, never whole tables.
Arrow is loaded only then.
"""

from __future__ import annotations

from typing import Any

from ppdw.aws import catalog as calls
from ppdw.aws import objects
from ppdw.aws.glue import Glue
from ppdw.aws.lambda_ import Lambda
from ppdw.aws.stepfunctions import StepFunctions
from ppdw.config.loader import Project
from ppdw.contracts import partition_counts
from ppdw.contracts.partition_counts import Counts
from ppdw.contracts.run_record import RunRecord
from ppdw.naming import DatasetNames
from ppdw.read import runs
from ppdw.runtime import manifest
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


def registered(glue: Any, database: str, table: str) -> dict[str, dict[str, Any]]:
    """The table's partitions as Glue lists them, by value (empty without the table)."""
    if calls.get_table(glue, database, table) is None:
        return {}
    return {part["Values"][0]: part for part in calls.partitions(glue, database, table)}


def counted(s3: Any, bucket: str, partition: dict[str, Any], current: bool) -> Counts:
    """The partition's recorded counts, else counted from its parquet files (`current`:
    the `is_current` rows too)."""
    recorded = partition_counts.read(partition)
    if recorded is not None and (recorded.current_rows is not None or not current):
        return recorded
    from ppdw.runtime import storage  # Arrow, for partitions without recorded counts

    location = (partition.get("StorageDescriptor") or {}).get("Location", "")
    prefix = storage.key_of(location, bucket)
    keys = storage.parquet_keys(s3, bucket, prefix if prefix.endswith("/") else prefix + "/")
    if not current:
        return Counts(sum(storage.row_count(s3, bucket, key) for key in keys))
    rows = current_rows = 0
    for key in keys:
        rows_in, current_in = storage.current_count(s3, bucket, key)
        rows, current_rows = rows + rows_in, current_rows + current_in
    return Counts(rows, current_rows)


def bronze_summary(
    target: TargetContext, s3: Any, bucket: str, database: str, names: DatasetNames
) -> dict[str, Any]:
    partitions = registered(target.aws.client("glue"), database, names.table)
    latest = max(partitions) if partitions else None
    rows = 0
    if latest is not None:
        rows = counted(s3, bucket, partitions[latest], current=False).rows
    return {"partitions": len(partitions), "latest_partition": latest, "latest_rows": rows}


def silver_summary(
    target: TargetContext, s3: Any, bucket: str, database: str, names: DatasetNames
) -> dict[str, int]:
    rows = current = 0
    for partition in registered(target.aws.client("glue"), database, names.table).values():
        found = counted(s3, bucket, partition, current=True)
        rows, current = rows + found.rows, current + (found.current_rows or 0)
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
