"""Glue Data Catalog calls of the jobs: tables, partitions and crawls (data plane).

Rule: module-level functions taking the Glue client, for code that knows neither account
nor region (the Glue jobs); the control plane's `ppdw.aws.glue.Glue` needs both. Each
function is one call (or one paginated listing): the policy (what to create, batching,
waiting for crawlers) stays with the caller, `ppdw.runtime.catalog`. The domain answers
come back as values (a missing table is None, a crawler already running is "running");
any other failure is an `AwsError` naming the action. A batch call's per-entry errors are
returned as AWS gives them: the caller decides which of them matter.
"""

from __future__ import annotations

from collections.abc import Iterator, Sequence
from typing import Any, Literal

from botocore.exceptions import ClientError

from ppdw.aws._common import aws_action, is_code

#: What asking a crawler to start did.
CrawlerStart = Literal["started", "running", "missing"]

_NOT_FOUND = "EntityNotFoundException"


def get_table(glue: Any, database: str, name: str) -> dict[str, Any] | None:
    """The table's description; None when the table (or its database) does not exist."""
    try:
        return dict(glue.get_table(DatabaseName=database, Name=name)["Table"])
    except ClientError as exc:
        if is_code(exc, _NOT_FOUND):
            return None
        with aws_action(f"get table {database}.{name}"):
            raise


def table_names(glue: Any, database: str) -> set[str]:
    """The names of every table of the database (all pages)."""
    names: set[str] = set()
    with aws_action(f"list tables of {database}"):
        for page in glue.get_paginator("get_tables").paginate(DatabaseName=database):
            names.update(t["Name"] for t in page.get("TableList", []))
    return names


def create_table(glue: Any, database: str, table_input: dict[str, Any]) -> bool:
    """Create the table; False when a table of that name exists already."""
    try:
        glue.create_table(DatabaseName=database, TableInput=table_input)
    except ClientError as exc:
        if is_code(exc, "AlreadyExistsException"):
            return False
        with aws_action(f"create table {database}.{table_input['Name']}"):
            raise
    return True


def update_table(glue: Any, database: str, table_input: dict[str, Any]) -> None:
    with aws_action(f"update table {database}.{table_input['Name']}"):
        glue.update_table(DatabaseName=database, TableInput=table_input)


def delete_table(glue: Any, database: str, name: str) -> None:
    with aws_action(f"delete table {database}.{name}"):
        glue.delete_table(DatabaseName=database, Name=name)


# ----------------------------------------------------------------------------- crawlers


def start_crawler(glue: Any, crawler: str) -> CrawlerStart:
    """Start a crawl: "started", "running" (a crawl is under way already) or "missing"."""
    try:
        glue.start_crawler(Name=crawler)
    except ClientError as exc:
        if is_code(exc, _NOT_FOUND):
            return "missing"
        if is_code(exc, "CrawlerRunningException"):
            return "running"
        with aws_action(f"start crawler {crawler}"):
            raise
    return "started"


def crawls(glue: Any, crawler: str) -> list[dict[str, Any]]:
    """The crawler's crawls as ListCrawls gives them (state and start time of each)."""
    with aws_action(f"list crawls of crawler {crawler}"):
        return list(glue.list_crawls(CrawlerName=crawler).get("Crawls", []))


def crawler_state(glue: Any, crawler: str) -> str | None:
    """The crawler's own state (READY, RUNNING, STOPPING)."""
    with aws_action(f"get crawler {crawler}"):
        state = glue.get_crawler(Name=crawler)["Crawler"].get("State")
    return str(state) if state is not None else None


# --------------------------------------------------------------------------- partitions


def partitions(glue: Any, database: str, name: str) -> Iterator[dict[str, Any]]:
    """Every partition of the table (all pages)."""
    with aws_action(f"list partitions of {database}.{name}"):
        paginator = glue.get_paginator("get_partitions")
        for page in paginator.paginate(DatabaseName=database, TableName=name):
            yield from page.get("Partitions", [])


def batch_create_partitions(
    glue: Any, database: str, name: str, inputs: Sequence[dict[str, Any]]
) -> list[dict[str, Any]]:
    """Create partitions (at most 100); returns the per-partition errors."""
    with aws_action(f"create partitions of {database}.{name}"):
        response = glue.batch_create_partition(
            DatabaseName=database, TableName=name, PartitionInputList=list(inputs)
        )
    return list(response.get("Errors", []))


def batch_get_partitions(
    glue: Any, database: str, name: str, values: Sequence[str]
) -> list[dict[str, Any]]:
    """The partitions of single-key `values` (at most 1000) that exist."""
    with aws_action(f"get partitions of {database}.{name}"):
        response = glue.batch_get_partition(
            DatabaseName=database,
            TableName=name,
            PartitionsToGet=[{"Values": [v]} for v in values],
        )
    return list(response.get("Partitions", []))


def batch_update_partitions(
    glue: Any, database: str, name: str, entries: Sequence[dict[str, Any]]
) -> list[dict[str, Any]]:
    """Update partitions (at most 100 entries); returns the per-partition errors."""
    with aws_action(f"update partitions of {database}.{name}"):
        response = glue.batch_update_partition(
            DatabaseName=database, TableName=name, Entries=list(entries)
        )
    return list(response.get("Errors", []))


def batch_delete_partitions(
    glue: Any, database: str, name: str, values: Sequence[str]
) -> list[dict[str, Any]]:
    """Delete the partitions of single-key `values` (at most 25); returns the
    per-partition errors."""
    with aws_action(f"delete partitions of {database}.{name}"):
        response = glue.batch_delete_partition(
            DatabaseName=database,
            TableName=name,
            PartitionsToDelete=[{"Values": [v]} for v in values],
        )
    return list(response.get("Errors", []))
