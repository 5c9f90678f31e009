"""SCD2 rules 1-6 of data.md, and the faults of the first implementation."""

from __future__ import annotations

from datetime import UTC, datetime

import pyarrow as pa
import pytest

from ppdw.errors import DataQualityError
from ppdw.runtime.schema import OPEN_END, SILVER_META, silver_schema
from ppdw.runtime.silver import as_of, merge, prepare_snapshot
from tests.unit._silver_sim import Silver, bronze_table, make_dataset

#: The merge pairs rows by DuckDB on large tables and by Arrow in Glue: both paths here.
pytestmark = pytest.mark.usefixtures("duck_or_arrow")

T1 = datetime(2020, 1, 15, 6, 0, 0, tzinfo=UTC)
T2 = datetime(2020, 2, 15, 6, 0, 0, tzinfo=UTC)
T3 = datetime(2020, 3, 15, 6, 0, 0, tzinfo=UTC)
T4 = datetime(2020, 4, 15, 6, 0, 0, tzinfo=UTC)

A1 = {"k": "a", "name": "Alpha", "size": 1}
B1 = {"k": "b", "name": "Beta", "size": 2}
C1 = {"k": "c", "name": "Gamma", "size": 3}
B2 = {"k": "b", "name": "Beta", "size": 20}


def loaded(*rows: dict[str, object], **dataset: object) -> Silver:
    silver = Silver(make_dataset(**dataset))
    silver.run(bronze_table(list(rows)), T1)
    return silver


# ---------------------------------------------------------------------- rule 1: rejects


def test_rows_with_null_or_empty_key_are_rejected_and_counted() -> None:
    blank = [{"k": None, "name": "x", "size": 1}, {"k": "  ", "name": "y", "size": 2}]
    bronze = bronze_table([A1, *blank, B1, C1])
    snapshot, rejected, stats = prepare_snapshot(bronze, make_dataset())
    assert snapshot.column("k").to_pylist() == ["a", "b", "c"]
    assert rejected.column("name").to_pylist() == ["x", "y"]
    assert (stats.rows_read, stats.rejected) == (5, 2)


def test_reject_share_above_threshold_fails_the_run() -> None:
    bronze = bronze_table([A1, B1, {"k": None, "name": "x", "size": 1}])
    dataset = make_dataset(quality={"max_reject_ratio": 0.2})
    with pytest.raises(DataQualityError) as info:
        prepare_snapshot(bronze, dataset)
    assert info.value.rule == "null_business_key"
    assert "1 of 3" in str(info.value)


# ------------------------------------------------------------------- rule 2: duplicates


def test_identical_duplicates_collapse_to_one_row() -> None:
    snapshot, _, stats = prepare_snapshot(bronze_table([A1, B1, A1]), make_dataset())
    assert snapshot.sort_by("k").select(["k", "name", "size"]).to_pylist() == [A1, B1]
    assert stats.duplicates == 1


def test_keep_last_takes_the_last_row_in_source_order() -> None:
    first = {"k": "a", "name": "first", "size": 1}
    last = {"k": "a", "name": "last", "size": 2}
    snapshot, _, stats = prepare_snapshot(bronze_table([first, B1, last]), make_dataset())
    assert snapshot.sort_by("k").select(["k", "name", "size"]).to_pylist() == [last, B1]
    assert stats.duplicates == 1


def test_fail_policy_names_a_conflicting_key() -> None:
    dataset = make_dataset(silver={"on_duplicate_key": "fail"})
    bronze = bronze_table([A1, B1, {"k": "b", "name": "other", "size": 2}])
    with pytest.raises(DataQualityError) as info:
        prepare_snapshot(bronze, dataset)
    assert info.value.rule == "duplicate_key"
    assert "k='b'" in str(info.value)


def test_fail_policy_accepts_identical_copies() -> None:
    dataset = make_dataset(silver={"on_duplicate_key": "fail"})
    snapshot, _, stats = prepare_snapshot(bronze_table([A1, A1, B1]), dataset)
    assert snapshot.num_rows == 2
    assert stats.duplicates == 1


# -------------------------------------------------------------- rule 3: per-key outcome


def test_first_load_inserts_every_key_with_dates_from_the_run_time() -> None:
    silver = loaded(A1, B1)
    rows = silver.rows()
    assert [r["change_type"] for r in rows] == ["INSERT", "INSERT"]
    assert all(r["record_effective_date"] == T1 for r in rows)  # T, not the wall clock
    assert all(r["record_end_date"] == OPEN_END for r in rows)
    assert all(r["is_current"] for r in rows)
    assert all(r["effective_year_month"] == "2020-01" for r in rows)
    assert all(len(r["record_hash"]) == 32 for r in rows)


def test_changed_key_closes_current_version_and_writes_an_update() -> None:
    silver = loaded(A1, B1)
    before = {r["k"]: r for r in silver.rows()}
    result = silver.run(bronze_table([A1, B2]), T2)
    assert (result.stats.inserts, result.stats.updates, result.stats.unchanged) == (0, 1, 1)
    b_versions = [r for r in silver.rows() if r["k"] == "b"]
    old, new = b_versions
    assert old == before["b"] | {"record_end_date": T2, "is_current": False}
    assert new["size"] == 20
    assert new["change_type"] == "UPDATE"
    assert (new["record_effective_date"], new["record_end_date"]) == (T2, OPEN_END)
    assert new["record_hash"] != old["record_hash"]


def test_unchanged_key_gets_nothing() -> None:
    silver = loaded(A1, B1)
    result = silver.run(bronze_table([A1, B1]), T2)
    assert result.new_versions.num_rows == 0
    assert result.closed.num_rows == 0
    assert result.stats.unchanged == 2
    assert silver.rewritten[-1] == []


def test_absent_key_gets_a_tombstone() -> None:
    silver = loaded(A1, B1, C1)
    result = silver.run(bronze_table([A1, B1]), T2)
    assert result.stats.deletes == 1
    closed, tombstone = [r for r in silver.rows() if r["k"] == "c"]
    assert (closed["record_end_date"], closed["is_current"]) == (T2, False)
    assert closed["change_type"] == "INSERT"
    assert tombstone["change_type"] == "DELETE"
    assert (tombstone["record_effective_date"], tombstone["record_end_date"]) == (T2, T2)
    assert tombstone["is_current"] is False
    assert (tombstone["name"], tombstone["size"]) == ("Gamma", 3)
    assert tombstone["record_hash"] == closed["record_hash"]


def test_ignore_policy_leaves_absent_keys_current() -> None:
    silver = loaded(A1, B1, C1, silver={"deletes": "ignore"})
    result = silver.run(bronze_table([A1]), T2)
    assert result.stats.deletes == 0
    assert result.closed.num_rows == 0
    assert sorted(r["k"] for r in silver.rows() if r["is_current"]) == ["a", "b", "c"]


def test_a_deleted_key_that_comes_back_is_an_insert() -> None:
    silver = loaded(A1, C1)
    silver.run(bronze_table([A1]), T2)
    result = silver.run(bronze_table([A1, C1]), T3)
    assert result.stats.inserts == 1
    assert [r["change_type"] for r in silver.rows() if r["k"] == "c"] == [
        "INSERT",
        "DELETE",
        "INSERT",
    ]


def test_meta_columns_do_not_make_a_change() -> None:
    silver = Silver(make_dataset())
    silver.run(bronze_table([A1], run_id="bronze-1"), T1)
    result = silver.run(bronze_table([A1], run_id="bronze-2"), T2)
    assert result.stats.unchanged == 1
    assert result.new_versions.num_rows == 0


def test_a_source_column_named_meta_something_is_tracked() -> None:
    silver = Silver(make_dataset())
    silver.run(bronze_table([{**A1, "meta_notes": "checked"}]), T1)
    result = silver.run(bronze_table([{**A1, "meta_notes": "rechecked"}]), T2)
    assert result.stats.updates == 1
    assert "meta_notes" in result.tracked
    assert [r["meta_notes"] for r in silver.rows() if r["is_current"]] == ["rechecked"]


def test_leading_zeros_of_a_text_key_survive_into_silver() -> None:
    silver = loaded({"k": "00409669510", "name": "AMIDATE", "size": 1})
    assert silver.rows("k") == [{"k": "00409669510"}]


# ---------------------------------------------------------------- rule 4: history kept


def test_versions_closed_earlier_are_never_changed_or_lost() -> None:
    silver = loaded(A1, B1, C1)
    silver.run(bronze_table([A1, B2, C1]), T2)
    after_t2 = silver.rows()
    closed_earlier = [r for r in after_t2 if not r["is_current"]]
    silver.run(bronze_table([A1, {"k": "b", "name": "Beta", "size": 200}]), T3)
    after_t3 = silver.rows()
    for row in closed_earlier:
        assert row in after_t3
    assert len(after_t3) == len(after_t2) + 2  # b UPDATE, c tombstone, nothing lost


def test_only_partitions_with_closed_versions_and_the_run_month_are_rewritten() -> None:
    silver = loaded(A1, B1)  # 2020-01
    silver.run(bronze_table([A1, B1, C1]), T2)  # c inserted in 2020-02
    untouched = silver.partitions["2020-01"]
    result = silver.run(bronze_table([A1, B1, {"k": "c", "name": "Gamma", "size": 30}]), T3)
    assert silver.rewritten[-1] == ["2020-02", "2020-03"]
    assert silver.partitions["2020-01"] is untouched
    assert result.closed.column("effective_year_month").to_pylist() == ["2020-02"]


# ------------------------------------------------------------------ rule 5: delete guard


def test_delete_guard_stops_a_run_that_would_delete_too_much() -> None:
    silver = loaded(A1, B1, C1, quality={"max_delete_ratio": 0.5})
    with pytest.raises(DataQualityError) as info:
        silver.run(bronze_table([A1]), T2)
    assert info.value.rule == "max_delete_ratio"
    assert "2 of 3" in str(info.value)
    assert silver.rewritten == [["2020-01"]]  # nothing written by the refused run


def test_force_overrides_the_delete_guard() -> None:
    silver = loaded(A1, B1, C1, quality={"max_delete_ratio": 0.5})
    result = silver.run(bronze_table([A1]), T2, force=True)
    assert result.stats.deletes == 2


def test_no_delete_guard_on_an_empty_silver() -> None:
    silver = Silver(make_dataset(quality={"max_delete_ratio": 0.0}))
    assert silver.run(bronze_table([A1]), T1).stats.inserts == 1


# ---------------------------------------------------------------- rule 6: order, replay


def test_a_run_not_later_than_the_last_one_is_refused() -> None:
    silver = loaded(A1)
    silver.run(bronze_table([B1]), T3, force=True)
    with pytest.raises(DataQualityError) as info:
        silver.run(bronze_table([A1]), T2)
    assert info.value.rule == "out_of_order"
    with pytest.raises(DataQualityError):
        silver.run(bronze_table([A1, B2]), T3)


def test_replaying_a_snapshot_at_a_later_time_changes_nothing() -> None:
    silver = loaded(A1, B1)
    silver.run(bronze_table([A1, B2, C1]), T2)
    before = silver.rows()
    result = silver.run(bronze_table([A1, B2, C1]), T3)
    assert result.new_versions.num_rows == 0
    assert silver.rows() == before


# ----------------------------------------------------------------------- schema changes


def test_a_new_column_is_added_and_null_values_keep_every_hash() -> None:
    silver = loaded(A1, B1)
    hashes = {r["k"]: r["record_hash"] for r in silver.rows()}
    rows = [A1 | {"color": None}, B1 | {"color": "red"}]
    result = silver.run(bronze_table(rows), T2)
    assert (result.stats.unchanged, result.stats.updates) == (1, 1)
    assert "color" in result.new_versions.column_names
    history = silver.rows()
    assert [r["color"] for r in history] == [None, None, "red"]  # a, b closed, b new
    a_now = next(r for r in history if r["k"] == "a")
    assert a_now["record_hash"] == hashes["a"]


def test_a_missing_column_fails_and_names_it() -> None:
    silver = loaded(A1, B1)
    with pytest.raises(DataQualityError) as info:
        silver.run(bronze_table([{"k": "a", "name": "Alpha"}]), T2)
    assert info.value.rule == "missing_column"
    assert "size" in str(info.value)


def test_an_allowed_dropped_column_is_null_from_that_run_on() -> None:
    silver = loaded(A1, B1, silver={"allow_dropped_columns": ["size"]})
    result = silver.run(bronze_table([{"k": "a", "name": "Alpha"}, {"k": "b", "name": "Beta"}]), T2)
    assert result.stats.updates == 2
    current = [r for r in silver.rows() if r["is_current"]]
    assert [r["size"] for r in current] == [None, None]
    assert "size" in result.new_versions.column_names


def test_a_type_change_fails() -> None:
    silver = loaded(A1)
    changed = bronze_table([A1]).set_column(2, "size", pa.array(["1"], pa.string()))
    with pytest.raises(DataQualityError) as info:
        silver.run(changed, T2)
    assert info.value.rule == "type_change"
    assert "size" in str(info.value)


def test_a_second_run_with_a_schema_problem_never_reloads_everything() -> None:
    # The first implementation caught the mismatch and re-inserted every key.
    silver = loaded(A1, B1)
    with pytest.raises(DataQualityError):
        silver.run(bronze_table([{"k": "a", "name": "Alpha"}]), T2)
    assert [r["change_type"] for r in silver.rows()] == ["INSERT", "INSERT"]


# -------------------------------------------------------------------------- schema, as_of


def test_silver_schema_is_keys_then_tracked_then_meta() -> None:
    bronze = bronze_table([A1])
    schema = silver_schema(bronze.schema, ["name"])
    assert schema.names == ["name", "k", "size", *SILVER_META]
    assert schema.field("record_effective_date").type == pa.timestamp("ms", tz="UTC")
    assert schema.field("is_current").type == pa.bool_()


def test_as_of_reconstructs_each_snapshot() -> None:
    silver = loaded(A1, B1, C1)
    silver.run(bronze_table([A1, B2]), T2)
    history = silver.history()
    at_t1 = as_of(history, T1).sort_by("k").select(["k", "name", "size"]).to_pylist()
    at_t2 = as_of(history, T2).sort_by("k").select(["k", "name", "size"]).to_pylist()
    assert at_t1 == [A1, B1, C1]
    assert at_t2 == [A1, B2]


def test_merge_accepts_a_table_without_columns_as_no_silver_yet() -> None:
    dataset = make_dataset()
    snapshot, _, _ = prepare_snapshot(bronze_table([A1]), dataset)
    result = merge(pa.table({}), snapshot, dataset, run_id="r1", run_time=T1)
    assert result.stats.inserts == 1
    assert result.new_versions.schema == silver_schema(snapshot.schema, ["k"])


def test_current_read_without_its_partition_column_gets_it_from_the_effective_date() -> None:
    silver = loaded(A1, B1)
    current = silver.current()
    assert current is not None
    current = current.drop_columns(["effective_year_month"])
    dataset = make_dataset()
    snapshot, _, _ = prepare_snapshot(bronze_table([A1, B2]), dataset)
    result = merge(current, snapshot, dataset, run_id="r2", run_time=T2)
    assert result.closed.column("effective_year_month").to_pylist() == ["2020-01"]
    assert result.new_versions.column("effective_year_month").to_pylist() == ["2020-02"]


@pytest.mark.parametrize("keys", [["k"], ["k", "name"]])
def test_merge_given_the_whole_history_equals_merge_given_the_current_versions(
    keys: list[str],
) -> None:
    # Closed versions and a tombstone in the table passed as "current" are ignored.
    silver = Silver(make_dataset(business_key=keys))
    silver.run(bronze_table([A1, B1, C1]), T1)
    silver.run(bronze_table([A1, B2]), T2)
    current, history = silver.current(), silver.history()
    assert current is not None
    assert history.num_rows > current.num_rows
    snapshot, _, _ = prepare_snapshot(bronze_table([B1, C1]), silver.dataset)
    results = [
        merge(table, snapshot, silver.dataset, run_id="r3", run_time=T3, force=True)
        for table in (current, history)
    ]
    assert results[1].new_versions.equals(results[0].new_versions)
    assert results[1].closed.equals(results[0].closed)
    assert results[1].stats == results[0].stats


def test_take_rows_in_parallel_equals_arrows_take(monkeypatch: pytest.MonkeyPatch) -> None:
    from ppdw.runtime.silver import result

    monkeypatch.setattr(result, "_PARALLEL_TAKE_ROWS", 0)
    table = pa.table({"k": [f"k{i}" for i in range(10)], "v": list(range(10)), "n": [None] * 10})
    rows = pa.array([1, 4, 5, 9], pa.uint64())
    assert result.take_rows(table, rows).equals(table.take(rows))
    assert result.take_rows(table, pa.array(range(10), pa.uint64())) is table
