"""`ppdw local export DIR`: a mirror of what readers see, never a folder that misleads."""

from __future__ import annotations

import json
from pathlib import Path

import pandas as pd
import pytest
from typer.testing import CliRunner

from ppdw.cli.app import app

NSDE = "fda/nsde/sample/{day}/Comprehensive_NDC_SPL_Data_Elements_File.zip"
MANIFEST = ".ppdw-export.json"


def invoke(project: Path, *args: str) -> tuple[int, str, str]:
    result = CliRunner().invoke(app, ["--project", str(project), *args])
    return result.exit_code, result.stdout, result.stderr


def run_snapshot(project: Path, day: str) -> None:
    source = str(project / NSDE.format(day=day))
    code, _, err = invoke(project, "run", "nsde", "--as-of", f"{day}T06:00:00Z", "--source", source)
    assert code == 0, err


def silver_rows(project: Path) -> tuple[int, int]:
    code, out, err = invoke(project, "status", "nsde", "--json")
    assert code == 0, err
    silver = json.loads(out)["datasets"][0]["silver"]
    return silver["rows"], silver["current_rows"]


def files_under(folder: Path) -> set[str]:
    return {str(p.relative_to(folder)) for p in folder.rglob("*") if p.is_file()}


def test_exporting_twice_into_one_folder_reads_exactly_the_current_silver(
    project: Path, tmp_path: Path
) -> None:
    out = tmp_path / "warehouse"
    run_snapshot(project, "2026-11-01")
    code, _, err = invoke(project, "local", "export", str(out))
    assert code == 0, err
    first = files_under(out)
    run_snapshot(project, "2026-11-02")
    code, _, err = invoke(project, "local", "export", str(out))
    assert code == 0, err

    # The README's one-liner.
    frame = pd.read_parquet(out / "silver/silver_nsde")
    rows, current = silver_rows(project)
    assert len(frame) == rows
    assert int(frame["is_current"].sum()) == current
    assert "removed" in err  # the superseded silver version folders
    second = files_under(out)
    superseded = {f for f in first - second if f.startswith("silver/silver_nsde/")}
    assert superseded, "the second snapshot replaces the first one's silver version folder"
    assert not any(f.startswith("silver/_runs/") for f in second)  # not what readers see
    assert any(f.startswith("raw/nsde/run_id=") for f in second)


def test_a_non_empty_folder_that_is_no_export_is_refused_untouched(
    project: Path, tmp_path: Path
) -> None:
    run_snapshot(project, "2026-11-01")
    out = tmp_path / "mine"
    out.mkdir()
    (out / "notes.txt").write_text("keep me")
    code, _, err = invoke(project, "local", "export", str(out))
    assert code == 2
    assert f"Error: {out} is not empty and is not an earlier ppdw export" in err
    assert files_under(out) == {"notes.txt"}


def test_an_earlier_export_is_mirrored_even_with_a_stray_file(
    project: Path, tmp_path: Path
) -> None:
    run_snapshot(project, "2026-11-01")
    out = tmp_path / "warehouse"
    assert invoke(project, "local", "export", str(out))[0] == 0
    stray = out / "silver/silver_nsde/effective_year_month=1999-01/old/part-00000.parquet"
    stray.parent.mkdir(parents=True)
    stray.write_bytes(b"not exported by this run")
    code, _, err = invoke(project, "local", "export", str(out))
    assert code == 0, err
    assert not stray.exists()
    assert not stray.parent.parent.exists()  # emptied folders go too
    assert "removed 1 file no longer exported" in err


def test_dataset_and_layer_filters(project: Path, tmp_path: Path) -> None:
    run_snapshot(project, "2026-11-01")
    out = tmp_path / "silver-only"
    code, _, err = invoke(
        project, "local", "export", str(out), "--dataset", "nsde", "--layer", "silver"
    )
    assert code == 0, err
    files = files_under(out) - {MANIFEST}
    assert files
    assert all(f.startswith("silver/silver_nsde/") for f in files)
    assert json.loads((out / MANIFEST).read_text())["complete"] is True

    code, _, err = invoke(project, "local", "export", str(out), "--layer", "raw")
    assert code == 0, err
    assert all(f.startswith("raw/nsde/") for f in files_under(out) - {MANIFEST})


def test_all_objects_exports_the_whole_bucket(project: Path, tmp_path: Path) -> None:
    run_snapshot(project, "2026-11-01")
    out = tmp_path / "everything"
    code, _, err = invoke(project, "local", "export", str(out), "--all-objects")
    assert code == 0, err
    assert any(f.startswith("silver/_runs/nsde/") for f in files_under(out))


@pytest.mark.parametrize(
    ("args", "message"),
    [
        (["--all-objects", "--layer", "raw"], "--all-objects exports the whole bucket"),
        (["--dataset", "nsdf"], "did you mean 'nsde'?"),
        (["--layer", "gold"], "Invalid value for '--layer'"),
    ],
)
def test_bad_export_options_exit_2(
    project: Path, tmp_path: Path, args: list[str], message: str
) -> None:
    code, _, err = invoke(project, "local", "export", str(tmp_path / "out"), *args)
    assert code == 2
    assert message in err
    assert not (tmp_path / "out").exists()
