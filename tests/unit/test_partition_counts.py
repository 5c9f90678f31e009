"""Counts recorded on a Glue partition hold for the folder they were taken from only."""

from __future__ import annotations

from typing import Any

import pytest

from ppdw.contracts import partition_counts
from ppdw.contracts.partition_counts import Counts

HERE = "s3://b/silver/silver_nsde/effective_year_month=2026-11/nsde-1/"


def partition(location: str, **params: str) -> dict[str, Any]:
    return {"StorageDescriptor": {"Location": location}, "Parameters": params}


def test_counts_round_trip_through_the_parameters() -> None:
    for counts in (Counts(10, 7), Counts(10), Counts(0, 0)):
        params = partition_counts.parameters(HERE, counts)
        assert partition_counts.read(partition(HERE, **params)) == counts
    assert partition_counts.parameters(HERE, None) == {}


def test_counts_taken_from_another_folder_are_not_read() -> None:
    params = partition_counts.parameters(HERE, Counts(10, 7))
    assert partition_counts.read(partition(HERE.replace("nsde-1", "nsde-2"), **params)) is None
    assert partition_counts.read({"Parameters": params}) is None  # no location at all


@pytest.mark.parametrize(
    "params",
    [
        {"classification": "parquet"},  # registered without counts
        {partition_counts.ROWS: "ten", partition_counts.COUNTED_LOCATION: HERE},
        {partition_counts.ROWS: "-1", partition_counts.COUNTED_LOCATION: HERE},
        {
            partition_counts.ROWS: "3",
            partition_counts.CURRENT_ROWS: "4",  # more current rows than rows
            partition_counts.COUNTED_LOCATION: HERE,
        },
        {partition_counts.CURRENT_ROWS: "4", partition_counts.COUNTED_LOCATION: HERE},
    ],
)
def test_missing_or_impossible_counts_are_not_read(params: dict[str, str]) -> None:
    assert partition_counts.read(partition(HERE, **params)) is None
