"""Every byte a user could read from a local warehouse: bucket objects and the catalog."""

from __future__ import annotations

from pathlib import Path
from typing import Any

from ppdw.config.loader import load_project
from ppdw.targets import open_target


def snapshot(root: Path) -> dict[str, Any]:
    """`{"objects": {key: bytes}, "catalog": {...}}` of the local target's warehouse."""
    project = load_project(root)
    target = open_target(project.warehouse, "local", project.root)
    try:
        s3, glue = target.aws.client("s3"), target.aws.client("glue")
        bucket = project.warehouse.names.bucket(target.account_id)
        objects: dict[str, bytes] = {}
        for page in s3.get_paginator("list_objects_v2").paginate(Bucket=bucket):
            for item in page.get("Contents", []):
                key = item["Key"]
                objects[key] = s3.get_object(Bucket=bucket, Key=key)["Body"].read()
        catalog: dict[str, Any] = {}
        for database in glue.get_databases()["DatabaseList"]:
            name = database["Name"]
            for table in glue.get_tables(DatabaseName=name)["TableList"]:
                parts = glue.get_partitions(DatabaseName=name, TableName=table["Name"])
                catalog[f"{name}.{table['Name']}"] = {
                    "table": table,
                    "partitions": sorted(parts["Partitions"], key=lambda p: tuple(p["Values"])),
                }
        return {"objects": objects, "catalog": catalog}
    finally:
        target.close(False)
