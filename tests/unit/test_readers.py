"""Reading CSV, TSV and RRF source files as text tables."""

from __future__ import annotations

import pathlib

import pyarrow as pa
import pytest

from ppdw.config.models import Source
from ppdw.errors import DataQualityError
from ppdw.runtime.readers import SourceFormat, read_text_table

CSV = SourceFormat(format="csv", delimiter=",")
TSV = SourceFormat(format="tsv", delimiter="\t")
RRF = SourceFormat(
    format="rrf", delimiter="|", header=False, fallback_encoding=None, columns=("RXCUI", "STR")
)

NSDE_HEADER = (
    "Item Code,NDC11,Proprietary Name,Dosage Form,Marketing Category,"
    "Application Number or Citation,Product Type,Marketing Start Date,Marketing End Date,"
    "Billing Unit,Inactivation Date,Reactivation Date"
)
NSDE_ROW = (
    '0409-6695-10,00409669510,AMIDATE,"INJECTION, SOLUTION",NDA,NDA018227,'
    "HUMAN PRESCRIPTION DRUG ,20160210,,ML,,"
)


def test_nsde_row_reads_as_text_with_leading_zeros_and_bom_removed() -> None:
    data = ("\ufeff" + NSDE_HEADER + "\r\n" + NSDE_ROW + "\r\n").encode()
    result = read_text_table(data, CSV, source_name="nsde.csv")
    table = result.table
    assert table.column_names[0] == "Item Code"
    assert table.column_names[5] == "Application Number or Citation"
    assert all(field.type == pa.string() for field in table.schema)
    row = table.to_pylist()[0]
    assert row["NDC11"] == "00409669510"
    assert row["Dosage Form"] == "INJECTION, SOLUTION"
    assert row["Product Type"] == "HUMAN PRESCRIPTION DRUG "  # trimming is bronze's job
    assert row["Marketing End Date"] == ""
    assert result.encoding == "utf-8"


def test_numbers_are_never_guessed() -> None:
    table = read_text_table(b"a,b,c\n007,1e5,3.10\n", CSV, source_name="f.csv").table
    assert table.to_pylist() == [{"a": "007", "b": "1e5", "c": "3.10"}]


def test_quoted_field_with_newline_and_doubled_quote() -> None:
    data = b'k,text\n1,"line one\nline two, ""quoted"""\n2,plain\n'
    table = read_text_table(data, CSV, source_name="f.csv").table
    assert table.column("text").to_pylist() == ['line one\nline two, "quoted"', "plain"]


def test_cp1252_bytes_fall_back_to_the_fallback_encoding() -> None:
    data = "name,price\nCaf\u00e9 \u2013 brand,1\n".encode("cp1252")
    result = read_text_table(data, CSV, source_name="product.txt")
    assert result.table.column("name").to_pylist() == ["Caf\u00e9 \u2013 brand"]
    assert (result.encoding, result.fallback_lines) == ("utf-8", 1)


def test_only_the_line_with_a_stray_byte_uses_the_fallback() -> None:
    data = (
        b"\xef\xbb\xbfNDC11,City\n"
        + "1,M\u00dcNCHEN\n2,CAF\u00c9\n".encode()
        + b"3,NI\xd1O\n"
        + "4,\u20ac 5\n".encode()
    )
    result = read_text_table(data, CSV, source_name="nsde.csv")
    assert result.table.column_names == ["NDC11", "City"]
    assert result.table.column("City").to_pylist() == [
        "M\u00dcNCHEN",
        "CAF\u00c9",
        "NI\u00d1O",
        "\u20ac 5",
    ]
    assert result.fallback_lines == 1


def test_a_whole_cp1252_file_reads_line_by_line_with_every_non_ascii_line_counted() -> None:
    text = "k,name\n1,CAF\u00c9\n2,plain\n3,NI\u00d1O \u2013 \u20ac\n4,\u00fcber\n"
    result = read_text_table(text.encode("cp1252"), CSV, source_name="f.csv")
    assert result.table.column("name").to_pylist() == [
        "CAF\u00c9",
        "plain",
        "NI\u00d1O \u2013 \u20ac",
        "\u00fcber",
    ]
    assert result.fallback_lines == 3


def test_valid_utf8_never_uses_the_fallback() -> None:
    text = "k,name\n1,M\u00dcNCHEN\n2,\u00c3\u00a9 looks like cp1252 but is UTF-8\n"
    result = read_text_table(("\ufeff" + text).encode(), CSV, source_name="f.csv")
    assert result.table.column("name").to_pylist() == [
        "M\u00dcNCHEN",
        "\u00c3\u00a9 looks like cp1252 but is UTF-8",
    ]
    assert (result.encoding, result.fallback_lines) == ("utf-8", 0)


def test_a_quoted_value_spanning_lines_decodes_each_of_its_lines_on_its_own() -> None:
    data = (
        b'k,note\n1,"first line Z\xc3\x9cRICH\nsecond line caf\xe9, ok\nthird"\n'
        b"2,NI\xd1O\r\n3,M\xc3\x9cNCHEN\n"
    )
    result = read_text_table(data, CSV, source_name="f.csv")
    assert result.table.column("note").to_pylist() == [
        "first line Z\u00dcRICH\nsecond line caf\u00e9, ok\nthird",
        "NI\u00d1O",
        "M\u00dcNCHEN",
    ]
    assert result.fallback_lines == 2


def test_a_line_invalid_in_both_encodings_names_the_file_and_line() -> None:
    data = "k,name\n1,CAF\u00c9\n".encode() + b"2,NI\xd1O\n3,bad \x81\x8d\n"
    with pytest.raises(DataQualityError) as info:
        read_text_table(data, CSV, source_name="nsde.csv")
    assert info.value.rule == "encoding"
    assert "nsde.csv: line 4" in str(info.value)
    assert "utf-8 or cp1252" in str(info.value)


def test_an_invalid_last_line_without_line_end_is_decoded_too() -> None:
    data = b"k,name\n1,ok\n2,caf\xe9"
    result = read_text_table(data, CSV, source_name="f.csv")
    assert result.table.column("name").to_pylist() == ["ok", "caf\u00e9"]
    assert result.fallback_lines == 1


def test_invalid_bytes_without_fallback_name_the_file_and_line() -> None:
    fmt = SourceFormat(format="csv", delimiter=",", fallback_encoding=None)
    with pytest.raises(DataQualityError) as info:
        read_text_table(b"a\nok\nbad\xff\n", fmt, source_name="x.csv")
    assert info.value.rule == "encoding"
    assert "x.csv" in str(info.value)
    assert "line 3" in str(info.value)


def test_too_many_fields_names_file_and_line() -> None:
    data = b"a,b\n1,2\n3,4,5\n"
    with pytest.raises(DataQualityError) as info:
        read_text_table(data, CSV, source_name="nsde.csv")
    assert info.value.rule == "row_shape"
    assert "nsde.csv" in str(info.value)
    assert "line 3" in str(info.value)
    assert "expected 2 fields, got 3" in str(info.value)


def test_too_few_fields_line_counts_physical_lines_of_quoted_newlines() -> None:
    data = b'a,b\n1,"x\ny"\n2\n'
    with pytest.raises(DataQualityError) as info:
        read_text_table(data, CSV, source_name="f.csv")
    assert info.value.rule == "row_shape"
    assert "line 4" in str(info.value)


def test_empty_file_is_an_empty_source_error() -> None:
    with pytest.raises(DataQualityError) as info:
        read_text_table(b"", CSV, source_name="empty.csv")
    assert info.value.rule == "empty_source"
    assert "empty.csv" in str(info.value)


def test_header_only_file_gives_zero_rows_with_the_columns() -> None:
    table = read_text_table(b"\xef\xbb\xbfA,B\n", CSV, source_name="f.csv").table
    assert table.num_rows == 0
    assert table.column_names == ["A", "B"]
    assert table.schema.types == [pa.string(), pa.string()]


def test_tsv_reads_tabs_and_keeps_commas() -> None:
    data = b"PRODUCTID\tPROPRIETARYNAME\n0002-0800\tSterile, Diluent\n"
    table = read_text_table(data, TSV, source_name="product.txt").table
    assert table.to_pylist() == [{"PRODUCTID": "0002-0800", "PROPRIETARYNAME": "Sterile, Diluent"}]


def test_rrf_uses_configured_names_drops_trailing_field_and_keeps_quotes() -> None:
    data = b'38|Parlodel|\n39|5" tablet|\n'
    table = read_text_table(data, RRF, source_name="RXNCONSO.RRF").table
    assert table.column_names == ["RXCUI", "STR"]
    assert table.to_pylist() == [
        {"RXCUI": "38", "STR": "Parlodel"},
        {"RXCUI": "39", "STR": '5" tablet'},
    ]


def test_rrf_line_without_trailing_pipe_is_an_error_with_line_number() -> None:
    data = b"38|Parlodel|\n39|Other\n"
    with pytest.raises(DataQualityError) as info:
        read_text_table(data, RRF, source_name="RXNCONSO.RRF")
    assert info.value.rule == "row_shape"
    assert "RXNCONSO.RRF" in str(info.value)
    assert "line 2" in str(info.value)
    assert "trailing '|'" in str(info.value)


def test_rrf_line_with_an_extra_field_is_an_error_with_line_number() -> None:
    data = b"38|Parlodel|\n39|a|b\n"
    with pytest.raises(DataQualityError) as info:
        read_text_table(data, RRF, source_name="RXNCONSO.RRF")
    assert info.value.rule == "row_shape"
    assert "line 2" in str(info.value)


def test_rrf_line_with_too_few_fields_is_an_error() -> None:
    data = b"38|Parlodel|\n39|\n"
    with pytest.raises(DataQualityError) as info:
        read_text_table(data, RRF, source_name="RXNCONSO.RRF")
    assert "line 2" in str(info.value)


def test_a_field_larger_than_ten_megabytes_reads() -> None:
    big = "x" * (11 * 1024 * 1024)
    data = f"k,text\n1,{big}\n2,small\n".encode()
    table = read_text_table(data, CSV, source_name="big.csv").table
    assert table.num_rows == 2
    assert len(table.column("text")[0].as_py()) == len(big)


def test_reads_from_a_path(tmp_path: pathlib.Path) -> None:
    path = tmp_path / "f.csv"
    path.write_bytes(b"a\n1\n")
    assert read_text_table(path, CSV, source_name="f.csv").table.num_rows == 1


def test_source_format_from_dataset_source() -> None:
    source = Source(
        url="https://example.org/x.zip",
        format="rrf",
        compression="zip",
        members=("rrf/RXNCONSO.RRF",),
        header=False,
        columns=("RXCUI", "STR"),
        fallback_encoding=None,
    )
    fmt = SourceFormat.from_source(source)
    assert fmt == SourceFormat(
        format="rrf",
        delimiter="|",
        encoding="utf-8",
        fallback_encoding=None,
        header=False,
        columns=("RXCUI", "STR"),
    )


def _csv_module_rows(data: bytes) -> list[list[str]]:
    import csv
    import io

    return list(csv.reader(io.StringIO(data.decode(), newline="")))


@pytest.mark.parametrize("columns", [1, 3])
def test_quoted_line_ends_across_many_blocks_read_as_the_csv_module_reads_them(
    columns: int,
) -> None:
    # Several MB, so pyarrow splits the file into blocks; quoted values hold LF, CRLF,
    # commas and quotes, so a split at a line end inside a value would corrupt the rows.
    lines = [",".join(f"c{i}" for i in range(columns))]
    for n in range(200_000):
        value = f'"row {n}, line one\nline two,\r\nthree ""q""\n"' if n % 7 == 0 else f"v{n}"
        lines.append(",".join([value] + [f"{n}-{i}" for i in range(1, columns)]))
    data = ("\n".join(lines) + "\n").encode()
    assert len(data) > 2 * (1 << 20)
    expected = _csv_module_rows(data)
    table = read_text_table(data, CSV, source_name="multi.csv").table
    assert table.column_names == expected[0]
    assert [list(row.values()) for row in table.to_pylist()] == expected[1:]


def test_plain_file_with_blank_lines_and_no_final_line_end_reads_every_record() -> None:
    data = b'a,b\n1,x\n\n2,"y, z"\r\n3,w'
    table = read_text_table(data, CSV, source_name="f.csv").table
    assert table.to_pylist() == [
        {"a": "1", "b": "x"},
        {"a": "2", "b": "y, z"},
        {"a": "3", "b": "w"},
    ]


def test_no_per_line_fallback_where_a_line_end_byte_is_not_a_line_end() -> None:
    fmt = SourceFormat(format="csv", delimiter=",", encoding="utf-16-le")
    with pytest.raises(DataQualityError) as info:
        read_text_table("k\n1\n".encode("utf-16-le") + b"\n", fmt, source_name="f.csv")
    assert info.value.rule == "encoding"
    assert "not valid utf-16-le or cp1252" in str(info.value)


def test_a_file_of_many_blocks_decodes_each_line_on_its_own() -> None:
    # ~3 MiB: the decoder works in 1 MiB blocks; invalid lines fall in several of them,
    # and valid non-ASCII lines sit in the same blocks.
    lines = []
    for i in range(60_000):
        if i % 997 == 0:
            lines.append(f"{i},CAF\u00c9 {i}".encode("cp1252"))
        else:
            lines.append(f"{i},M\u00dcNCHEN {'x' * 40}".encode())
    data = b"k,name\n" + b"\n".join(lines) + b"\n"
    result = read_text_table(data, CSV, source_name="big.csv")
    expected = [
        line.decode("utf-8") if i % 997 else line.decode("cp1252") for i, line in enumerate(lines)
    ]
    names = result.table.column("name").to_pylist()
    assert names == [line.split(",", 1)[1] for line in expected]
    assert result.fallback_lines == len(range(0, 60_000, 997))


def test_another_dataset_encoding_keeps_its_valid_lines() -> None:
    # 0x80 is the euro sign in cp1252; 0x81 is undefined there, and U+0081 in latin-1.
    fmt = SourceFormat(format="csv", delimiter=",", encoding="cp1252", fallback_encoding="latin-1")
    result = read_text_table(b"k,v\n1,\x80 5\n2,x\x81y\n3,\xe9\n", fmt, source_name="f.csv")
    assert result.table.column("v").to_pylist() == ["\u20ac 5", "x\x81y", "\u00e9"]
    assert result.fallback_lines == 1


def test_a_stray_byte_past_the_header_bytes_still_takes_the_fallback() -> None:
    # The UTF-8 check of the first MiB passes; the parse's own check must catch the rest.
    lines = [f"{i},plain value {i}" for i in range(120_000)]
    data = ("k,name\n" + "\n".join(lines) + "\n").encode() + b"120000,caf\xe9\n"
    assert len(data) > 2 * 1024 * 1024
    result = read_text_table(data, CSV, source_name="f.csv")
    assert result.table.num_rows == 120_001
    assert result.table.column("name")[-1].as_py() == "caf\u00e9"
    assert result.fallback_lines == 1


def test_a_bad_row_in_a_valid_utf8_file_is_still_a_row_shape_error() -> None:
    data = ("k,name\n" + "1,a\n" * 300_000 + "2,b,extra\n").encode()
    with pytest.raises(DataQualityError, match="line 300002"):
        read_text_table(data, CSV, source_name="f.csv")
