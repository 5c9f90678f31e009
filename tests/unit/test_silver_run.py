"""`apply_run`: the one chain of silver's rule groups, as every caller runs it."""

from __future__ import annotations

from datetime import UTC, datetime

import pyarrow as pa
import pyarrow.compute as pc
import pytest

from ppdw.errors import DataQualityError
from ppdw.runtime.silver import (
    apply_run,
    apply_to_partition,
    merge,
    partitions_to_rewrite,
    prepare_snapshot,
)
from tests.unit._silver_sim import bronze_table, make_dataset

#: The merge pairs rows by DuckDB on large tables and by Arrow in Glue: both paths here.
pytestmark = pytest.mark.usefixtures("duck_or_arrow")

T1 = datetime(2020, 1, 15, 6, 0, 0, tzinfo=UTC)
T2 = datetime(2020, 2, 15, 6, 0, 0, tzinfo=UTC)
A1 = {"k": "a", "name": "Alpha", "size": 1}
B1 = {"k": "b", "name": "Beta", "size": 2}
B2 = {"k": "b", "name": "Beta", "size": 20}
BLANK = {"k": " ", "name": "x", "size": 9}


def test_apply_run_is_the_chain_of_the_rule_groups() -> None:
    dataset = make_dataset()
    first = apply_run(None, bronze_table([A1, B1]), dataset, T1, run_id="r1")
    partitions = dict(first.partitions(lambda ym: None))
    bronze = bronze_table([A1, B2, BLANK])
    current = partitions["2020-01"]
    run = apply_run(current, bronze, dataset, T2, run_id="r2")

    snapshot, _, prep = prepare_snapshot(bronze, dataset)
    result = merge(current, snapshot, dataset, run_id="r2", run_time=T2, base_stats=prep)
    months = partitions_to_rewrite(result, T2)
    assert run.targets == months == ["2020-01", "2020-02"]
    assert run.result.stats == result.stats
    assert run.stats["bronze_rows"] == 3
    assert run.stats["rejected"] == 1
    assert run.stats["updates"] == 1
    built = dict(run.partitions(partitions.get))
    for ym in months:
        assert built[ym].equals(apply_to_partition(partitions.get(ym), result, ym))


def test_rejects_are_handed_over_before_the_current_silver_is_read() -> None:
    seen: list[str] = []

    def current() -> pa.Table | None:
        seen.append("current")
        return None

    def rejected(rows: pa.Table) -> None:
        seen.append(f"rejected {rows.num_rows}")

    bronze = bronze_table([A1, BLANK])
    apply_run(current, bronze, make_dataset(), T1, run_id="r1", rejected=rejected)
    assert seen == ["rejected 1", "current"]


def test_a_run_that_changes_nothing_rewrites_no_partition() -> None:
    dataset = make_dataset()
    first = apply_run(None, bronze_table([A1]), dataset, T1, run_id="r1")
    current = dict(first.partitions(lambda ym: None))["2020-01"]
    again = apply_run(current, bronze_table([A1]), dataset, T2, run_id="r2")
    assert again.targets == []
    assert again.stats["unchanged"] == 1


C1 = {"k": "c", "name": "Gamma", "size": 3}
T1B = datetime(2020, 1, 20, 6, 0, 0, tzinfo=UTC)


def test_a_partition_keeps_its_rows_where_they_stand_and_appends_the_new_versions() -> None:
    dataset = make_dataset()
    first = apply_run(None, bronze_table([C1, A1, B1]), dataset, T1, run_id="r1")
    before = dict(first.partitions(lambda ym: None))["2020-01"]
    run = apply_run(before, bronze_table([C1, A1, B2]), dataset, T1B, run_id="r2")
    after = dict(run.partitions({"2020-01": before}.get))["2020-01"]

    # The first run's rows, in its (source) order, then the new version of b.
    assert after.column("k").to_pylist() == ["c", "a", "b", "b"]
    # Only the closed version's end date and flag changed; every other value is as it was.
    unchanged = [c for c in before.column_names if c not in ("record_end_date", "is_current")]
    assert after.slice(0, 3).select(unchanged).equals(before.select(unchanged))
    assert after.column("is_current").to_pylist() == [True, True, False, True]
    ends = after.column("record_end_date").to_pylist()
    assert ends[:2] == before.column("record_end_date").to_pylist()[:2]
    assert ends[2] == T1B
    assert after.column("change_type").to_pylist()[3] == "UPDATE"


def test_a_closed_version_missing_from_its_partition_is_refused() -> None:
    dataset = make_dataset()
    first = apply_run(None, bronze_table([A1, B1]), dataset, T1, run_id="r1")
    before = dict(first.partitions(lambda ym: None))["2020-01"]
    run = apply_run(before, bronze_table([A1, B2]), dataset, T1B, run_id="r2")
    # The partition file no longer holds b's current version (edited, or silver moved on).
    without_b = before.filter(pc.equal(before.column("k"), "a"))
    with pytest.raises(DataQualityError, match="nothing was written"):
        dict(run.partitions({"2020-01": without_b}.get))
    # ... and one holding it twice is refused as well.
    twice = pa.concat_tables([before, before.filter(pc.equal(before.column("k"), "b"))])
    with pytest.raises(DataQualityError, match="nothing was written"):
        dict(run.partitions({"2020-01": twice}.get))


def _encoded(table: pa.Table, names: tuple[str, ...]) -> pa.Table:
    """`table` with the `names` columns dictionary-encoded, as the silver job reads them."""
    for name in names:
        at = table.schema.get_field_index(name)
        table = table.set_column(at, name, pc.dictionary_encode(table.column(name)))
    return table


def test_silver_read_with_its_few_valued_columns_encoded_applies_the_same_run() -> None:
    """The job reads run ids, change types and the month dictionary-encoded (layers.ENCODED):
    the run is the same, and the merge keeps them encoded instead of copying them out."""
    from ppdw.runtime.storage import decoded

    dataset = make_dataset()
    first = apply_run(None, bronze_table([A1, B1]), dataset, T1, run_id="r1")
    current = dict(first.partitions(lambda ym: None))["2020-01"]
    encoded = _encoded(current, ("meta_run_id", "change_type", "effective_year_month"))
    bronze = bronze_table([A1, B2])

    plain_run = apply_run(current, bronze, dataset, T2, run_id="r2")
    encoded_run = apply_run(encoded, bronze, dataset, T2, run_id="r2")

    assert encoded_run.targets == plain_run.targets == ["2020-01", "2020-02"]
    assert encoded_run.stats == plain_run.stats
    assert pa.types.is_dictionary(encoded_run.result.closed.schema.field("meta_run_id").type)
    plain = dict(plain_run.partitions({"2020-01": current}.get))
    for ym, content in encoded_run.partitions({"2020-01": encoded}.get):
        assert decoded(content).equals(plain[ym]), ym
