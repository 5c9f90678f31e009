"""`apply_run`: the one chain of silver's rule groups, as every caller runs it."""

from __future__ import annotations

from datetime import UTC, datetime

import pyarrow as pa

from ppdw.runtime.silver import (
    apply_run,
    apply_to_partition,
    merge,
    partitions_to_rewrite,
    prepare_snapshot,
)
from tests.unit._silver_sim import bronze_table, make_dataset

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
