"""Hashes written with the old decimal rendering: recognised, brought up to date, history kept."""

from __future__ import annotations

from collections.abc import Sequence
from datetime import UTC, datetime
from decimal import Decimal
from typing import Any

import pyarrow as pa
import pyarrow.compute as pc
import pytest

from ppdw.runtime.hash_upgrade import may_hold_old_hashes, old_decimal_text
from ppdw.runtime.hashing import canonical_text, md5_hex, record_hash
from ppdw.runtime.silver import changes, versions
from tests.unit._silver_sim import Silver, make_dataset

T1 = datetime(2020, 1, 15, 6, 0, 0, tzinfo=UTC)
T2 = datetime(2020, 2, 15, 6, 0, 0, tzinfo=UTC)
T3 = datetime(2020, 3, 15, 6, 0, 0, tzinfo=UTC)
T4 = datetime(2020, 4, 15, 6, 0, 0, tzinfo=UTC)
PRICE = pa.decimal128(18, 9)
HISTORY = ["k", "name", "price", "record_effective_date", "record_end_date", "change_type"]


@pytest.mark.parametrize("scale", [0, 2, 6, 7, 9, 18])
def test_old_form_is_what_arrow_cast_wrote(scale: int) -> None:
    unit = Decimal(1).scaleb(-scale)
    values = [Decimal(0), unit, -unit, unit * 100, -unit * 123, unit * 10**6, unit * 10**7]
    column = pa.chunked_array([pa.array([*values, None], pa.decimal128(38, scale))])
    assert old_decimal_text(column).to_pylist() == column.cast(pa.string()).to_pylist()


@pytest.mark.parametrize(
    ("point_after_one_digit", "expected"),
    [
        (False, ["0E-9", "1E-9", "-1.23E-7", "0.000001000", "0.010000000", None]),
        (True, ["0.E-9", "1.E-9", "-1.23E-7", "0.000001000", "0.010000000", None]),
    ],
    ids=["pyarrow 22 and later", "pyarrow 17 (Glue 5.0)"],
)
def test_old_forms_as_each_pyarrow_wrote_them(
    point_after_one_digit: bool, expected: list[str | None]
) -> None:
    values = ["0", "0.000000001", "-0.000000123", "0.000001", "0.01", None]
    column = pa.chunked_array(
        [pa.array([None if v is None else Decimal(v) for v in values], PRICE)]
    )
    text = old_decimal_text(column, point_after_one_digit=point_after_one_digit)
    assert text.to_pylist() == expected


def old_record_hash(rows: pa.Table, tracked: list[str]) -> pa.Array:
    """What silver wrote before the fix (pyarrow 22 and later)."""
    return md5_hex(canonical_text(rows, tracked, decimals=old_decimal_text))


def old_record_hash_of_pyarrow_17(rows: pa.Table, tracked: list[str]) -> pa.Array:
    """What silver wrote before the fix on Glue 5.0."""

    def render(column: pa.ChunkedArray) -> pa.ChunkedArray:
        return old_decimal_text(column, point_after_one_digit=True)

    return md5_hex(canonical_text(rows, tracked, decimals=render))


def bronze(prices: dict[str, str | None]) -> pa.Table:
    keys = sorted(prices)
    table = pa.table(
        {
            "k": pa.array(keys, pa.string()),
            "name": pa.array([f"name {k}" for k in keys], pa.string()),
            "price": pa.array(
                [None if prices[k] is None else Decimal(str(prices[k])) for k in keys], PRICE
            ),
        }
    )
    meta = {
        "meta_ingest_timestamp": pa.repeat(pa.scalar(T1, pa.timestamp("ms", tz="UTC")), len(keys)),
        "meta_run_id": pa.repeat(pa.scalar("b"), len(keys)),
        "meta_source_file": pa.repeat(pa.scalar("f.csv"), len(keys)),
    }
    for name, column in meta.items():
        table = table.append_column(name, column)
    return table


DAY1 = {"a": "0", "b": "0.0000001", "c": "1.5", "d": "0", "e": None}
DAY2 = {**DAY1, "d": "0.5"}


def no_upgrade(
    current: pa.Table, rows: pa.Array, tracked: Sequence[str]
) -> tuple[pa.Array, pa.Array]:
    """The code before the fix did not look for old-form hashes."""
    return pa.array([], pa.uint64()), pa.array([], pa.string())


def old_history(monkeypatch: pytest.MonkeyPatch, hashed: Any = old_record_hash) -> Silver:
    """Two runs written with the old form: d's first version is closed by the second."""
    silver = Silver(make_dataset())
    with monkeypatch.context() as patch:
        patch.setattr(versions, "record_hash", hashed)
        patch.setattr(changes, "stale_hashes", no_upgrade)
        silver.run(bronze(DAY1), T1)
        silver.run(bronze(DAY2), T2)
    return silver


@pytest.mark.parametrize(
    "hashed", [old_record_hash, old_record_hash_of_pyarrow_17], ids=["pyarrow 22", "pyarrow 17"]
)
def test_a_run_after_the_upgrade_reports_no_change_and_brings_current_hashes_up_to_date(
    monkeypatch: pytest.MonkeyPatch, hashed: Any
) -> None:
    silver = old_history(monkeypatch, hashed)
    before = silver.history()
    current_before = silver.current()
    assert current_before is not None
    stale = record_hash(current_before, ["name", "price"])
    assert not stale.equals(current_before.column("record_hash").combine_chunks())

    result = silver.run(bronze(DAY2), T3)

    stats = result.stats
    assert (stats.inserts, stats.updates, stats.deletes, stats.unchanged) == (0, 0, 0, 5)
    assert stats.rehashed == 2  # a (0) and b (0.0000001); c, d (0.5) and e (null) were right
    after = silver.history()
    # History is kept: every version's dates, values and change type are as they were.
    assert after.select(HISTORY).sort_by("k").to_pylist() == (
        before.select(HISTORY).sort_by("k").to_pylist()
    )
    current = silver.current()
    assert current is not None
    assert current.column("record_hash").to_pylist() == (
        record_hash(current, ["name", "price"]).to_pylist()
    )
    # d's version closed by the second run keeps the hash it was written with.
    closed = after.filter(pc.invert(after.column("is_current")))
    closed_before = before.filter(pc.invert(before.column("is_current")))
    assert closed.column("record_hash").to_pylist() == (
        closed_before.column("record_hash").to_pylist()
    )
    # Only the partition holding the versions brought up to date was rewritten.
    assert silver.rewritten[-1] == ["2020-01"]


def test_once_up_to_date_a_run_without_change_rewrites_nothing(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    silver = old_history(monkeypatch)
    silver.run(bronze(DAY2), T3)
    result = silver.run(bronze(DAY2), T4)
    assert result.stats.rehashed == 0
    assert not result.writes_anything
    assert silver.rewritten[-1] == []


def test_a_changed_value_is_still_an_update_after_an_old_form_history(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    silver = old_history(monkeypatch)
    result = silver.run(bronze({**DAY2, "a": "0.000000001"}), T3)
    assert (result.stats.updates, result.stats.rehashed) == (1, 1)  # a changed, b rehashed
    a_now = [r for r in silver.rows() if r["k"] == "a" and r["is_current"]]
    assert (
        a_now[0]["record_hash"]
        == record_hash(
            bronze({"a": "0.000000001"}).select(["name", "price"]), ["name", "price"]
        ).to_pylist()[0]
    )


def test_a_hash_of_neither_form_is_left_as_written(monkeypatch: pytest.MonkeyPatch) -> None:
    silver = old_history(monkeypatch)
    ym = "2020-01"
    part = silver.partitions[ym]
    odd = pc.if_else(pc.equal(part.column("k"), "a"), "0" * 32, part.column("record_hash"))
    silver.partitions[ym] = part.set_column(
        part.schema.get_field_index("record_hash"), "record_hash", odd
    )
    result = silver.run(bronze(DAY2), T3)
    assert result.stats.rehashed == 1  # b only
    a_now = [r for r in silver.rows() if r["k"] == "a"]
    assert a_now[0]["record_hash"] == "0" * 32


def test_a_merge_told_the_hashes_are_up_to_date_does_not_look(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    silver = old_history(monkeypatch)
    current = silver.current()
    assert current is not None
    snapshot = bronze(DAY2).select(["k", "name", "price"])
    dataset = make_dataset()
    looked = changes.merge(current, snapshot, dataset, run_id="r3", run_time=T3)
    skipped = changes.merge(
        current, snapshot, dataset, run_id="r3", run_time=T3, upgrade_hashes=False
    )
    assert (looked.stats.rehashed, skipped.stats.rehashed) == (2, 0)
    assert not skipped.writes_anything


@pytest.mark.parametrize(
    ("last_run_stats", "look"),
    [
        (None, True),  # nothing known
        ({"inserts": 3}, True),  # a run of the earlier ppdw: no form recorded
        ({"record_hash_form": 1}, True),
        ({"record_hash_form": 2}, False),
    ],
)
def test_only_runs_after_an_earlier_form_look_for_old_hashes(
    last_run_stats: dict[str, int] | None, look: bool
) -> None:
    assert may_hold_old_hashes(last_run_stats) is look
