"""Raw text -> bronze: names, trimming, types, parse failures, meta columns."""

from __future__ import annotations

from datetime import UTC, date, datetime
from decimal import Decimal
from typing import Any

import pyarrow as pa
import pytest

from ppdw.config.models import ColumnSpec, Dataset
from ppdw.errors import DataQualityError
from ppdw.runtime.bronze import bronze_schema, bronze_schema_type, to_bronze
from ppdw.runtime.readers import SourceFormat, read_text_table

T = datetime(2026, 11, 1, 6, 0, 0, tzinfo=UTC)


def dataset(**overrides: Any) -> Dataset:
    base: dict[str, Any] = {
        "name": "nsde",
        "source": {"url": "https://example.org/x.csv", "format": "csv"},
        "business_key": ["ndc11"],
    }
    return Dataset.model_validate(base | overrides)


def text_table(columns: dict[str, list[str]]) -> pa.Table:
    return pa.table({name: pa.array(values, pa.string()) for name, values in columns.items()})


def bronze(raw: pa.Table, ds: Dataset | None = None) -> Any:
    return to_bronze(raw, ds or dataset(), run_id="nsde-1", run_time=T, source_file="f.csv")


@pytest.mark.parametrize(
    ("raw", "normalized"),
    [
        ("Application Number or Citation", "application_number_or_citation"),
        ("NDC11", "ndc11"),
        ("\ufeffItem Code", "item_code"),
        ("  Billing--Unit  ", "billing_unit"),
        ("2nd Name", "_2nd_name"),
    ],
)
def test_column_names_are_normalized(raw: str, normalized: str) -> None:
    result = bronze(text_table({raw: ["x"], "ndc11": ["1"]}))
    assert result.table.column_names[0] == normalized
    if raw != normalized:
        assert result.stats.renamed[raw] == normalized


def test_repeated_names_get_numbered_suffixes() -> None:
    raw = pa.Table.from_arrays(
        [pa.array(["1"]), pa.array(["a"]), pa.array(["b"])], names=["NDC11", "Name", "name"]
    )
    assert bronze(raw).table.column_names[:3] == ["ndc11", "name", "name_2"]


def test_nsde_csv_end_to_end_keeps_leading_zeros_trims_and_types_dates() -> None:
    data = (
        "\ufeffItem Code,NDC11,Dosage Form,Product Type,Marketing Start Date,Marketing End Date\n"
        '0409-6695-10,00409669510,"INJECTION, SOLUTION",HUMAN PRESCRIPTION DRUG ,20160210,\n'
    ).encode()
    raw = read_text_table(data, SourceFormat("csv", ","), source_name="f.csv").table
    result = bronze(raw)
    row = result.table.to_pylist()[0]
    assert row["item_code"] == "0409-6695-10"
    assert row["ndc11"] == "00409669510"
    assert row["dosage_form"] == "INJECTION, SOLUTION"
    assert row["product_type"] == "HUMAN PRESCRIPTION DRUG"
    assert row["marketing_start_date"] == date(2016, 2, 10)
    assert row["marketing_end_date"] is None
    assert result.table.schema.field("marketing_start_date").type == pa.date32()
    assert result.table.schema.field("ndc11").type == pa.string()
    assert result.stats.parse_failures == {}


def test_blank_values_become_null_after_trimming() -> None:
    result = bronze(text_table({"ndc11": ["1", "2"], "name": ["   ", "\tx "]}))
    assert result.table.column("name").to_pylist() == [None, "x"]


@pytest.mark.parametrize(
    "values",
    [
        ["  a b ", "\x1cx\x1f", "\x1e", "\v\fy\r\n"],  # ASCII, with the separators
        ["\u00a0caf\u00e9\u2003", " \u3000 ", "plain "],  # Unicode white space
    ],
)
def test_trimming_is_unicode_white_space_in_ascii_and_non_ascii_columns(
    values: list[str],
) -> None:
    result = bronze(text_table({"ndc11": [str(i) for i in range(len(values))], "name": values}))
    expected = [v.strip() or None for v in values]
    assert result.table.column("name").to_pylist() == expected


def test_invalid_dates_become_null_and_are_counted_per_column() -> None:
    raw = text_table(
        {
            "ndc11": ["1", "2", "3", "4", "5"],
            "Marketing Start Date": ["20160210", "20160230", "2016021", "junk", ""],
        }
    )
    result = bronze(raw)
    assert result.table.column("marketing_start_date").to_pylist() == [
        date(2016, 2, 10),
        None,
        None,
        None,
        None,
    ]
    assert result.stats.parse_failures == {"marketing_start_date": 3}  # "" is not a failure


def test_configured_types_parse_and_count_failures() -> None:
    ds = dataset(
        columns={
            "units": ColumnSpec(type="int"),
            "price": ColumnSpec(type="decimal", precision=6, scale=2),
            "active": ColumnSpec(type="bool"),
            "seen_at": ColumnSpec(type="timestamp", format="%Y-%m-%d %H:%M:%S"),
            "updated": ColumnSpec(type="date", format="%m/%d/%Y"),
            "update_date_text": ColumnSpec(type="string"),
        }
    )
    raw = text_table(
        {
            "ndc11": ["1", "2", "3"],
            "units": ["-12", "99999999999999999999", "1.5"],
            "price": ["3.5", "1234.567", "12345.00"],
            "active": ["Yes", "N", "maybe"],
            "seen_at": ["2026-01-02 03:04:05", "2026-02-30 00:00:00", ""],
            "updated": ["01/31/2026", "13/01/2026", "02/01/2026"],
            "update_date_text": ["20260101", "x", "y"],
        }
    )
    result = bronze(raw, ds)
    table = result.table
    assert table.column("units").to_pylist() == [-12, None, None]
    assert table.column("price").to_pylist() == [Decimal("3.50"), None, None]
    assert table.column("active").to_pylist() == [True, False, None]
    seen = datetime(2026, 1, 2, 3, 4, 5, tzinfo=UTC)
    assert table.column("seen_at").to_pylist() == [seen, None, None]
    assert table.column("updated").to_pylist() == [date(2026, 1, 31), None, date(2026, 2, 1)]
    assert table.column("update_date_text").to_pylist() == ["20260101", "x", "y"]
    assert result.stats.parse_failures == {
        "units": 2,
        "price": 2,
        "active": 1,
        "seen_at": 1,
        "updated": 1,
    }
    assert table.schema.field("price").type == pa.decimal128(6, 2)
    assert table.schema.field("seen_at").type == pa.timestamp("ms", tz="UTC")


def test_meta_columns_come_last_and_carry_the_run() -> None:
    result = bronze(text_table({"ndc11": ["1", "2"], "name": ["a", "b"]}))
    table = result.table
    assert table.column_names == [
        "ndc11",
        "name",
        "meta_ingest_timestamp",
        "meta_run_id",
        "meta_source_file",
    ]
    assert table.schema.field("meta_ingest_timestamp").type == pa.timestamp("ms", tz="UTC")
    assert table.column("meta_ingest_timestamp").to_pylist() == [T, T]
    assert table.column("meta_run_id").to_pylist() == ["nsde-1", "nsde-1"]
    assert table.column("meta_source_file").to_pylist() == ["f.csv", "f.csv"]
    assert result.stats.rows == 2


def test_same_input_and_run_gives_the_same_table() -> None:
    raw = text_table({"ndc11": ["1"], "Start Date": ["20200101"]})
    assert bronze(raw).table.equals(bronze(raw).table)


@pytest.mark.parametrize(
    ("column", "normalized"),
    [("Meta Run ID", "meta_run_id"), ("Record Hash", "record_hash"), ("IS_CURRENT", "is_current")],
)
def test_a_source_column_with_a_name_ppdw_writes_is_refused_by_name(
    column: str, normalized: str
) -> None:
    with pytest.raises(DataQualityError) as info:
        bronze(text_table({"ndc11": ["1"], column: ["x"]}))
    assert info.value.rule == "reserved_column"
    assert f"'{column}' ({normalized})" in str(info.value)
    assert "f.csv" in str(info.value)


def test_other_meta_named_source_columns_are_business_columns() -> None:
    result = bronze(text_table({"ndc11": ["1"], "Meta Notes": ["checked"], "meta": ["m"]}))
    assert result.table.column_names[:3] == ["ndc11", "meta_notes", "meta"]
    assert result.table.column("meta_notes").to_pylist() == ["checked"]


def test_a_key_column_containing_date_stays_text() -> None:
    ds = dataset(business_key=["update_date"])
    result = bronze(text_table({"update_date": ["20260101"]}), ds)
    assert result.table.column("update_date").to_pylist() == ["20260101"]


def test_header_only_input_gives_an_empty_typed_table() -> None:
    result = bronze(text_table({"ndc11": [], "Start Date": []}))
    assert result.table.num_rows == 0
    assert result.table.schema == bronze_schema(["ndc11", "start_date"], dataset())


def test_schema_types_for_the_catalog() -> None:
    assert bronze_schema_type(ColumnSpec(type="decimal", precision=10, scale=3)) == pa.decimal128(
        10, 3
    )
    assert bronze_schema_type(ColumnSpec(type="int")) == pa.int64()
    assert bronze_schema_type(ColumnSpec(type="timestamp")) == pa.timestamp("ms", tz="UTC")


def test_dates_in_a_format_with_month_names_are_strict_too() -> None:
    ds = dataset(columns={"approved": ColumnSpec(type="date", format="%d-%b-%Y")})
    raw = text_table({"ndc11": ["1", "2", "3"], "approved": ["05-Jan-2026", "31-Feb-2026", "x"]})
    result = bronze(raw, ds)
    assert result.table.column("approved").to_pylist() == [date(2026, 1, 5), None, None]
    assert result.stats.parse_failures == {"approved": 2}
