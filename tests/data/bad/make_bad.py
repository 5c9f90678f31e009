"""The bad-input corpus: every broken source file ppdw must survive, built from code.

Rule: this module is the single source of truth for the corpus. Small cases are also
committed under `tests/data/bad/corpus/` (so people and outside checks can use them, and
a test keeps them in sync); large ones (zip bomb, 10 MB field) are only generated, into a
temporary folder, at test time. Each case carries the behaviour it must get; `CASES.md`
is the same table for people.

Usage: `python tests/data/bad/make_bad.py OUT_DIR [--small-only]`.
"""

from __future__ import annotations

import base64
import csv
import io
import random
import sys
import zipfile
from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import UTC, datetime
from pathlib import Path
from typing import Literal

HERE = Path(__file__).resolve().parent
CORPUS_DIR = HERE / "corpus"

NSDE_MEMBER = "Comprehensive_NDC_SPL_Data_Elements_File.csv"
NSDE_HEADER = [
    "Item Code",
    "NDC11",
    "Proprietary Name",
    "Dosage Form",
    "Marketing Category",
    "Application Number or Citation",
    "Product Type",
    "Marketing Start Date",
    "Marketing End Date",
    "Billing Unit",
    "Inactivation Date",
    "Reactivation Date",
]
RXNORM_MEMBER = "rrf/RXNCONSO.RRF"
#: Rows of the good base snapshot: 200 makes 1 bad key 0.5% (under the 1% threshold)
#: and 5 bad keys 2.5% (over it).
BASE_ROWS = 200
#: Run times: the good first run, then the bad run (always later).
FIRST_AS_OF = "2026-11-01T06:00:00Z"
BAD_AS_OF = "2026-11-02T06:00:00Z"
FIRST_RUN_ID = "bad-base"
BAD_RUN_ID = "bad-case"
#: After a failed run, a good run at this later time must complete.
NEXT_AS_OF = "2026-11-03T06:00:00Z"
NEXT_RUN_ID = "bad-next"

#: Fixed zip timestamps make the archives reproducible.
_ZIP_TIME = (2026, 11, 1, 6, 0, 0)
_FORMS = ["TABLET", "INJECTION, SOLUTION", "CAPSULE", "CREAM", "SOLUTION"]
_CATEGORIES = ["NDA", "ANDA", "BLA", "OTC MONOGRAPH FINAL"]

Dataset = Literal["nsde", "rxnorm"]
Outcome = Literal["ok", "fail"]


# ------------------------------------------------------------------------ good snapshots


def nsde_row(i: int) -> list[str]:
    """One real-shaped NSDE row; NDC11 keeps its leading zeros."""
    labeler, product, package = f"{i:05d}", f"{(i * 7) % 1000:03d}", f"{i % 100:02d}"
    start = datetime(2010 + i % 15, 1 + i % 12, 1 + i % 28, tzinfo=UTC).strftime("%Y%m%d")
    return [
        f"{labeler}-{product}-{package}",
        f"{labeler}0{product}{package}",
        f"PRODUCT {i}",
        _FORMS[i % len(_FORMS)],
        _CATEGORIES[i % len(_CATEGORIES)],
        f"NDA{18000 + i:06d}",
        "HUMAN PRESCRIPTION DRUG " if i % 9 == 0 else "HUMAN PRESCRIPTION DRUG",
        start,
        "20301231" if i % 10 == 0 else "",
        "ML" if i % 2 else "EA",
        "",
        "",
    ]


def nsde_rows(count: int = BASE_ROWS) -> list[list[str]]:
    return [nsde_row(i) for i in range(1, count + 1)]


def csv_text(header: list[str] | None, rows: list[list[str]]) -> str:
    """CSV as FDA writes it: comma, minimal quoting, LF line ends (the BOM is added later)."""
    buffer = io.StringIO()
    writer = csv.writer(buffer, lineterminator="\n")
    if header is not None:
        writer.writerow(header)
    writer.writerows(rows)
    return buffer.getvalue()


def nsde_bytes(
    rows: list[list[str]], header: list[str] | None = None, encoding: str = "utf-8"
) -> bytes:
    text = csv_text(NSDE_HEADER if header is None else header, rows)
    return b"\xef\xbb\xbf" + text.encode(encoding)


def rxnconso_line(i: int) -> str:
    """A real-shaped RXNCONSO line: 18 fields, each followed by `|`."""
    fields = [str(100 + i), "ENG", "", "", "", "", "", str(900000 + i), str(900000 + i)]
    fields += [str(100 + i), "", "RXNORM", "BN" if i % 2 else "SCD", str(100 + i)]
    fields += [f"Drug {i}", "", "N", "4096"]
    return "|".join(fields) + "|"


def rxnorm_bytes(lines: list[str]) -> bytes:
    return ("\n".join(lines) + "\n").encode("utf-8")


def zip_bytes(members: dict[str, bytes]) -> bytes:
    buffer = io.BytesIO()
    with zipfile.ZipFile(buffer, "w") as archive:
        for name, body in members.items():
            info = zipfile.ZipInfo(name, date_time=_ZIP_TIME)
            info.compress_type = zipfile.ZIP_DEFLATED
            archive.writestr(info, body)
    return buffer.getvalue()


def nsde_zip(body: bytes) -> bytes:
    return zip_bytes({NSDE_MEMBER: body})


def rxnorm_zip(body: bytes) -> bytes:
    return zip_bytes({RXNORM_MEMBER: body})


def nsde_base() -> bytes:
    return nsde_zip(nsde_bytes(nsde_rows()))


def rxnorm_base() -> bytes:
    return rxnorm_zip(rxnorm_bytes([rxnconso_line(i) for i in range(1, BASE_ROWS + 1)]))


def nsde_next() -> bytes:
    """The good snapshot after the base: one record changed (1 UPDATE, nothing else)."""
    rows = nsde_rows()
    rows[0][2] = "PRODUCT 1 NEW NAME"
    return nsde_zip(nsde_bytes(rows))


def rxnorm_next() -> bytes:
    lines = [rxnconso_line(i) for i in range(1, BASE_ROWS + 1)]
    lines[0] = lines[0].replace("|Drug 1|", "|Drug 1 new name|")
    return rxnorm_zip(rxnorm_bytes(lines))


BASES: dict[Dataset, Callable[[], bytes]] = {"nsde": nsde_base, "rxnorm": rxnorm_base}
NEXT: dict[Dataset, Callable[[], bytes]] = {"nsde": nsde_next, "rxnorm": rxnorm_next}
BASE_FILE_NAMES: dict[Dataset, str] = {
    "nsde": "Comprehensive_NDC_SPL_Data_Elements_File.zip",
    "rxnorm": "RxNorm_full_prescribe_11022026.zip",
}


# ---------------------------------------------------------------------------- the cases


@dataclass(frozen=True)
class Expect:
    """What a run of the case must end in."""

    outcome: Outcome
    exit_code: int
    #: Each group: the error message must contain at least one of its strings
    #: (the file, the rule, the line). Checked case-insensitively.
    mentions: tuple[tuple[str, ...], ...] = ()


@dataclass(frozen=True)
class Case:
    name: str
    dataset: Dataset
    summary: str
    expect: Expect
    build: Callable[[], bytes]
    large: bool = False
    #: Extra `ppdw run` arguments (e.g. `--force`).
    args: tuple[str, ...] = ()
    #: `silver` options written into the project's dataset.json before the run.
    silver_options: dict[str, str] = field(default_factory=dict)

    @property
    def file_name(self) -> str:
        return f"{self.name}.zip"


def _fail(*mentions: tuple[str, ...]) -> Expect:
    return Expect("fail", 1, mentions)


_OK = Expect("ok", 0)
#: A message names the file when it names the source file or the member read from it.
_NSDE_FILE = (NSDE_MEMBER, ".zip")
_RXN_FILE = ("RXNCONSO.RRF", ".zip")


def _with_rows(mutate: Callable[[list[list[str]]], list[list[str]]]) -> Callable[[], bytes]:
    return lambda: nsde_zip(nsde_bytes(mutate(nsde_rows())))


def _blank_keys(count: int, blank: str) -> Callable[[], bytes]:
    def mutate(rows: list[list[str]]) -> list[list[str]]:
        for index in range(count):
            rows[10 + index * 20][1] = blank if index % 2 else ""
        return rows

    return _with_rows(mutate)


def _conflicting_duplicate(rows: list[list[str]]) -> list[list[str]]:
    # Row 5 repeated identically (collapses), row 7 repeated with another name (conflict).
    first, second = list(rows[4]), list(rows[6])
    second[2] = "PRODUCT 7 RENAMED"
    return [*rows, first, second]


def _delete_ninety_percent(rows: list[list[str]]) -> list[list[str]]:
    return rows[: len(rows) // 10]


def _invalid_dates(rows: list[list[str]]) -> list[list[str]]:
    rows[3][7] = "20161332"
    rows[4][7] = "not a date"
    rows[5][8] = "2016-02-10"
    return rows


def _with_line(line_no: int, line: bytes) -> Callable[[], bytes]:
    """Insert a raw line so it becomes physical line `line_no` (1-based, header = 1)."""

    def build() -> bytes:
        lines = nsde_bytes(nsde_rows()).split(b"\n")
        lines.insert(line_no - 1, line)
        return nsde_zip(b"\n".join(lines))

    return build


def _renamed_column() -> bytes:
    header = ["Brand Name" if h == "Proprietary Name" else h for h in NSDE_HEADER]
    return nsde_zip(nsde_bytes(nsde_rows(), header=header))


def _missing_key_column() -> bytes:
    keep = [i for i, h in enumerate(NSDE_HEADER) if h != "NDC11"]
    rows = [[row[i] for i in keep] for row in nsde_rows()]
    return nsde_zip(nsde_bytes(rows, header=[NSDE_HEADER[i] for i in keep]))


def _cp1252_byte() -> bytes:
    # 0xE9 is not valid UTF-8 here but is `é` in cp1252: the fallback reads the file.
    rows = nsde_rows()
    body = nsde_bytes(rows).replace(b"PRODUCT 3,", b"PRODUCT 3 CAF\xe9,", 1)
    return nsde_zip(body)


#: Valid UTF-8 names that a whole-file cp1252 read would garble (`MÃœNCHEN`).
UTF8_NAMES = {3: "CAF\u00c9", 4: "M\u00dcNCHEN"}
#: `NI\xd1O`: cp1252 for `NIÑO`, not valid UTF-8.
STRAY_NAME = "NI\u00d1O"


def _utf8_with_stray_cp1252_byte() -> bytes:
    rows = nsde_rows()
    for i, name in UTF8_NAMES.items():
        rows[i - 1][2] = name
    body = nsde_bytes(rows).replace(b"PRODUCT 5,", b"NI\xd1O,", 1)
    return nsde_zip(body)


def _cp1252_whole_file() -> bytes:
    rows = nsde_rows()
    for i, name in {**UTF8_NAMES, 5: STRAY_NAME}.items():
        rows[i - 1][2] = name
    return nsde_zip(nsde_bytes(rows, encoding="cp1252"))


#: A quoted value over two lines: the first valid UTF-8, the second with a cp1252 byte.
MULTILINE_NAME = "LINE ONE M\u00dcNCHEN\nLINE TWO NI\u00d1O"


def _cp1252_in_quoted_multiline_value() -> bytes:
    rows = nsde_rows()
    rows[2][2] = MULTILINE_NAME
    body = nsde_bytes(rows).replace("TWO NI\u00d1O".encode(), b"TWO NI\xd1O", 1)
    return nsde_zip(body)


def _extra_column(name: str, value: str) -> Callable[[], bytes]:
    """The base with one more column, holding `value` in the first row only."""

    def build() -> bytes:
        rows = nsde_rows()
        for index, row in enumerate(rows):
            row.append(value if index == 0 else "")
        return nsde_zip(nsde_bytes(rows, header=[*NSDE_HEADER, name]))

    return build


def _undecodable_bytes() -> bytes:
    # 0x81 is invalid in UTF-8 (as a lead byte) and undefined in cp1252: both fail.
    body = nsde_bytes(nsde_rows()).replace(b"PRODUCT 3,", b"PRODUCT 3 \x81\x8d,", 1)
    return nsde_zip(body)


def _truncated_zip() -> bytes:
    whole = nsde_base()
    return whole[: len(whole) // 2]


def huge_value() -> str:
    """10 MB of random base64 letters: an ordinary archive (10 MB of one letter would
    compress like a zip bomb and be refused by the archive checks instead)."""
    return base64.b64encode(random.Random(6).randbytes(10 * 1024 * 1024 * 3 // 4)).decode()


def _huge_field() -> bytes:
    rows = nsde_rows()
    rows[2][2] = huge_value()
    return nsde_zip(nsde_bytes(rows))


def _zip_bomb() -> bytes:
    """A ~100 KB zip whose one member claims 100 MB: ratio ~1000, over the default 200."""
    buffer = io.BytesIO()
    with zipfile.ZipFile(buffer, "w") as archive:
        info = zipfile.ZipInfo(NSDE_MEMBER, date_time=_ZIP_TIME)
        info.compress_type = zipfile.ZIP_DEFLATED
        with archive.open(info, "w", force_zip64=True) as member:
            member.write(nsde_bytes(nsde_rows(2)))
            chunk = b"\n" * (1024 * 1024)
            for _ in range(100):
                member.write(chunk)
    return buffer.getvalue()


def _rrf_lines(mutate: Callable[[list[str]], list[str]]) -> Callable[[], bytes]:
    return lambda: rxnorm_zip(
        rxnorm_bytes(mutate([rxnconso_line(i) for i in range(1, BASE_ROWS + 1)]))
    )


def _rrf_drop_trailing_pipe(lines: list[str]) -> list[str]:
    lines[4] = lines[4][:-1]
    return lines


def _rrf_cut_line(lines: list[str]) -> list[str]:
    # A download cut mid-line: the last line stops inside the STR field.
    lines[-1] = lines[-1][: lines[-1].index("Drug") + 3]
    return lines


def _rrf_non_utf8() -> bytes:
    lines = [rxnconso_line(i) for i in range(1, BASE_ROWS + 1)]
    body = rxnorm_bytes(lines).replace(b"|Drug 3|", b"|Drug 3 \xe9|", 1)
    return rxnorm_zip(body)


def _rrf_conflicting_duplicate(lines: list[str]) -> list[str]:
    return [*lines, lines[6].replace("|Drug 7|", "|Drug 7 renamed|")]


CASES: tuple[Case, ...] = (
    Case(
        "empty_member",
        "nsde",
        "the CSV member is 0 bytes",
        _fail(_NSDE_FILE, ("empty_source",)),
        lambda: nsde_zip(b""),
    ),
    Case(
        "header_only",
        "nsde",
        "header row, no data rows: would delete every current key",
        _fail(_NSDE_FILE, ("empty_source", "max_delete_ratio")),
        lambda: nsde_zip(nsde_bytes([])),
    ),
    Case(
        "zip_no_matching_member",
        "nsde",
        "zip holds only readme.txt, nothing matching `*.csv`",
        _fail(("zip_no_matching_member.zip",), ("no_member",), ("*.csv",)),
        lambda: zip_bytes({"readme.txt": b"nothing here\n"}),
    ),
    Case(
        "zip_truncated",
        "nsde",
        "the first half of a valid zip (download cut short)",
        _fail(("zip_truncated.zip",), ("archive_corrupt",)),
        _truncated_zip,
    ),
    Case(
        "zip_parent_path",
        "nsde",
        "member `../../escape.csv`",
        _fail(("zip_parent_path.zip",), ("archive_unsafe",), ("../../escape.csv",)),
        lambda: zip_bytes({"../../escape.csv": nsde_bytes(nsde_rows())}),
    ),
    Case(
        "zip_absolute_path",
        "nsde",
        "member `/tmp/escape.csv`",
        _fail(("zip_absolute_path.zip",), ("archive_unsafe",), ("/tmp/escape.csv",)),
        lambda: zip_bytes({"/tmp/escape.csv": nsde_bytes(nsde_rows())}),
    ),
    Case(
        "zip_bomb",
        "nsde",
        "~100 KB zip, one member of 100 MB (ratio ~1000 > max_compression_ratio 200)",
        _fail(("zip_bomb.zip",), ("archive_unsafe",), ("zip bomb",)),
        _zip_bomb,
        large=True,
    ),
    Case(
        "missing_key_column",
        "nsde",
        "no NDC11 column",
        _fail(_NSDE_FILE, ("missing_column",), ("ndc11",)),
        _missing_key_column,
    ),
    Case(
        "renamed_column",
        "nsde",
        "`Proprietary Name` renamed `Brand Name`",
        _fail(_NSDE_FILE, ("missing_column",), ("proprietary_name",)),
        _renamed_column,
    ),
    Case(
        "new_column",
        "nsde",
        "extra column `Labeler Name`, a value in one row only",
        _OK,
        _extra_column("Labeler Name", "ACME LABS"),
    ),
    Case(
        "cp1252_byte",
        "nsde",
        "a stray cp1252 byte (0xE9) in one value: read with the fallback encoding",
        _OK,
        _cp1252_byte,
    ),
    Case(
        "utf8_with_stray_cp1252_byte",
        "nsde",
        "valid UTF-8 `CAFÉ`, `MÜNCHEN` on lines 4, 5 and cp1252 `NI\\xd1O` on line 6: "
        "only line 6 is read with the fallback",
        _OK,
        _utf8_with_stray_cp1252_byte,
    ),
    Case(
        "cp1252_whole_file",
        "nsde",
        "the whole file in cp1252, three lines with non-ASCII names",
        _OK,
        _cp1252_whole_file,
    ),
    Case(
        "cp1252_in_quoted_multiline_value",
        "nsde",
        "a quoted value over two lines: UTF-8 `MÜNCHEN` on the first, cp1252 `NI\\xd1O` on "
        "the second",
        _OK,
        _cp1252_in_quoted_multiline_value,
    ),
    Case(
        "undecodable_bytes",
        "nsde",
        "bytes 0x81 0x8D: invalid in UTF-8 and in cp1252",
        _fail(_NSDE_FILE, ("encoding",), ("line 4",)),
        _undecodable_bytes,
    ),
    Case(
        "meta_named_column",
        "nsde",
        "extra column `Meta Notes`, a value in one row only: a business column like any other",
        _OK,
        _extra_column("Meta Notes", "CHECKED"),
    ),
    Case(
        "reserved_column_name",
        "nsde",
        "extra column `Record Hash`: a name silver writes itself",
        _fail(_NSDE_FILE, ("reserved_column",), ("Record Hash",)),
        _extra_column("Record Hash", "x"),
    ),
    Case(
        "reserved_meta_column_name",
        "nsde",
        "extra column `META_SOURCE_FILE`: a name bronze writes itself",
        _fail(_NSDE_FILE, ("reserved_column",), ("META_SOURCE_FILE",)),
        _extra_column("META_SOURCE_FILE", "x"),
    ),
    Case(
        "too_many_fields",
        "nsde",
        "line 4 has 13 fields instead of 12",
        _fail(_NSDE_FILE, ("row_shape",), ("line 4",)),
        _with_line(4, b"99999-999-99,99999099999,EXTRA,TABLET,NDA,NDA1,HUMAN,20200101,,EA,,,x"),
    ),
    Case(
        "too_few_fields",
        "nsde",
        "line 4 has 5 fields instead of 12",
        _fail(_NSDE_FILE, ("row_shape",), ("line 4",)),
        _with_line(4, b"99999-999-99,99999099999,SHORT,TABLET,NDA"),
    ),
    Case(
        "huge_field",
        "nsde",
        "one value of 10 MB",
        _OK,
        _huge_field,
        large=True,
    ),
    Case(
        "null_keys_below_threshold",
        "nsde",
        "1 of 200 rows (0.5%) with an empty NDC11: rejected, run succeeds",
        _OK,
        _blank_keys(1, "   "),
    ),
    Case(
        "null_keys_above_threshold",
        "nsde",
        "5 of 200 rows (2.5%) with an empty or blank NDC11: over max_reject_ratio 1%",
        _fail(_NSDE_FILE, ("null_business_key",), ("max_reject_ratio",)),
        _blank_keys(5, "   "),
    ),
    Case(
        "duplicate_keys_keep_last",
        "nsde",
        "one key repeated identically, one repeated with another name (keep_last)",
        _OK,
        _with_rows(_conflicting_duplicate),
    ),
    Case(
        "duplicate_keys_fail",
        "nsde",
        "the same file under on_duplicate_key=fail",
        _fail(_NSDE_FILE, ("duplicate_key",), ("00007004907",)),
        _with_rows(_conflicting_duplicate),
        silver_options={"on_duplicate_key": "fail"},
    ),
    Case(
        "delete_ninety_percent",
        "nsde",
        "only 20 of the 200 current keys remain (a truncated extract)",
        _fail(_NSDE_FILE, ("max_delete_ratio",)),
        _with_rows(_delete_ninety_percent),
    ),
    Case(
        "delete_ninety_percent_forced",
        "nsde",
        "the same file with --force: 180 keys tombstoned",
        _OK,
        _with_rows(_delete_ninety_percent),
        args=("--force",),
    ),
    Case(
        "invalid_dates",
        "nsde",
        "`20161332`, `not a date`, `2016-02-10` in date columns: null and counted",
        _OK,
        _with_rows(_invalid_dates),
    ),
    Case(
        "rrf_missing_trailing_pipe",
        "rxnorm",
        "line 5 has its 18 fields but no trailing `|` (every RRF line must end with one)",
        _fail(_RXN_FILE, ("row_shape",), ("line 5",)),
        _rrf_lines(_rrf_drop_trailing_pipe),
    ),
    Case(
        "rrf_cut_last_line",
        "rxnorm",
        "the last line stops mid-field (15 fields)",
        _fail(_RXN_FILE, ("row_shape",), (f"line {BASE_ROWS}",)),
        _rrf_lines(_rrf_cut_line),
    ),
    Case(
        "rrf_non_utf8",
        "rxnorm",
        "byte 0xE9 in RXNCONSO (no fallback encoding configured for rxnorm)",
        _fail(_RXN_FILE, ("encoding",), ("line 3",)),
        _rrf_non_utf8,
    ),
    Case(
        "rrf_duplicate_keys_fail",
        "rxnorm",
        "one RXAUI twice with different STR (rxnorm uses on_duplicate_key=fail)",
        _fail(_RXN_FILE, ("duplicate_key",), ("900007",)),
        _rrf_lines(_rrf_conflicting_duplicate),
    ),
)

CASES_BY_NAME: dict[str, Case] = {case.name: case for case in CASES}


def build(case: Case, out_dir: Path) -> Path:
    """Write one case's source file into `out_dir/{dataset}/` and return its path."""
    folder = out_dir / case.dataset
    folder.mkdir(parents=True, exist_ok=True)
    path = folder / case.file_name
    path.write_bytes(case.build())
    return path


def build_base(dataset: Dataset, out_dir: Path) -> Path:
    folder = out_dir / dataset / "base"
    folder.mkdir(parents=True, exist_ok=True)
    path = folder / BASE_FILE_NAMES[dataset]
    path.write_bytes(BASES[dataset]())
    return path


def build_all(out_dir: Path, *, small_only: bool = False) -> dict[str, Path]:
    written = {f"{d}_base": build_base(d, out_dir) for d in ("nsde", "rxnorm")}
    for case in CASES:
        if case.large and small_only:
            continue
        written[case.name] = build(case, out_dir)
    return written


def main(argv: list[str]) -> int:
    if not argv or argv[0].startswith("-"):
        print(__doc__.strip().splitlines()[-1], file=sys.stderr)
        return 2
    out_dir = Path(argv[0])
    for name, path in build_all(out_dir, small_only="--small-only" in argv).items():
        print(f"{name}: {path} ({path.stat().st_size} bytes)")
    return 0


if __name__ == "__main__":
    raise SystemExit(main(sys.argv[1:]))
