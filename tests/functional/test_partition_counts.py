"""The jobs record each partition's row counts on it; `status` reads them, and counts the
files of a partition that holds none (or holds them for another folder)."""

from __future__ import annotations

from typing import Any

import pyarrow as pa
import pyarrow.compute as pc
import pytest

from ppdw.config.loader import Project
from ppdw.contracts import partition_counts
from ppdw.contracts.partition_counts import Counts
from ppdw.runs.status import collect_status
from ppdw.runtime import storage
from ppdw.targets import TargetContext
from tests.functional import pipeline_support as sup

pytestmark = pytest.mark.usefixtures("moto_aws")


#: Its three sample runs fall in three months: three silver partitions.
DATASET = "rxnorm"


def glue_partitions(glue: Any, database: str) -> list[dict[str, Any]]:
    found: list[dict[str, Any]] = glue.get_partitions(DatabaseName=database, TableName=DATASET)[
        "Partitions"
    ]
    return found


def counted_from_files(s3: Any, part: dict[str, Any]) -> Counts:
    prefix = storage.key_of(part["StorageDescriptor"]["Location"], sup.BUCKET)
    tables = [sup.read_s3_parquet(s3, key) for key in storage.parquet_keys(s3, sup.BUCKET, prefix)]
    rows = sum(t.num_rows for t in tables)
    if "is_current" not in tables[0].schema.names:
        return Counts(rows)
    current = sum(int(pc.sum(t.column("is_current").cast("int64")).as_py() or 0) for t in tables)
    return Counts(rows, current)


def set_parameters(glue: Any, database: str, part: dict[str, Any], params: dict[str, str]) -> None:
    glue.update_partition(
        DatabaseName=database,
        TableName=DATASET,
        PartitionValueList=part["Values"],
        PartitionInput={
            "Values": part["Values"],
            "StorageDescriptor": part["StorageDescriptor"],
            "Parameters": params,
        },
    )


@pytest.fixture
def three_runs(loaded: Project, target: TargetContext) -> TargetContext:
    for i in range(3):
        assert sup.run(target, loaded, DATASET, i)["status"] == "succeeded"
    return target


def test_every_partition_records_the_counts_of_its_folder(three_runs: TargetContext) -> None:
    s3, glue = three_runs.aws.client("s3"), three_runs.aws.client("glue")
    for database in ("pp_dw_bronze", "pp_dw_silver"):
        parts = glue_partitions(glue, database)
        assert len(parts) == 3
        for part in parts:
            assert partition_counts.read(part) == counted_from_files(s3, part), part["Values"]


def test_status_takes_the_recorded_counts_without_reading_parquet(
    loaded: Project, three_runs: TargetContext, monkeypatch: pytest.MonkeyPatch
) -> None:
    s3, glue = three_runs.aws.client("s3"), three_runs.aws.client("glue")
    silver = [counted_from_files(s3, p) for p in glue_partitions(glue, "pp_dw_silver")]
    latest_bronze = max(glue_partitions(glue, "pp_dw_bronze"), key=lambda p: p["Values"])

    def no_parquet(*_: object) -> None:
        raise AssertionError("status read a parquet file")

    monkeypatch.setattr(storage, "open_parquet", no_parquet)
    item = collect_status(three_runs, loaded, [DATASET])["datasets"][0]
    assert item["silver"]["rows"] == sum(c.rows for c in silver)
    assert item["silver"]["current_rows"] == sum(c.current_rows or 0 for c in silver)
    assert item["bronze"]["latest_rows"] == counted_from_files(s3, latest_bronze).rows


def test_status_counts_the_files_of_partitions_without_counts_for_their_folder(
    loaded: Project, three_runs: TargetContext
) -> None:
    """A partition registered without counts (an earlier ppdw, a crawler) and one whose
    counts were taken from another folder (repointed by hand) are counted from files."""
    s3, glue = three_runs.aws.client("s3"), three_runs.aws.client("glue")
    parts = glue_partitions(glue, "pp_dw_silver")
    truth = [counted_from_files(s3, p) for p in parts]
    stale = dict(parts[1]["Parameters"])
    stale[partition_counts.ROWS], stale[partition_counts.CURRENT_ROWS] = "999999", "999999"
    stale[partition_counts.COUNTED_LOCATION] = "s3://elsewhere/"
    set_parameters(glue, "pp_dw_silver", parts[0], {"classification": "parquet"})
    set_parameters(glue, "pp_dw_silver", parts[1], stale)
    latest = max(glue_partitions(glue, "pp_dw_bronze"), key=lambda p: p["Values"])
    set_parameters(glue, "pp_dw_bronze", latest, {"classification": "parquet"})

    item = collect_status(three_runs, loaded, [DATASET])["datasets"][0]

    assert item["silver"]["rows"] == sum(c.rows for c in truth)
    assert item["silver"]["current_rows"] == sum(c.current_rows or 0 for c in truth)
    assert item["bronze"]["latest_rows"] == counted_from_files(s3, latest).rows


def test_silver_files_hold_plain_values_whatever_the_merge_held(
    three_runs: TargetContext,
) -> None:
    """The merge holds run ids, change types and months dictionary-encoded (layers.ENCODED);
    every file a run writes holds them as the plain strings of the table's schema."""
    s3, glue = three_runs.aws.client("s3"), three_runs.aws.client("glue")
    table = glue.get_table(DatabaseName="pp_dw_silver", Name=DATASET)["Table"]
    declared = {c["Name"]: c["Type"] for c in table["StorageDescriptor"]["Columns"]}
    for part in glue_partitions(glue, "pp_dw_silver"):
        prefix = storage.key_of(part["StorageDescriptor"]["Location"], sup.BUCKET)
        for key in storage.parquet_keys(s3, sup.BUCKET, prefix):
            schema = sup.parquet_schema(s3, key)
            assert not [f.name for f in schema if pa.types.is_dictionary(f.type)], key
            for name in ("meta_run_id", "change_type"):
                assert schema.field(name).type == pa.string(), (key, name)
                assert declared[name] == "string"
