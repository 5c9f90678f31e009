"""Every name of product.md's table, computed from prefix `pp-dw` and a dataset name."""

from __future__ import annotations

from datetime import UTC, datetime

import pytest

from ppdw.naming import (
    CoreNames,
    default_run_id,
    is_valid_dataset_name,
    normalize_column_names,
    partition_datetime,
)

CORE = CoreNames(prefix="pp-dw")
NSDE = CORE.dataset("nsde")


@pytest.mark.parametrize(
    ("computed", "expected"),
    [
        (CORE.bucket("123456789012"), "pp-dw-123456789012"),
        (CORE.database("bronze"), "pp_dw_bronze"),
        (CORE.database("silver"), "pp_dw_silver"),
        (CORE.database("gold"), "pp_dw_gold"),
        (NSDE.table, "nsde"),
        (NSDE.job("bronze"), "pp-dw-bronze-nsde"),
        (NSDE.job("silver"), "pp-dw-silver-nsde"),
        (NSDE.crawler("bronze"), "pp-dw-bronze-nsde-crawler"),
        (NSDE.crawler("silver"), "pp-dw-silver-nsde-crawler"),
        (NSDE.fetch_function, "pp-dw-raw-fetch-nsde"),
        (NSDE.state_machine, "pp-dw-pipeline-nsde"),
        (NSDE.schedule_rule, "pp-dw-schedule-nsde"),
        (CORE.glue_role, "pp-dw-glue-role"),
        (CORE.lambda_role, "pp-dw-lambda-role"),
        (CORE.states_role, "pp-dw-states-role"),
        (CORE.events_role, "pp-dw-events-role"),
        (NSDE.raw_run_prefix("r1"), "raw/nsde/run_id=r1/"),
        (NSDE.raw_manifest_key("r1"), "raw/nsde/run_id=r1/_manifest.json"),
        (NSDE.layer_prefix("bronze"), "bronze/bronze_nsde/"),
        (NSDE.layer_prefix("silver"), "silver/silver_nsde/"),
        (NSDE.layer_prefix("gold"), "gold/nsde/"),
        (
            NSDE.bronze_partition_prefix("2026-11-01-060000"),
            "bronze/bronze_nsde/partition_datetime=2026-11-01-060000/",
        ),
        (
            NSDE.silver_partition_prefix("2026-11"),
            "silver/silver_nsde/effective_year_month=2026-11/",
        ),
        (NSDE.scripts_prefix, "scripts/nsde/"),
    ],
)
def test_product_table_names(computed: str, expected: str) -> None:
    assert computed == expected


def test_tags() -> None:
    assert NSDE.tags() == {"ppdw:managed": "true", "ppdw:dataset": "nsde"}


@pytest.mark.parametrize(
    ("name", "valid"),
    [
        ("nsde", True),
        ("rx_norm2", True),
        ("../x", False),
        ("Bad Name", False),
        ("a__b", False),
        ("9x", False),
        ("x", False),
        ("x_", False),
        ("a" * 32, False),
    ],
)
def test_dataset_name_pattern(name: str, valid: bool) -> None:
    assert is_valid_dataset_name(name) is valid


def test_run_id_and_partition_of_a_run_time() -> None:
    moment = datetime(2026, 11, 1, 6, 0, 0, tzinfo=UTC)
    assert default_run_id("nsde", moment) == "nsde-20261101-060000"
    assert partition_datetime(moment) == "2026-11-01-060000"


def test_column_names_normalized_as_data_md_says() -> None:
    assert normalize_column_names(
        ["\ufeffItem Code", "Application Number or Citation", "1st", "A", "a", "__x__"]
    ) == ["item_code", "application_number_or_citation", "_1st", "a", "a_2", "x"]
