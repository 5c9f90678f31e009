"""Read delimited source files (CSV, TSV, RRF) into Arrow tables of text.

Rule: every column is read as `pa.string()` under its original name (byte-order mark
removed), values untouched (no trimming, empty stays ""): typing and naming are bronze's
job. No type guessing ever, so `00409669510` keeps its zeros. A malformed file fails with a
`DataQualityError` naming the file and the line.

Parsing is pyarrow's multithreaded CSV reader. Only when a file is broken is it parsed a
second time (single-threaded, or with the `csv` module) to find the line number to report.

Encoding (`decoding`): a file valid in the dataset's `encoding` is parsed as it is; only a
file that is not is decoded line by line first (the fallback encoding for invalid lines).
For UTF-8 the parse's own check of every value stands in for the whole-file check, which
then runs only after a failed parse (saves a pass over the file on every valid one).
"""

from __future__ import annotations

import codecs
import csv
import io
import pathlib
from collections.abc import Callable
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any, Literal

import pyarrow as pa
import pyarrow.compute as pc
import pyarrow.csv as pv

from ppdw.errors import DataQualityError
from ppdw.runtime.decoding import UTF8_NAMES, decode_lines, first_invalid_offset, valid_utf8

if TYPE_CHECKING:
    from ppdw.config.models import Source

_BOM = codecs.BOM_UTF8
#: Column that catches the empty field after the trailing `|` of every RRF line.
_RRF_TRAILING = "__rrf_trailing__"
_DEFAULT_BLOCK = 1 << 20
_MAX_BLOCK = 1 << 31  # pyarrow's block_size is an int32
#: The header is looked for in this many first bytes (and they are checked for UTF-8).
_HEAD_BYTES = 1 << 20


@dataclass(frozen=True)
class SourceFormat:
    """How one source file is laid out."""

    format: Literal["csv", "tsv", "rrf"]
    delimiter: str
    encoding: str = "utf-8"
    fallback_encoding: str | None = "cp1252"
    header: bool = True
    columns: tuple[str, ...] | None = None

    @classmethod
    def from_source(cls, source: Source) -> SourceFormat:
        return cls(
            format=source.format,
            delimiter=source.effective_delimiter,
            encoding=source.encoding,
            fallback_encoding=source.fallback_encoding,
            header=False if source.format == "rrf" else source.header,
            columns=tuple(source.columns) if source.columns else None,
        )

    @property
    def quoting(self) -> bool:
        """RRF has no quoting: a `"` is data."""
        return self.format != "rrf"


@dataclass
class ReadResult:
    table: pa.Table  # every column pa.string(), original names, values untrimmed
    encoding: str  # the dataset's encoding, in which every line but the fallback ones was read
    fallback_lines: int = 0  # lines not valid in `encoding`, decoded with `fallback_encoding`


def read_text_table(
    data: bytes | str | pathlib.Path, fmt: SourceFormat, *, source_name: str
) -> ReadResult:
    """Parse one file; see the module docstring for the rules."""
    content = _load(data)
    raw = pa.py_buffer(content)
    if raw.size == 0 or (raw.size == len(_BOM) and raw.to_pybytes() == _BOM):
        raise DataQualityError("empty_source", f"{source_name} is empty (no bytes)")
    if raw.size >= len(_BOM) and raw.slice(0, len(_BOM)).to_pybytes() == _BOM:
        raw = raw.slice(len(_BOM))
    # The parse checks a UTF-8 file itself (pyarrow validates every string value; only the
    # header lines, read apart, are checked here): the whole-file check runs first only for
    # other encodings, and for UTF-8 only once a parse has failed.
    deferred = fmt.encoding.lower() in UTF8_NAMES and valid_utf8(
        raw.slice(0, min(_HEAD_BYTES, raw.size))
    )
    bad = None if deferred else first_invalid_offset(raw, fmt.encoding)
    if bad is None:
        try:
            return ReadResult(
                _parse_text(content, raw, fmt, fmt.encoding, source_name), fmt.encoding
            )
        except (DataQualityError, pa.ArrowInvalid):
            bad = first_invalid_offset(raw, fmt.encoding) if deferred else None
            if bad is None:
                raise  # a fault of the file itself, not of its encoding
    content, fallback_lines = decode_lines(
        raw, bad, fmt.encoding, fmt.fallback_encoding, source_name
    )
    table = _parse_text(content, pa.py_buffer(content), fmt, "utf-8", source_name)
    return ReadResult(table=table, encoding=fmt.encoding, fallback_lines=fallback_lines)


def _parse_text(
    content: bytes, raw: pa.Buffer, fmt: SourceFormat, encoding: str, source_name: str
) -> pa.Table:
    """The table of a file whose bytes are `raw` (`content` after any byte-order mark)."""
    names, skip = _column_names(raw, fmt, encoding, source_name)
    table = _parse_single_lines(content, raw, fmt, encoding, names, skip)
    if table is None:
        table = _parse(raw, fmt, encoding, names, skip, source_name)
    if fmt.format == "rrf":
        table = _drop_rrf_trailing(table, raw, encoding, source_name)
    return table


def _load(data: bytes | str | pathlib.Path) -> bytes:
    if isinstance(data, pathlib.Path):
        return data.read_bytes()
    if isinstance(data, str):
        return data.encode("utf-8")
    return bytes(data)


def _parse_single_lines(
    content: bytes, raw: pa.Buffer, fmt: SourceFormat, encoding: str, names: list[str], skip: int
) -> pa.Table | None:
    """The fast parse, or None when the file needs the full one (`_parse`).

    pyarrow splits a file into blocks at line ends; `newlines_in_values=True` makes that
    split quote-aware, which costs about a third of the parse. The plain split is right when
    no quoted value holds a line end, and then every record is exactly one line: so the
    result is kept only when the parse succeeded and its records plus the header lines equal
    the file's lines. A quoted line end makes a correct parse return fewer records than
    lines, and a block split inside a quoted value fails to parse (records of the wrong
    width) or leaves records spanning lines: either way the full parse runs. Blank lines or
    lone CR line ends also send a file to the full parse (correct, only slower).
    """
    if not fmt.quoting:
        return None  # without quoting the full parse already splits at every line end
    bad: list[_BadRow] = []
    start = len(content) - raw.size  # `raw` is `content` after any byte-order mark
    with ThreadPoolExecutor(max_workers=1) as pool:
        # Counted while pyarrow parses (its parse runs without the GIL).
        newlines = pool.submit(content.count, b"\n", start)
        try:
            table = pv.read_csv(
                pa.BufferReader(raw),
                read_options=_read_options(names, skip, encoding, _DEFAULT_BLOCK, True),
                parse_options=_parse_options(fmt, _recorder(bad), newlines_in_values=False),
                convert_options=_convert_options(names),
            )
        except pa.ArrowInvalid:
            return None
        lines = newlines.result() + (0 if content.endswith(b"\n") else 1)
    if bad or table.num_rows + skip != lines:
        return None
    return table


def _convert_options(names: list[str]) -> pv.ConvertOptions:
    return pv.ConvertOptions(
        column_types=dict.fromkeys(names, pa.string()),
        strings_can_be_null=False,
        quoted_strings_can_be_null=False,
    )


def _column_names(
    raw: pa.Buffer, fmt: SourceFormat, encoding: str, source_name: str
) -> tuple[list[str], int]:
    """Names to give pyarrow, and how many physical lines the header takes."""
    if not fmt.header:
        if not fmt.columns:
            raise DataQualityError("header", f"{source_name}: no header and no column names")
        names = list(fmt.columns)
        return ([*names, _RRF_TRAILING] if fmt.format == "rrf" else names), 0
    head = _decode_head(raw, encoding)
    reader = _csv_reader(head, fmt)
    for row in reader:
        if row:
            return row, reader.line_num
    raise DataQualityError("empty_source", f"{source_name} has no header row")


def _decode_head(raw: pa.Buffer, encoding: str, size: int = _HEAD_BYTES) -> str:
    head: bytes = raw.slice(0, min(size, raw.size)).to_pybytes()
    return head.decode(encoding, errors="ignore")


def _csv_reader(text: str, fmt: SourceFormat) -> Any:
    """The standard library's reader with the same quoting rules as the pyarrow parse."""
    stream = io.StringIO(text, newline="")
    if fmt.quoting:
        return csv.reader(stream, delimiter=fmt.delimiter, quotechar='"', doublequote=True)
    return csv.reader(stream, delimiter=fmt.delimiter, quoting=csv.QUOTE_NONE)


@dataclass
class _BadRow:
    expected: int
    actual: int
    number: int | None
    text: str


def _parse(
    raw: pa.Buffer,
    fmt: SourceFormat,
    encoding: str,
    names: list[str],
    skip: int,
    source_name: str,
    *,
    use_threads: bool = True,
) -> pa.Table:
    bad: list[_BadRow] = []
    block = _DEFAULT_BLOCK
    while True:
        try:
            return pv.read_csv(
                pa.BufferReader(raw),
                read_options=_read_options(names, skip, encoding, block, use_threads),
                parse_options=_parse_options(fmt, _recorder(bad)),
                convert_options=_convert_options(names),
            )
        except pa.ArrowInvalid as exc:
            if "straddle" in str(exc) and block < min(_MAX_BLOCK, raw.size + 1):
                # A field longer than a block (rare, e.g. a 10 MB text): retry with bigger
                # blocks instead of failing; the common case keeps small parallel blocks.
                block = min(_MAX_BLOCK, max(block * 4, raw.size + 1))
                bad.clear()
                continue
            if not bad:
                raise DataQualityError("parse", f"{source_name}: {exc}") from exc
            if bad[0].number is None and use_threads:
                return _parse(raw, fmt, encoding, names, skip, source_name, use_threads=False)
            raise _row_shape_error(bad[0], raw, fmt, encoding, source_name) from exc


def _read_options(
    names: list[str], skip: int, encoding: str, block: int, use_threads: bool
) -> pv.ReadOptions:
    arrow_encoding = "utf8" if encoding.lower() in UTF8_NAMES else encoding
    return pv.ReadOptions(
        column_names=names,
        skip_rows=skip,
        encoding=arrow_encoding,
        block_size=block,
        use_threads=use_threads,
    )


def _parse_options(
    fmt: SourceFormat, handler: Callable[[object], str], *, newlines_in_values: bool = True
) -> pv.ParseOptions:
    return pv.ParseOptions(
        delimiter=fmt.delimiter,
        quote_char='"' if fmt.quoting else False,
        double_quote=fmt.quoting,
        newlines_in_values=fmt.quoting and newlines_in_values,
        invalid_row_handler=handler,
    )


def _recorder(bad: list[_BadRow]) -> Callable[[object], str]:
    def handler(row: object) -> str:
        bad.append(
            _BadRow(
                expected=int(getattr(row, "expected_columns")),  # noqa: B009
                actual=int(getattr(row, "actual_columns")),  # noqa: B009
                number=getattr(row, "number"),  # noqa: B009
                text=str(getattr(row, "text")),  # noqa: B009
            )
        )
        return "error"

    return handler


def _row_shape_error(
    bad: _BadRow, raw: pa.Buffer, fmt: SourceFormat, encoding: str, source_name: str
) -> DataQualityError:
    line = _physical_line(raw, fmt, encoding, bad.number) if bad.number else None
    where = f"line {line}" if line else f"record {bad.number}"
    if fmt.format == "rrf":
        ends = bad.text.endswith(fmt.delimiter)
        fields = bad.actual - 1 if ends else bad.actual
        detail = f"expected {bad.expected - 1} fields each ending with '|', got {fields}"
        if not ends:
            detail += " and no trailing '|'"
    else:
        detail = f"expected {bad.expected} fields, got {bad.actual}"
    detail += f": {bad.text[:80]!r}"
    return DataQualityError("row_shape", f"{source_name}: {where}: {detail}")


def _physical_line(raw: pa.Buffer, fmt: SourceFormat, encoding: str, record: int) -> int:
    """Line where pyarrow's `record` (1-based, blank lines not counted) starts."""
    reader = _csv_reader(raw.to_pybytes().decode(encoding), fmt)
    seen = 0
    previous_end = 0
    for row in reader:
        if row:
            seen += 1
            if seen == record:
                start = previous_end + 1
                return start
        previous_end = reader.line_num
    return record


def _drop_rrf_trailing(
    table: pa.Table, raw: pa.Buffer, encoding: str, source_name: str
) -> pa.Table:
    """Every RRF line ends with `|`: its extra field must be empty, then it is dropped."""
    trailing = table.column(_RRF_TRAILING)
    nonempty = pc.not_equal(trailing, "")
    if pc.any(nonempty).as_py():
        index = pc.index(nonempty, True).as_py()
        line = _nth_nonblank_line(raw, encoding, index + 1)
        raise DataQualityError(
            "row_shape",
            f"{source_name}: line {line}: expected {table.num_columns - 1} fields "
            "and a trailing '|', got more fields",
        )
    return table.drop_columns([_RRF_TRAILING])


def _nth_nonblank_line(raw: pa.Buffer, encoding: str, n: int) -> int:
    seen = 0
    for number, line in enumerate(raw.to_pybytes().decode(encoding).splitlines(), start=1):
        if line.strip("\r\n"):
            seen += 1
            if seen == n:
                return number
    return n
