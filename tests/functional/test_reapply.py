"""Applying a run that was applied already, the last one or an earlier one, changes
nothing (data.md, silver rule 6; issue 10, defect 2), through the CLI against moto.

Runs at 01-10, 02-10 and 03-10; a run at 02-20 is refused (out of order). Then
`--from silver` (and `--from bronze`, and the plain command again) of each applied run
must exit 0 saying it was applied already, and leave silver, the run records and the
last-success pointer byte for byte as they were, so that 02-20 is still refused.
"""

from __future__ import annotations

from pathlib import Path

import pytest

from tests.data.bad import make_bad
from tests.functional._reliability import Warehouse, describe, error_text

pytestmark = pytest.mark.usefixtures("moto_aws")

RUNS = {
    "nsde-20260110-000000": "2026-01-10T00:00:00Z",
    "nsde-20260210-000000": "2026-02-10T00:00:00Z",
    "nsde-20260310-000000": "2026-03-10T00:00:00Z",
}
LATE_RUN_ID, LATE_AS_OF = "nsde-20260220-000000", "2026-02-20T00:00:00Z"
POINTER = "silver/_runs/nsde/_last_success.json"


def snapshots(tmp_path: Path, scenario: str) -> list[Path]:
    """01-10: rows 1-200. 02-10: row 1 renamed, row 2 deleted (rewrites 2026-01, writes
    2026-02). 03-10: rows 201-205 arrive (writes 2026-03 only: 02-10's folders still back
    both its months), and in `closes_january` row 3 is renamed too (2026-01 is rewritten
    again: 02-10's January folder is gone, its February one still registered). The late
    02-20 snapshot brings row 2 back and renames row 1 again."""
    rows = make_bad.nsde_rows()
    second = [list(r) for r in rows if r[2] != "PRODUCT 2"]
    second[0][2] = "PRODUCT 1 RENAMED"
    third = [list(r) for r in second] + [make_bad.nsde_row(i) for i in range(201, 206)]
    if scenario == "closes_january":
        third[1][2] = "PRODUCT 3 RENAMED"
    late = [list(r) for r in rows]
    late[0][2] = "PRODUCT 1 LATE"
    paths = []
    for index, table in enumerate((rows, second, third, late)):
        path = tmp_path / f"snapshot-{index}" / make_bad.BASE_FILE_NAMES["nsde"]
        path.parent.mkdir(parents=True)
        path.write_bytes(make_bad.nsde_zip(make_bad.nsde_bytes(table)))
        paths.append(path)
    return paths


def frozen(wh: Warehouse) -> dict[str, object]:
    """What re-applying may not change: silver and its catalog, the applied runs'
    records, the pointer."""
    return {
        "silver": wh.silver_snapshot("nsde"),
        "records": {run_id: wh.body(f"silver/_runs/nsde/{run_id}.json") for run_id in RUNS},
        "pointer": wh.body(POINTER),
        "raw": {k: wh.body(k) for k in wh.keys("raw/")},
        "bronze": {k: wh.body(k) for k in wh.keys("bronze/")},
    }


@pytest.fixture(params=["inserts_only", "closes_january"])
def applied(
    project: Path, tmp_path: Path, request: pytest.FixtureRequest
) -> tuple[Warehouse, Path]:
    wh = Warehouse(project)
    wh.boot("nsde")
    sources = snapshots(tmp_path, request.param)
    for (run_id, as_of), source in zip(RUNS.items(), sources, strict=False):
        result = wh.run("nsde", source, as_of, run_id)
        assert result.exit_code == 0, describe(result)
    late = wh.run("nsde", sources[3], LATE_AS_OF, LATE_RUN_ID)
    assert late.exit_code == 2, describe(late)
    assert "out_of_order" in error_text(late)
    return wh, sources[3]


@pytest.mark.parametrize("run_id", list(RUNS))
@pytest.mark.parametrize("from_step", ["silver", "bronze"])
def test_an_applied_run_from_a_layer_changes_nothing(
    applied: tuple[Warehouse, Path], run_id: str, from_step: str
) -> None:
    wh, late_source = applied
    before = frozen(wh)

    again = wh.cli("run", "nsde", "--runner", "local", "--from", from_step, "--run-id", run_id)

    assert again.exit_code == 0, describe(again)
    assert f"Run {run_id} of nsde was already applied" in again.stderr
    assert "nothing changed" in again.stderr
    assert "S3 " not in again.stderr
    assert frozen(wh) == before
    assert wh.keys("silver/_runs/nsde/_lock") == []
    status = wh.status("nsde")
    # the refusal was made before the run wrote anything, its record included
    assert status["last_run"]["run_id"] == "nsde-20260310-000000"
    # ... and the order of runs is as it was: 02-20 is still refused
    late = wh.run("nsde", late_source, LATE_AS_OF, LATE_RUN_ID)
    assert late.exit_code == 2, describe(late)
    assert "not later than the last applied run nsde-20260310-000000" in error_text(late)
    assert frozen(wh) == before


def test_the_same_command_again_changes_nothing(applied: tuple[Warehouse, Path]) -> None:
    """The plain command of an applied run (same source, same --as-of): refused, no fetch."""
    wh, _ = applied
    before = frozen(wh)
    source = wh.root.parent / "snapshot-1" / make_bad.BASE_FILE_NAMES["nsde"]

    again = wh.run("nsde", source, RUNS["nsde-20260210-000000"], "nsde-20260210-000000")

    # raw is immutable: a run id fetches once; its layers can be run again with --from
    assert again.exit_code == 2, describe(again)
    assert "run nsde-20260210-000000 of nsde already fetched its source" in again.stderr
    assert "--from bronze --run-id nsde-20260210-000000" in again.stderr
    assert frozen(wh) == before


def test_the_history_stays_right(applied: tuple[Warehouse, Path]) -> None:
    """The issue's sequence: 02-10 re-applied, then 02-20 tried again. Rows 1 and 2 keep
    exactly their versions (no second INSERT, no live version after a tombstone)."""
    wh, late_source = applied
    before = frozen(wh)
    wh.cli(
        "run", "nsde", "--runner", "local", "--from", "silver", "--run-id", "nsde-20260210-000000"
    )
    late = wh.run("nsde", late_source, LATE_AS_OF, LATE_RUN_ID)
    assert late.exit_code == 2, describe(late)
    assert "out_of_order" in error_text(late)  # refused before it wrote raw or bronze
    assert frozen(wh) == before
    rows = wh.reader_rows(wh.silver_db, "nsde")

    def versions(i: int) -> list[tuple[str, str, str, bool]]:
        key = make_bad.nsde_row(i)[1]
        found = [r for r in rows if r["ndc11"] == key]
        found.sort(key=lambda r: (r["record_effective_date"], r["change_type"]))
        return [
            (
                v["change_type"],
                v["proprietary_name"],
                f"{v['record_effective_date']:%m-%d}..{v['record_end_date']:%m-%d}",
                v["is_current"],
            )
            for v in found
        ]

    assert versions(1) == [
        ("INSERT", "PRODUCT 1", "01-10..02-10", False),
        ("UPDATE", "PRODUCT 1 RENAMED", "02-10..12-31", True),
    ]
    assert versions(2) == [
        ("INSERT", "PRODUCT 2", "01-10..02-10", False),
        ("DELETE", "PRODUCT 2", "02-10..02-10", False),
    ]
