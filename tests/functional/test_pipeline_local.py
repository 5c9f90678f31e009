"""Three runs of nsde and of rxnorm end to end with the local runner against moto."""

from __future__ import annotations

from collections import Counter

import pyarrow as pa
import pyarrow.compute as pc
import pytest

from ppdw.config.loader import Project
from ppdw.errors import PpdwError, UsageError
from ppdw.runs.status import collect_status
from ppdw.targets import TargetContext
from tests.functional import pipeline_support as sup

pytestmark = pytest.mark.usefixtures("moto_aws")


@pytest.mark.parametrize("dataset", ["nsde", "rxnorm"])
def test_three_runs_build_the_scd2_history(
    dataset: str, loaded: Project, target: TargetContext
) -> None:
    snapshots = [sup.read_snapshot(loaded, dataset, i) for i in range(3)]
    expected = sup.expected_changes(snapshots)
    s3, glue = target.aws.client("s3"), target.aws.client("glue")

    records = [sup.run(target, loaded, dataset, i) for i in range(3)]

    run_ids = [r["run_id"] for r in records]
    for record, want in zip(records, expected, strict=True):
        assert record["status"] == "succeeded"
        assert {s: record["steps"][s]["status"] for s in ("fetch", "bronze", "silver")} == {
            "fetch": "fetched",
            "bronze": "succeeded",
            "silver": "succeeded",
        }
        changes = record["steps"]["silver"]["stats"]["changes"]
        assert {k: changes[k] for k in ("INSERT", "UPDATE", "DELETE")} == want
    assert any(e["UPDATE"] for e in expected[1:])
    assert any(e["DELETE"] for e in expected[1:])

    # Bronze: one deterministic file per run partition, every data row, text kept as text.
    bronze_parts = sup.partitions(glue, "pp_dw_bronze", dataset)
    assert sorted(bronze_parts) == [
        sup.run_time(t).strftime("%Y-%m-%d-%H%M%S") for t in sup.RUN_TIMES[dataset]
    ]
    for (value, location), snap, run_id in zip(
        sorted(bronze_parts.items()), snapshots, run_ids, strict=True
    ):
        prefix = f"bronze/bronze_{dataset}/partition_datetime={value}/"
        assert location == f"s3://{sup.BUCKET}/{prefix}"
        assert sup.keys_under(s3, prefix) == [f"{prefix}part-00000.parquet"]
        table = sup.read_s3_parquet(s3, f"{prefix}part-00000.parquet")
        assert table.num_rows == snap.rows
        assert table.schema.field("meta_ingest_timestamp").type == pa.timestamp("ms", tz="UTC")
        assert set(table.column("meta_run_id").to_pylist()) == {run_id}
        key = loaded.dataset(dataset).business_key[0]
        assert table.schema.field(key).type == pa.string()

    # Silver: the history readers see through the Glue partitions.
    silver = sup.read_silver(target, dataset)
    key = loaded.dataset(dataset).business_key[0]
    per_run = Counter(
        zip(
            silver.column("meta_run_id").to_pylist(),
            silver.column("change_type").to_pylist(),
            strict=True,
        )
    )
    for run_id, want in zip(run_ids, expected, strict=True):
        assert {k: per_run.get((run_id, k), 0) for k in want} == want
    current = silver.filter(pc.equal(silver.column("is_current"), True))
    assert sorted(current.column(key).to_pylist()) == sorted(snapshots[-1].records)
    assert silver.num_rows == sum(sum(e.values()) for e in expected)
    months = {sup.run_time(t).strftime("%Y-%m") for t in sup.RUN_TIMES[dataset]}
    assert set(sup.partitions(glue, "pp_dw_silver", dataset)) == months
    for location in sup.partitions(glue, "pp_dw_silver", dataset).values():
        # a version folder named after the run that wrote it, swapped in by the catalog
        assert location.rstrip("/").rsplit("/", 1)[1] in run_ids
    for ym in months:  # no stale version folder left behind
        folders = {
            k.split("/")[3]
            for k in sup.keys_under(s3, f"silver/silver_{dataset}/effective_year_month={ym}/")
        }
        assert len(folders) == 1
    table = glue.get_table(DatabaseName="pp_dw_silver", Name=dataset)["Table"]
    assert table["PartitionKeys"] == [{"Name": "effective_year_month", "Type": "string"}]
    assert "effective_year_month" not in [c["Name"] for c in table["StorageDescriptor"]["Columns"]]

    # Status, computed from the catalog and the run records.
    document = collect_status(target, loaded, [dataset])
    item = document["datasets"][0]
    assert item["last_run"]["run_id"] == run_ids[-1]
    assert item["last_run"]["status"] == "succeeded"
    assert item["raw"] == {"runs": 3, "latest_run_id": run_ids[-1]}
    assert item["bronze"]["partitions"] == 3
    assert item["bronze"]["latest_rows"] == snapshots[-1].rows
    assert item["silver"]["rows"] == silver.num_rows
    assert item["silver"]["current_rows"] == len(snapshots[-1].records)
    assert item["silver"]["last_changes"] == expected[-1]
    assert item["deployed"] is False  # only the core exists in this test


def test_rerun_of_bronze_replaces_its_file(
    loaded: Project, target: TargetContext, monkeypatch: pytest.MonkeyPatch
) -> None:
    def broken(*_: object) -> None:
        raise PpdwError("silver broke")

    monkeypatch.setattr("ppdw.runtime.layers.read_bronze_partition", broken)
    with pytest.raises(PpdwError, match="silver broke"):
        sup.run(target, loaded, "nsde", 0)
    monkeypatch.undo()
    s3 = target.aws.client("s3")
    prefix = "bronze/bronze_nsde/partition_datetime=2026-11-01-060000/"
    before = sup.read_s3_parquet(s3, f"{prefix}part-00000.parquet")

    again = sup.run(target, loaded, "nsde", 0, from_step="bronze")

    assert again["status"] == "succeeded"
    assert sup.keys_under(s3, prefix) == [f"{prefix}part-00000.parquet"]
    assert sup.read_s3_parquet(s3, f"{prefix}part-00000.parquet").equals(before)
    silver = sup.read_silver(target, "nsde")
    assert silver.num_rows == len(sup.read_snapshot(loaded, "nsde", 0).records)


@pytest.mark.parametrize("from_step", ["raw", "bronze", "silver"])
def test_running_an_applied_run_again_writes_nothing(
    loaded: Project, target: TargetContext, from_step: str
) -> None:
    """data.md rule 6: the run's record, the last-success pointer and every layer's
    objects stay byte for byte as they were; the runner says it was applied already."""
    s3 = target.aws.client("s3")
    first = sup.run(target, loaded, "nsde", 0)
    sup.run(target, loaded, "nsde", 1)

    def everything() -> dict[str, bytes]:
        return {
            k: s3.get_object(Bucket=sup.BUCKET, Key=k)["Body"].read()
            for k in sup.keys_under(s3, "")
        }

    before = everything()
    if from_step == "raw":
        # raw is immutable: a run id fetches once, so the fetch is refused
        with pytest.raises(UsageError, match="already fetched its source"):
            sup.run(target, loaded, "nsde", 0, from_step=from_step)
    else:
        again = sup.run(target, loaded, "nsde", 0, from_step=from_step)
        assert again["already_applied"] is True
        assert again["run_id"] == first["run_id"]
    assert everything() == before


def test_unchanged_source_stops_after_raw(loaded: Project, target: TargetContext) -> None:
    sup.run(target, loaded, "nsde", 0)
    later = sup.run_time("2026-11-01T07:00:00")
    record = sup.run(target, loaded, "nsde", 0, run_id="nsde-again", run_time=later)
    assert record["status"] == "unchanged"
    assert "bronze" not in record["steps"]
    assert len(sup.partitions(target.aws.client("glue"), "pp_dw_bronze", "nsde")) == 1


def test_folders_written_in_parts_read_as_one(
    loaded: Project, target: TargetContext, monkeypatch: pytest.MonkeyPatch
) -> None:
    """Large tables are split into parts (storage.replace_folder): every reader and the next
    runs take all parts of a folder, not only part-00000."""
    from ppdw.read.tables import read_table, registered_table
    from ppdw.runtime import storage

    monkeypatch.setattr(storage, "PART_MIN_ROWS", 2)
    snapshots = [sup.read_snapshot(loaded, "nsde", i) for i in range(3)]
    expected = sup.expected_changes(snapshots)
    s3, glue = target.aws.client("s3"), target.aws.client("glue")

    records = [sup.run(target, loaded, "nsde", i) for i in range(3)]

    for record, want in zip(records, expected, strict=True):
        changes = record["steps"]["silver"]["stats"]["changes"]
        assert {k: changes[k] for k in ("INSERT", "UPDATE", "DELETE")} == want
    for (value, _), snap in zip(
        sorted(sup.partitions(glue, "pp_dw_bronze", "nsde").items()), snapshots, strict=True
    ):
        keys = sup.keys_under(s3, f"bronze/bronze_nsde/partition_datetime={value}/")
        assert len(keys) > 1  # the split happened
        assert sum(sup.read_s3_parquet(s3, key).num_rows for key in keys) == snap.rows
    silver = sup.read_silver(target, "nsde")
    current = silver.filter(pc.equal(silver.column("is_current"), True))
    assert current.num_rows == len(snapshots[-1].records)
    table = registered_table(glue, "pp_dw_silver", "nsde", "silver")
    assert table is not None
    assert read_table(s3, sup.BUCKET, table).num_rows == silver.num_rows
