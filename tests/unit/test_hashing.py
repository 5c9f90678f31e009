"""record_hash: the canonical text is pinned; changing it would rewrite every history."""

from __future__ import annotations

import hashlib
from datetime import UTC, date, datetime
from decimal import Decimal

import pyarrow as pa
import pytest

from ppdw.runtime.hashing import canonical_text, md5_hex, record_hash

#: Every test here runs on both paths: DuckDB's join and md5 (where DuckDB is importable)
#: and the Arrow and hashlib path (Glue's environment, which has no DuckDB).
pytestmark = pytest.mark.usefixtures("duck_or_arrow")


def golden_rows() -> pa.Table:
    return pa.table(
        {
            "proprietary_name": pa.array(
                ["AMIDATE", "ab", "a", None, "x\x1ey\x1fz\x1bw", "Caf\u00e9"], pa.string()
            ),
            "dosage_form": pa.array(
                ["INJECTION, SOLUTION", "c", "bc", None, None, ""], pa.string()
            ),
            "marketing_start_date": pa.array(
                [date(2016, 2, 10), None, None, None, None, date(1999, 12, 31)], pa.date32()
            ),
            "seen_at": pa.array(
                [
                    datetime(2026, 11, 1, 6, 0, 0, tzinfo=UTC),
                    None,
                    None,
                    None,
                    None,
                    datetime(2026, 1, 2, 3, 4, 5, 678000, tzinfo=UTC),
                ],
                pa.timestamp("ms", tz="UTC"),
            ),
            "price": pa.array(
                [Decimal("1.50"), None, None, None, None, Decimal("-0.05")], pa.decimal128(10, 2)
            ),
            "active": pa.array([True, None, None, None, None, False], pa.bool_()),
            "units": pa.array([12, None, None, None, None, -3], pa.int64()),
        }
    )


GOLDEN_TEXT = [
    "active\x1ftrue\x1edosage_form\x1fINJECTION, SOLUTION\x1emarketing_start_date\x1f2016-02-10"
    "\x1eprice\x1f1.50\x1eproprietary_name\x1fAMIDATE\x1eseen_at\x1f2026-11-01T06:00:00.000Z"
    "\x1eunits\x1f12",
    "dosage_form\x1fc\x1eproprietary_name\x1fab",
    "dosage_form\x1fbc\x1eproprietary_name\x1fa",
    "",
    "proprietary_name\x1fx\x1b1y\x1b2z\x1b0w",
    "active\x1ffalse\x1edosage_form\x1f\x1emarketing_start_date\x1f1999-12-31\x1eprice\x1f-0.05"
    "\x1eproprietary_name\x1fCaf\u00e9\x1eseen_at\x1f2026-01-02T03:04:05.678Z\x1eunits\x1f-3",
]

# Computed once from GOLDEN_TEXT and written here: never regenerate them from the code.
GOLDEN_HASH = [
    "5b476304d3fe3195939ed8246ac73c59",
    "41aacfc6e7bebd0189bc89b77bc5602e",
    "f8d3cbfdf022ed87db6d9fd34e75f920",
    "d41d8cd98f00b204e9800998ecf8427e",
    "bc74cc292c55e342cecb8b7e610a011b",
    "ce8680fe1b4574a329e7905e8bf53903",
]


def test_golden_canonical_text() -> None:
    table = golden_rows()
    assert canonical_text(table, table.column_names).to_pylist() == GOLDEN_TEXT


def test_golden_record_hash() -> None:
    table = golden_rows()
    assert record_hash(table, table.column_names).to_pylist() == GOLDEN_HASH


def golden_decimals() -> pa.Table:
    """Scales 0, 2, 9 and 18: zero, the smallest unit, negative and the largest values.
    At scale >= 7 Arrow's own cast would give `0E-9`, `1E-9`, `-1.00E-7`."""

    def column(values: list[str | None], precision: int, scale: int) -> pa.Array:
        return pa.array(
            [None if v is None else Decimal(v) for v in values], pa.decimal128(precision, scale)
        )

    return pa.table(
        {
            "d0": column(["0", "1", "-7", "999999999999", None], 12, 0),
            "d2": column(["0", "0.01", "-0.05", "99999999.99", None], 10, 2),
            "d9": column(
                [
                    "0",
                    "0.000000001",
                    "-0.0000001",
                    "-99999999999999999999999999999.999999999",
                    "0.000001",
                ],
                38,
                9,
            ),
            "d18": column(
                [
                    "0",
                    "0.000000000000000001",
                    "-1.5",
                    "99999999999999999999.999999999999999999",
                    "-0.000000000000000001",
                ],
                38,
                18,
            ),
        }
    )


GOLDEN_DECIMAL_TEXT = [
    "d0\x1f0\x1ed18\x1f0.000000000000000000\x1ed2\x1f0.00\x1ed9\x1f0.000000000",
    "d0\x1f1\x1ed18\x1f0.000000000000000001\x1ed2\x1f0.01\x1ed9\x1f0.000000001",
    "d0\x1f-7\x1ed18\x1f-1.500000000000000000\x1ed2\x1f-0.05\x1ed9\x1f-0.000000100",
    "d0\x1f999999999999\x1ed18\x1f99999999999999999999.999999999999999999\x1ed2\x1f99999999.99"
    "\x1ed9\x1f-99999999999999999999999999999.999999999",
    "d18\x1f-0.000000000000000001\x1ed9\x1f0.000001000",
]

# Computed once from GOLDEN_DECIMAL_TEXT with hashlib and written here.
GOLDEN_DECIMAL_HASH = [
    "b144e81ef9f13fea6d9359faa4799bc1",
    "96b84e6bab84e067f1f7b8ba50a2430b",
    "224b4c6a3d7153d7aaeefdbfc30f5bca",
    "ed6219fb536e2a38d3f6fba238227ee8",
    "f1820a468674a9c21e5cf01c1f5aefa3",
]


def test_golden_decimals_are_plain_with_exactly_the_scale_digits() -> None:
    table = golden_decimals()
    assert canonical_text(table, table.column_names).to_pylist() == GOLDEN_DECIMAL_TEXT
    assert record_hash(table, table.column_names).to_pylist() == GOLDEN_DECIMAL_HASH


def test_decimal_rendering_does_not_depend_on_chunks_or_slices() -> None:
    whole = golden_decimals()
    parts = pa.Table.from_batches(whole.slice(1).to_batches(max_chunksize=2))
    assert canonical_text(parts, parts.column_names).to_pylist() == GOLDEN_DECIMAL_TEXT[1:]


def test_hash_is_md5_of_the_canonical_utf8_text() -> None:
    expected = [hashlib.md5(text.encode("utf-8")).hexdigest() for text in GOLDEN_TEXT]
    assert expected == GOLDEN_HASH


def test_separator_keeps_shifted_values_apart() -> None:
    table = pa.table({"a": ["ab", "a"], "b": ["c", "bc"]})
    first, second = record_hash(table, ["a", "b"]).to_pylist()
    assert first != second


def test_separator_characters_inside_values_cannot_forge_another_row() -> None:
    # Without escaping, a="x" RS "b" US "y" would read like the two fields a="x", b="y".
    table = pa.table({"a": ["x\x1eb\x1fy", "x"], "b": [None, "y"]})
    first, second = record_hash(table, ["a", "b"]).to_pylist()
    assert first != second


def test_column_order_in_the_table_does_not_matter_names_are_sorted() -> None:
    one = pa.table({"a": ["1"], "b": ["2"]})
    two = pa.table({"b": ["2"], "a": ["1"]})
    assert record_hash(one, ["a", "b"]).equals(record_hash(two, ["b", "a"]))


def test_a_new_null_column_does_not_change_the_hash() -> None:
    before = pa.table({"a": ["1"]})
    after = pa.table({"a": ["1"], "new_col": pa.array([None], pa.string())})
    assert record_hash(before, ["a"]).equals(record_hash(after, ["a", "new_col"]))


def test_a_value_in_a_new_column_changes_the_hash() -> None:
    before = pa.table({"a": ["1"]})
    after = pa.table({"a": ["1"], "new_col": ["v"]})
    assert not record_hash(before, ["a"]).equals(record_hash(after, ["a", "new_col"]))


@pytest.mark.parametrize("name", ["meta_run_id", "meta_source_file", "record_hash"])
def test_ppdw_own_columns_are_refused(name: str) -> None:
    table = pa.table({"a": ["1"], name: ["r1"]})
    with pytest.raises(ValueError, match=name):
        canonical_text(table, ["a", name])


def test_a_source_column_starting_with_meta_is_hashed_like_any_other() -> None:
    table = pa.table({"a": ["1"], "meta_notes": ["checked"]})
    assert canonical_text(table, ["a", "meta_notes"]).to_pylist() == [
        "a\x1f1\x1emeta_notes\x1fchecked"
    ]


def test_all_null_rows_keep_the_row_count() -> None:
    table = pa.table({"a": pa.array([None, "x", None], pa.string()), "b": [None, None, None]})
    hashes = record_hash(table, ["a", "b"]).to_pylist()
    assert len(hashes) == 3
    assert hashes[0] == hashes[2] == hashlib.md5(b"").hexdigest()


def test_hashes_are_32_lowercase_hex_for_chunked_input() -> None:
    table = pa.Table.from_batches(
        [pa.record_batch({"a": ["x", "y"]}), pa.record_batch({"a": ["z"]})]
    )
    hashes = record_hash(table, ["a"]).to_pylist()
    assert [hashlib.md5(f"a\x1f{v}".encode()).hexdigest() for v in "xyz"] == hashes
    assert all(len(h) == 32 and h == h.lower() for h in hashes)


def test_md5_hex_of_empty_input() -> None:
    assert md5_hex(pa.array([], pa.string())).to_pylist() == []


def test_nul_bytes_and_non_ascii_values_hash_as_their_utf8_text() -> None:
    table = pa.table({"a": ["x\x00y", "\u00e9\u4e2d", "\x00"], "b": ["", None, "\U0001f600"]})
    texts = ["a\x1fx\x00y\x1eb\x1f", "a\x1f\u00e9\u4e2d", "a\x1f\x00\x1eb\x1f\U0001f600"]
    expected = [hashlib.md5(text.encode("utf-8")).hexdigest() for text in texts]
    assert record_hash(table, ["a", "b"]).to_pylist() == expected


def test_many_chunks_keep_their_row_order() -> None:
    values = [f"v{i}" for i in range(50_000)]
    table = pa.Table.from_batches(
        [pa.record_batch({"a": values[at : at + 777]}) for at in range(0, len(values), 777)]
    )
    expected = [hashlib.md5(f"a\x1f{v}".encode()).hexdigest() for v in values]
    assert record_hash(table, ["a"]).to_pylist() == expected
