"""The run-order rule, asked by the guard, the fetch, the silver step and a resumed commit."""

from __future__ import annotations

from datetime import UTC, datetime

from ppdw.runtime.manifest import out_of_order

LAST = {"run_id": "nsde-20261102-060000", "run_time": "2026-11-02T06:00:00Z"}
LAST_TIME = datetime(2026, 11, 2, 6, tzinfo=UTC)


def test_a_later_run_may_go() -> None:
    assert out_of_order(LAST, "nsde-x", datetime(2026, 11, 2, 6, 0, 1, tzinfo=UTC)) is None


def test_an_earlier_or_equal_run_is_out_of_order_naming_the_last_time() -> None:
    assert out_of_order(LAST, "nsde-x", LAST_TIME) == LAST_TIME
    assert out_of_order(LAST, "nsde-x", datetime(2026, 11, 1, tzinfo=UTC)) == LAST_TIME


def test_the_first_run_and_the_last_run_itself_may_go() -> None:
    assert out_of_order(None, "nsde-x", datetime(2020, 1, 1, tzinfo=UTC)) is None
    assert out_of_order(LAST, LAST["run_id"], LAST_TIME) is None
