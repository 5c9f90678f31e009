"""`ppdw revert` through the CLI on `--target aws` (moto): exact, repeatable, kill-safe.

Silver is compared the way a reader sees it: every row, every column (closed versions and
tombstones included) of the files at the registered partitions' locations.
"""

from __future__ import annotations

import csv
import io
import json
import zipfile
from pathlib import Path
from typing import Any

import pytest

from ppdw.runtime import revert as undo
from tests.functional._reliability import Warehouse, describe

pytestmark = pytest.mark.usefixtures("moto_aws")

SAMPLE = "fda/nsde/sample/{day}/Comprehensive_NDC_SPL_Data_Elements_File.zip"
MEMBER = "Comprehensive_NDC_SPL_Data_Elements_File.csv"


def _rows(path: Path) -> tuple[list[str], list[list[str]]]:
    with zipfile.ZipFile(path) as archive:
        text = archive.read(archive.namelist()[0]).decode("utf-8-sig")
    header, *rows = list(csv.reader(io.StringIO(text)))
    return header, rows


def _write(path: Path, header: list[str], rows: list[list[str]]) -> Path:
    buffer = io.StringIO()
    csv.writer(buffer, lineterminator="\n").writerows([header, *rows])
    path.parent.mkdir(parents=True, exist_ok=True)
    with zipfile.ZipFile(path, "w") as archive:
        archive.writestr(MEMBER, buffer.getvalue())
    return path


def churn(root: Path, out: Path) -> list[Path]:
    """Two snapshots after the third sample, in later months: updates, deletes, new keys,
    and deleted keys coming back, so the later runs close versions in older partitions."""
    header, base = _rows(root / SAMPLE.format(day="2026-11-03"))
    name = header.index("Proprietary Name")
    ndc = header.index("NDC11")

    def renamed(row: list[str], suffix: str) -> list[str]:
        return [*row[:name], f"{row[name]} {suffix}", *row[name + 1 :]]

    fresh = [[*base[0][:ndc], f"99999{i:06d}", *base[0][ndc + 1 :]] for i in range(5)]
    first = [renamed(r, "B") for r in base[:20]] + base[20:-10] + fresh
    second = (
        [renamed(r, "C") for r in first[:10]] + first[10:-5] + base[-10:]  # deleted come back
    )
    return [
        _write(out / "churn1" / "nsde.zip", header, first),
        _write(out / "churn2" / "nsde.zip", header, second),
    ]


@pytest.fixture
def wh(project: Path) -> Warehouse:
    warehouse = Warehouse(project)
    warehouse.boot("nsde")
    return warehouse


def runs_plan(project: Path, tmp_path: Path) -> list[tuple[str, Path, str]]:
    samples = [project / SAMPLE.format(day=f"2026-11-0{i}") for i in (1, 2, 3)]
    # run times in the past (later than now is refused): three months, 2026-09 to 2026-11
    times = ["2026-09-01T06:00:00Z", "2026-09-02T06:00:00Z", "2026-09-03T06:00:00Z"]
    sources = [*samples, *churn(project, tmp_path)]
    times += ["2026-10-01T06:00:00Z", "2026-11-05T06:00:00Z"]
    return [
        (f"r{i}", source, when) for i, (source, when) in enumerate(zip(sources, times, strict=True))
    ]


def silver_view(wh: Warehouse) -> dict[str, Any]:
    return {
        "rows": wh.reader_rows(wh.silver_db, "nsde"),
        "partitions": sorted(wh.partitions(wh.silver_db, "nsde")),
    }


def pointer(wh: Warehouse) -> dict[str, Any] | None:
    keys = wh.keys("silver/_runs/nsde/_last_success.json")
    return json.loads(wh.body(keys[0])) if keys else None


def orphan_files(wh: Warehouse) -> list[str]:
    """Silver data files outside every registered partition's folder."""
    live = [
        loc.removeprefix(f"s3://{wh.bucket}/")
        for loc in wh.partitions(wh.silver_db, "nsde").values()
    ]
    return [k for k in wh.keys("silver/silver_nsde/") if not any(k.startswith(p) for p in live)]


def every_object(wh: Warehouse) -> dict[str, bytes]:
    return {key: wh.body(key) for key in wh.keys("")}


def test_revert_after_each_run_gives_back_silver_before_it_down_to_empty(
    wh: Warehouse, project: Path, tmp_path: Path
) -> None:
    before: list[dict[str, Any]] = []
    applied = runs_plan(project, tmp_path)
    for run_id, source, when in applied:
        before.append(silver_view(wh))
        result = wh.run("nsde", source, when, run_id)
        assert result.exit_code == 0, describe(result)
    assert len(silver_view(wh)["partitions"]) == 3  # 2026-09, 2026-10, 2026-11

    for index in reversed(range(len(applied))):
        run_id = applied[index][0]
        result = wh.cli("revert", "nsde", "--yes")
        assert result.exit_code == 0, describe(result)
        assert f"Reverted run {run_id} of nsde" in result.stderr
        assert silver_view(wh) == before[index], f"silver after reverting {run_id}"
        assert orphan_files(wh) == []
        record = json.loads(wh.body(f"silver/_runs/nsde/{run_id}.json"))
        assert record["status"] == "reverted"
        assert record["reverted_at"]
        expected = applied[index - 1][0] if index else None
        assert (pointer(wh) or {}).get("run_id") == expected
        assert wh.status("nsde")["last_run"]["status"] == "reverted"

    result = wh.cli("revert", "nsde", "--yes")
    assert result.exit_code == 2
    assert "nothing to revert: nsde has no applied run" in result.stderr
    runs = json.loads(wh.cli("runs", "nsde", "--json").stdout)
    statuses = {r["run_id"]: r["status"] for r in runs["runs"]}
    assert statuses == {run_id: "reverted" for run_id, _, _ in applied}


def test_after_a_revert_a_run_after_the_previous_one_is_accepted(
    wh: Warehouse, project: Path, tmp_path: Path
) -> None:
    first, second, third = runs_plan(project, tmp_path)[:3]
    assert wh.run("nsde", first[1], first[2], first[0]).exit_code == 0
    # a typo: 2062 for 2026
    assert wh.run("nsde", second[1], "2062-11-04T06:00:00Z", "typo", "--force").exit_code == 0
    refused = wh.run("nsde", second[1], second[2], second[0])
    assert refused.exit_code != 0
    assert "out_of_order" in refused.stderr

    result = wh.cli("revert", "nsde", "--yes")
    assert result.exit_code == 0, describe(result)
    for run_id, source, when in (second, third):
        result = wh.run("nsde", source, when, run_id)
        assert result.exit_code == 0, describe(result)
    assert (pointer(wh) or {})["run_id"] == third[0]


@pytest.mark.parametrize("point", ["before_switch", "after_switch", "before_pointer"])
def test_a_revert_killed_at_any_point_leaves_silver_consistent_and_the_retry_completes(
    wh: Warehouse, project: Path, tmp_path: Path, monkeypatch: pytest.MonkeyPatch, point: str
) -> None:
    plan = runs_plan(project, tmp_path)
    for run_id, source, when in plan[:4]:
        if run_id == "r3":
            target = silver_view(wh)
        assert wh.run("nsde", source, when, run_id).exit_code == 0
    applied = silver_view(wh)
    original = undo.commit

    def killed(silver: Any, reverting: Any, hooks: Any = None) -> Any:
        def crash() -> None:
            raise KeyboardInterrupt  # the process dies here

        return original(silver, reverting, {point: crash})

    monkeypatch.setattr(undo, "commit", killed)
    result = wh.cli("revert", "nsde", "--yes")
    assert result.exit_code == 130, describe(result)
    monkeypatch.setattr(undo, "commit", original)

    # Readers see either silver with r3 or silver without it, never a mix; until the
    # catalog switch the old pointers are still valid.
    seen = silver_view(wh)
    assert seen == (applied if point == "before_switch" else target)
    assert (pointer(wh) or {})["run_id"] == "r3"  # the pointer moves last

    result = wh.cli("revert", "nsde", "--yes")
    assert result.exit_code == 0, describe(result)
    assert silver_view(wh) == target
    assert orphan_files(wh) == []
    assert (pointer(wh) or {})["run_id"] == "r2"
    assert json.loads(wh.body("silver/_runs/nsde/r3.json"))["status"] == "reverted"
    assert wh.keys("silver/_runs/nsde/_lock") == []
    # and the next run is ordered after r2
    assert wh.run("nsde", plan[4][1], plan[4][2], "r4").exit_code == 0


def test_dry_run_and_a_refused_approval_change_nothing(
    wh: Warehouse, project: Path, tmp_path: Path
) -> None:
    for run_id, source, when in runs_plan(project, tmp_path)[:4]:
        assert wh.run("nsde", source, when, run_id).exit_code == 0
    objects, catalog = every_object(wh), silver_view(wh)

    result = wh.cli("revert", "nsde", "--dry-run")
    assert result.exit_code == 0, describe(result)
    assert "Revert run r3 of nsde" in result.stderr
    assert "silver goes back to run r2" in result.stderr
    assert "2026-09" in result.stderr
    assert "2026-10" in result.stderr

    document = json.loads(wh.cli("revert", "nsde", "--dry-run", "--json").stdout)
    assert document["run_id"] == "r3"
    assert document["previous_run"]["run_id"] == "r2"
    by_month = {p["partition"]: p for p in document["partitions"]}
    assert by_month["2026-10"]["reopened"] == 0
    assert by_month["2026-10"]["rows_after"] == 0  # only r3 made that month
    assert by_month["2026-09"]["reopened"] > 0

    refused = wh.cli("revert", "nsde")  # no terminal, no --yes
    assert refused.exit_code == 2
    assert "needs approval" in refused.stderr
    assert "--yes" in refused.stderr
    assert every_object(wh) == objects
    assert silver_view(wh) == catalog
