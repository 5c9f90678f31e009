"""Every case of the bad-input corpus through the real pipeline (`ppdw run --runner local`).

A failing case must exit with its documented code, name the file, the rule and (where it
applies) the line, leave silver byte-for-byte as it was, and let the next good run
complete. A case with documented handling must succeed and show that handling in silver.
The table of cases and outcomes is `tests/data/bad/make_bad.py` (and CASES.md).
"""

from __future__ import annotations

import io
import zipfile
from collections.abc import Callable
from pathlib import Path

import pyarrow as pa
import pyarrow.parquet as pq
import pytest

from tests.data.bad import make_bad
from tests.data.bad.make_bad import (
    BAD_AS_OF,
    BAD_RUN_ID,
    FIRST_AS_OF,
    FIRST_RUN_ID,
    NEXT_AS_OF,
    NEXT_RUN_ID,
    Case,
)
from tests.functional._reliability import (
    Warehouse,
    assert_mentions,
    base_source,
    describe,
    error_text,
    find_values,
    next_source,
    set_silver_options,
)

pytestmark = pytest.mark.usefixtures("moto_aws")


@pytest.fixture(scope="module")
def corpus(tmp_path_factory: pytest.TempPathFactory) -> dict[str, Path]:
    """The whole corpus, large cases included, generated once for this module."""
    return make_bad.build_all(tmp_path_factory.mktemp("bad"))


def _ndc11(i: int) -> str:
    return make_bad.nsde_row(i)[1]


def _changes(wh: Warehouse, dataset: str) -> dict[str, int]:
    return dict(wh.status(dataset)["silver"]["last_changes"])


def _run_record(wh: Warehouse, dataset: str, run_id: str) -> str:
    return wh.body(f"silver/_runs/{dataset}/{run_id}.json").decode()


# -------------------------------------------------- checks of cases with documented handling


def _check_new_column(wh: Warehouse) -> None:
    current = wh.current("nsde")
    assert current[_ndc11(1)]["labeler_name"] == "ACME LABS"
    assert all(row["labeler_name"] is None for key, row in current.items() if key != _ndc11(1))
    assert ("labeler_name", "string") in wh.table_columns(wh.silver_db, "nsde")
    # A new column still null changes no hash: only the row holding a value is an UPDATE.
    assert _changes(wh, "nsde") == {"INSERT": 0, "UPDATE": 1, "DELETE": 0}


def _check_cp1252(wh: Warehouse) -> None:
    assert wh.current("nsde")[_ndc11(3)]["proprietary_name"] == "PRODUCT 3 CAF\u00e9"
    assert _changes(wh, "nsde") == {"INSERT": 0, "UPDATE": 1, "DELETE": 0}
    assert _fallback_lines(wh) == 1


def _fallback_lines(wh: Warehouse) -> int:
    """Lines the bad run read with the fallback encoding, from its run record."""
    record = _load(_run_record(wh, "nsde", BAD_RUN_ID))
    bronze = record["steps"]["bronze"]["stats"]  # type: ignore[index]
    return int(bronze["fallback_lines"])


def _check_utf8_with_stray_byte(wh: Warehouse) -> None:
    current = wh.current("nsde")
    # Valid UTF-8 lines are read as UTF-8 (not `CAFÃ‰`, `MÃœNCHEN`); only line 6 is cp1252.
    names = {i: current[_ndc11(i)]["proprietary_name"] for i in (3, 4, 5, 6)}
    assert names == {**make_bad.UTF8_NAMES, 5: make_bad.STRAY_NAME, 6: "PRODUCT 6"}
    assert _changes(wh, "nsde") == {"INSERT": 0, "UPDATE": 3, "DELETE": 0}
    assert _fallback_lines(wh) == 1


def _check_cp1252_whole_file(wh: Warehouse) -> None:
    current = wh.current("nsde")
    names = {i: current[_ndc11(i)]["proprietary_name"] for i in (3, 4, 5)}
    assert names == {**make_bad.UTF8_NAMES, 5: make_bad.STRAY_NAME}
    assert _changes(wh, "nsde") == {"INSERT": 0, "UPDATE": 3, "DELETE": 0}
    assert _fallback_lines(wh) == 3


def _check_cp1252_multiline(wh: Warehouse) -> None:
    assert wh.current("nsde")[_ndc11(3)]["proprietary_name"] == make_bad.MULTILINE_NAME
    assert _changes(wh, "nsde") == {"INSERT": 0, "UPDATE": 1, "DELETE": 0}
    assert _fallback_lines(wh) == 1


def _check_meta_named_column(wh: Warehouse) -> None:
    current = wh.current("nsde")
    assert current[_ndc11(1)]["meta_notes"] == "CHECKED"
    assert all(row["meta_notes"] is None for key, row in current.items() if key != _ndc11(1))
    assert ("meta_notes", "string") in wh.table_columns(wh.silver_db, "nsde")
    # A source column is tracked whatever its name: the row holding a value is an UPDATE.
    assert _changes(wh, "nsde") == {"INSERT": 0, "UPDATE": 1, "DELETE": 0}


def _check_huge_field(wh: Warehouse) -> None:
    value = wh.current("nsde")[_ndc11(3)]["proprietary_name"]
    assert len(value) == 10 * 1024 * 1024
    assert value == make_bad.huge_value()
    assert _changes(wh, "nsde") == {"INSERT": 0, "UPDATE": 1, "DELETE": 0}


def _check_null_keys_below(wh: Warehouse) -> None:
    # Row 11 lost its key: rejected (and kept for inspection); its old key is gone from
    # this full extract, so it is tombstoned.
    rejects = wh.keys(f"silver/_rejects/nsde/run_id={BAD_RUN_ID}/")
    assert rejects, "rejected rows not written"
    # Kept as bronze holds them: its columns and types (the meta columns plain strings).
    rejected = pq.read_table(io.BytesIO(wh.body(rejects[0])))
    assert rejected.num_rows == 1
    assert rejected.column("meta_source_file").to_pylist() == [make_bad.NSDE_MEMBER]
    assert rejected.column("meta_run_id").to_pylist() == [BAD_RUN_ID]
    assert rejected.schema.field("meta_source_file").type == pa.string()
    assert rejected.schema.field("meta_run_id").type == pa.string()
    assert _ndc11(11) not in wh.current("nsde")
    assert _changes(wh, "nsde") == {"INSERT": 0, "UPDATE": 0, "DELETE": 1}
    assert 1 in list(find_values(_load(_run_record(wh, "nsde", BAD_RUN_ID)), "rejected"))


def _check_keep_last(wh: Warehouse) -> None:
    current = wh.current("nsde")
    assert len(current) == make_bad.BASE_ROWS
    assert current[_ndc11(7)]["proprietary_name"] == "PRODUCT 7 RENAMED"
    assert current[_ndc11(5)]["proprietary_name"] == "PRODUCT 5"
    assert _changes(wh, "nsde") == {"INSERT": 0, "UPDATE": 1, "DELETE": 0}


def _check_forced_delete(wh: Warehouse) -> None:
    assert len(wh.current("nsde")) == make_bad.BASE_ROWS // 10
    assert _changes(wh, "nsde") == {"INSERT": 0, "UPDATE": 0, "DELETE": 180}


def _check_invalid_dates(wh: Warehouse) -> None:
    current = wh.current("nsde")
    assert current[_ndc11(4)]["marketing_start_date"] is None
    assert current[_ndc11(5)]["marketing_start_date"] is None
    assert current[_ndc11(6)]["marketing_end_date"] is None
    assert current[_ndc11(7)]["marketing_start_date"] is not None
    record = _load(_run_record(wh, "nsde", BAD_RUN_ID))
    counted = [
        found
        for found in find_values(record, "marketing_start_date")
        if isinstance(found, int) and found == 2
    ]
    assert counted, f"parse failures of marketing_start_date not counted: {record}"


def _load(text: str) -> object:
    import json

    return json.loads(text)


CHECKS: dict[str, Callable[[Warehouse], None]] = {
    "new_column": _check_new_column,
    "cp1252_byte": _check_cp1252,
    "utf8_with_stray_cp1252_byte": _check_utf8_with_stray_byte,
    "cp1252_whole_file": _check_cp1252_whole_file,
    "cp1252_in_quoted_multiline_value": _check_cp1252_multiline,
    "meta_named_column": _check_meta_named_column,
    "huge_field": _check_huge_field,
    "null_keys_below_threshold": _check_null_keys_below,
    "duplicate_keys_keep_last": _check_keep_last,
    "delete_ninety_percent_forced": _check_forced_delete,
    "invalid_dates": _check_invalid_dates,
}


def test_every_successful_case_has_a_check() -> None:
    assert {c.name for c in make_bad.CASES if c.expect.outcome == "ok"} == set(CHECKS)


def test_committed_corpus_matches_the_generator(tmp_path: Path) -> None:
    fresh = make_bad.build_all(tmp_path, small_only=True)
    committed = make_bad.CORPUS_DIR
    for path in fresh.values():
        twin = committed / path.relative_to(tmp_path)
        assert twin.is_file(), f"{twin} missing: run make_bad.py {committed} --small-only"
        assert _members(twin) == _members(path), f"{twin} is stale"


def _members(path: Path) -> dict[str, bytes] | bytes:
    try:
        with zipfile.ZipFile(io.BytesIO(path.read_bytes())) as archive:
            return {info.filename: archive.read(info) for info in archive.infolist()}
    except zipfile.BadZipFile:
        return path.read_bytes()


# ------------------------------------------------------------------------------ the run


@pytest.mark.parametrize("case", make_bad.CASES, ids=lambda c: c.name)
def test_bad_input(case: Case, project: Path, corpus: dict[str, Path], tmp_path: Path) -> None:
    if case.silver_options:
        set_silver_options(project, case.dataset, **case.silver_options)
    wh = Warehouse(project)
    wh.boot(case.dataset)
    first = wh.run(case.dataset, base_source(tmp_path, case.dataset), FIRST_AS_OF, FIRST_RUN_ID)
    assert first.exit_code == 0, describe(first)
    before = wh.silver_snapshot(case.dataset)
    assert before["partitions"], "the good first run registered no silver partition"

    result = wh.run(case.dataset, corpus[case.name], BAD_AS_OF, BAD_RUN_ID, *case.args)

    assert result.exit_code == case.expect.exit_code, describe(result)
    if case.expect.outcome == "ok":
        CHECKS[case.name](wh)
        return
    assert_mentions(error_text(result), case.expect.mentions)
    assert wh.silver_snapshot(case.dataset) == before, "a failed run changed silver"
    status = wh.status(case.dataset)
    assert status["last_run"]["run_id"] == BAD_RUN_ID, status
    assert status["last_run"]["status"] == "failed", status

    after = wh.run(case.dataset, next_source(tmp_path, case.dataset), NEXT_AS_OF, NEXT_RUN_ID)
    assert after.exit_code == 0, describe(after)
    assert _changes(wh, case.dataset) == {"INSERT": 0, "UPDATE": 1, "DELETE": 0}


def test_archive_checks_write_no_member(
    project: Path, corpus: dict[str, Path], tmp_path: Path
) -> None:
    """An unsafe archive is refused before anything is extracted, anywhere in the bucket."""
    wh = Warehouse(project)
    wh.boot("nsde")
    for number, name in enumerate(["zip_parent_path", "zip_absolute_path", "zip_bomb"]):
        result = wh.run("nsde", corpus[name], BAD_AS_OF, f"unsafe-{number}")
        assert result.exit_code == 1, describe(result)
        escaped = [k for k in wh.keys("") if "escape" in k or k.endswith(".csv")]
        assert escaped == [], escaped


def test_every_case_is_documented() -> None:
    documented = (Path(make_bad.__file__).parent / "CASES.md").read_text()
    missing = [c.name for c in make_bad.CASES if f"`{c.name}`" not in documented]
    assert missing == []
