"""Glue tables and partitions: exact parquet table, crawler fallback, batched partitions."""

from __future__ import annotations

from typing import Any

import boto3
import pyarrow as pa
import pytest
from botocore.stub import Stubber

from ppdw.errors import AwsError
from ppdw.runtime import catalog
from ppdw.runtime.catalog import Partition, TableSpec

pytestmark = pytest.mark.usefixtures("moto_aws")

DB = "pp_dw_bronze"
SCHEMA = pa.schema(
    [
        ("ndc11", pa.string()),
        ("marketing_start_date", pa.date32()),
        ("meta_ingest_timestamp", pa.timestamp("ms", tz="UTC")),
        ("price", pa.decimal128(38, 9)),
        ("is_current", pa.bool_()),
    ]
)


@pytest.fixture
def glue() -> Any:
    client = boto3.client("glue", region_name="us-east-1")
    client.create_database(DatabaseInput={"Name": DB})
    return client


def spec(schema: pa.Schema = SCHEMA) -> TableSpec:
    return TableSpec(DB, "nsde", "s3://b/bronze/bronze_nsde/", schema, "partition_datetime")


def test_schema_creation_makes_exact_parquet_table(glue: Any) -> None:
    how = catalog.ensure_table(glue, spec(), table_creation="schema")
    table = glue.get_table(DatabaseName=DB, Name="nsde")["Table"]
    assert how == "schema"
    assert table["TableType"] == "EXTERNAL_TABLE"
    assert table["Parameters"] == {"classification": "parquet", "EXTERNAL": "TRUE"}
    assert table["PartitionKeys"] == [{"Name": "partition_datetime", "Type": "string"}]
    sd = table["StorageDescriptor"]
    assert sd["InputFormat"] == catalog.PARQUET_INPUT
    assert sd["OutputFormat"] == catalog.PARQUET_OUTPUT
    assert sd["SerdeInfo"]["SerializationLibrary"] == catalog.PARQUET_SERDE
    assert sd["SerdeInfo"]["Parameters"] == {"serialization.format": "1"}
    assert [(c["Name"], c["Type"]) for c in sd["Columns"]] == [
        ("ndc11", "string"),
        ("marketing_start_date", "date"),
        ("meta_ingest_timestamp", "timestamp"),
        ("price", "decimal(38,9)"),
        ("is_current", "boolean"),
    ]


def test_missing_crawler_falls_back_to_schema(glue: Any) -> None:
    how = catalog.ensure_table(glue, spec(), crawler="pp-dw-bronze-nsde-crawler")
    assert how == "schema"
    assert glue.get_table(DatabaseName=DB, Name="nsde")


def test_crawler_that_names_table_after_folder_is_replaced(glue: Any) -> None:
    glue.create_crawler(
        Name="pp-dw-bronze-nsde-crawler",
        Role="arn:aws:iam::123456789012:role/pp-dw-glue-role",
        DatabaseName=DB,
        Targets={"S3Targets": [{"Path": "s3://b/bronze/bronze_nsde/"}]},
    )

    # A real crawler names the table after the folder (bronze_nsde), not `nsde`.
    start = glue.start_crawler

    def start_and_make_stray(**kwargs: Any) -> Any:
        glue.create_table(DatabaseName=DB, TableInput={"Name": "bronze_nsde"})
        return start(**kwargs)

    glue.start_crawler = start_and_make_stray
    how = catalog.ensure_table(
        glue,
        spec(),
        crawler="pp-dw-bronze-nsde-crawler",
        crawler_wait_seconds=5,
        sleep=lambda _: None,
    )
    names = {t["Name"] for t in glue.get_tables(DatabaseName=DB)["TableList"]}
    assert how == "schema"
    assert names == {"nsde"}
    assert glue.get_crawler(Name="pp-dw-bronze-nsde-crawler")["Crawler"]["State"] == "READY"


def test_crawler_wait_is_bounded(glue: Any) -> None:
    glue.create_crawler(
        Name="c",
        Role="arn:aws:iam::123456789012:role/r",
        DatabaseName=DB,
        Targets={"S3Targets": [{"Path": "s3://b/x/"}]},
    )
    now = [0.0]
    slept: list[float] = []

    def sleep(seconds: float) -> None:
        slept.append(seconds)
        now[0] += seconds

    glue.list_crawls = lambda **_: {"Crawls": [{"State": "RUNNING", "StartTime": 1}]}
    done = catalog.run_crawler(glue, "c", 10, sleep=sleep, clock=lambda: now[0])
    assert done is False
    assert sum(slept) == pytest.approx(10)
    assert slept[:3] == [1.0, 2.0, 4.0]


def test_new_columns_are_added(glue: Any) -> None:
    catalog.ensure_table(glue, spec(), table_creation="schema")
    wider = SCHEMA.append(pa.field("new_col", pa.string()))
    assert catalog.ensure_table(glue, spec(wider), table_creation="schema") == "extended"
    cols = glue.get_table(DatabaseName=DB, Name="nsde")["Table"]["StorageDescriptor"]["Columns"]
    assert [c["Name"] for c in cols][-1] == "new_col"
    assert catalog.ensure_table(glue, spec(wider)) == "exists"


def test_partitions_registered_in_batches_and_repointed(glue: Any) -> None:
    catalog.ensure_table(glue, spec(), table_creation="schema")
    calls: list[int] = []
    original = glue.batch_create_partition

    def counting(**kwargs: Any) -> Any:
        calls.append(len(kwargs["PartitionInputList"]))
        return original(**kwargs)

    glue.batch_create_partition = counting
    parts = [Partition(f"2026-01-01-{i:06d}", f"s3://b/p={i}/") for i in range(150)]
    assert catalog.register_partitions(glue, DB, "nsde", parts) == {
        "created": 150,
        "updated": 0,
        "unchanged": 0,
    }
    assert calls == [100, 50]
    moved = [Partition(parts[0].value, "s3://b/elsewhere/"), parts[1]]
    assert catalog.register_partitions(glue, DB, "nsde", moved) == {
        "created": 0,
        "updated": 1,
        "unchanged": 1,
    }
    locations = catalog.partition_locations(glue, DB, "nsde")
    assert len(locations) == 150
    assert locations[parts[0].value] == "s3://b/elsewhere/"


def test_other_batch_errors_raise_naming_the_partition(glue: Any) -> None:
    catalog.ensure_table(glue, spec(), table_creation="schema")
    glue.batch_create_partition = lambda **_: {
        "Errors": [
            {
                "PartitionValues": ["2026-x"],
                "ErrorDetail": {"ErrorCode": "InternalServiceException", "ErrorMessage": "boom"},
            }
        ]
    }
    with pytest.raises(AwsError, match=r"2026-x.*InternalServiceException"):
        catalog.register_partitions(glue, DB, "nsde", [Partition("2026-x", "s3://b/x/")])


def test_a_refused_catalog_call_names_the_action_and_the_permission_hint(glue: Any) -> None:
    # A job role without glue:GetTable: the run's error says which call was refused.
    with Stubber(glue) as stub:
        stub.add_client_error("get_table", "AccessDeniedException", "not authorized", 400)
        with pytest.raises(AwsError) as caught:
            catalog.ensure_table(glue, spec(), table_creation="schema")
    assert str(caught.value).startswith(f"get table {DB}.nsde: AccessDeniedException")
    assert caught.value.hint is not None
    assert "deployer-policy" in caught.value.hint


def test_a_partition_registered_again_gets_the_counts_of_its_folder(glue: Any) -> None:
    """A retry rewrites the same folder: the partition keeps its location, not old counts."""
    from ppdw.contracts import partition_counts
    from ppdw.contracts.partition_counts import Counts

    catalog.ensure_table(glue, spec(), table_creation="schema")
    first = Partition("2026-01-01-000000", "s3://b/p=1/", Counts(10))
    assert catalog.register_partitions(glue, DB, "nsde", [first])["created"] == 1
    again = Partition(first.value, first.location, Counts(12))
    assert catalog.register_partitions(glue, DB, "nsde", [again])["updated"] == 1
    assert catalog.register_partitions(glue, DB, "nsde", [again])["unchanged"] == 1
    assert (
        catalog.register_partitions(glue, DB, "nsde", [Partition(first.value, first.location)])[
            "unchanged"
        ]
        == 1
    )  # no counts given: the recorded ones stand (same folder)
    part = glue.get_partition(DatabaseName=DB, TableName="nsde", PartitionValues=[first.value])
    assert partition_counts.read(part["Partition"]) == Counts(12)
    assert part["Partition"]["Parameters"]["classification"] == "parquet"
