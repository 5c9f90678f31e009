"""Property tests: random sequences of snapshots over a small key space.

After every run of any sequence (updates, nulls, deletes, re-inserts, identical duplicate
rows): one current version per live key, no overlapping validity per key, versions closed
earlier unchanged, replay of the same snapshot later is a no-op, and silver reconstructs
every snapshot exactly at its run time.
"""

from __future__ import annotations

from collections import defaultdict
from datetime import UTC, datetime, timedelta
from itertools import pairwise
from typing import Any

import pyarrow as pa
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from ppdw.runtime.silver import as_of, merge, prepare_snapshot
from tests.unit._silver_sim import Silver, bronze_table, make_dataset

KEYS = ["a", "b", "c", "d", "e"]
START = datetime(2024, 1, 1, 6, 0, 0, tzinfo=UTC)

values = st.fixed_dictionaries(
    {
        "name": st.sampled_from([None, "x", "y", "x\x1ey"]),
        "size": st.sampled_from([None, 0, 1, 7]),
    }
)
snapshots = st.dictionaries(st.sampled_from(KEYS), values, max_size=len(KEYS))
steps = st.lists(
    st.tuples(snapshots, st.integers(min_value=1, max_value=50), st.booleans()),
    min_size=1,
    max_size=6,
)


def rows_of(snapshot: dict[str, dict[str, Any]], duplicate: bool) -> list[dict[str, Any]]:
    rows = [{"k": key, **value} for key, value in sorted(snapshot.items())]
    return rows + rows[:1] if duplicate else rows


def as_set(table: pa.Table) -> set[tuple[Any, ...]]:
    return {(r["k"], r["name"], r["size"]) for r in table.select(["k", "name", "size"]).to_pylist()}


def check_one_current_per_live_key(silver: Silver, snapshot: dict[str, Any]) -> None:
    current = silver.current()
    keys = current.column("k").to_pylist() if current is not None else []
    assert sorted(keys) == sorted(snapshot)


def check_no_overlap(silver: Silver) -> None:
    by_key: dict[str, list[tuple[datetime, datetime]]] = defaultdict(list)
    for row in silver.rows():
        start, end = row["record_effective_date"], row["record_end_date"]
        assert start <= end
        if row["change_type"] == "DELETE":
            assert start == end
            assert not row["is_current"]
        else:
            by_key[row["k"]].append((start, end))
    for intervals in by_key.values():
        intervals.sort()
        for (_, end), (next_start, _) in pairwise(intervals):
            assert end <= next_start


def check_replay_is_noop(silver: Silver, bronze: pa.Table, moment: datetime) -> None:
    snapshot, _, _ = prepare_snapshot(bronze, silver.dataset)
    later = moment + timedelta(hours=1)
    result = merge(silver.current(), snapshot, silver.dataset, run_id="replay", run_time=later)
    assert result.new_versions.num_rows == 0
    assert result.closed.num_rows == 0
    assert result.stats.unchanged == snapshot.num_rows


@settings(max_examples=60, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(steps)
def test_scd2_invariants_hold_for_any_sequence_of_snapshots(
    sequence: list[tuple[dict[str, dict[str, Any]], int, bool]],
) -> None:
    silver = Silver(make_dataset())
    moment = START
    applied: list[tuple[datetime, set[tuple[Any, ...]]]] = []
    for snapshot, days, duplicate in sequence:
        moment += timedelta(days=days)
        bronze = bronze_table(rows_of(snapshot, duplicate))
        closed_before = [r for r in silver.rows() if not r["is_current"]]
        silver.run(bronze, moment)
        after = silver.rows()
        assert all(row in after for row in closed_before)
        check_one_current_per_live_key(silver, snapshot)
        check_no_overlap(silver)
        check_replay_is_noop(silver, bronze, moment)
        applied.append((moment, as_set(bronze)))
    history = silver.history()
    for moment, expected in applied:
        seen = as_set(as_of(history, moment)) if history.num_columns else set()
        assert seen == expected
