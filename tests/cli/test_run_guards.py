"""Raw is immutable and run times are guarded, through `ppdw run` on the local target.

After every refused attempt the warehouse is byte-identical: each object of raw, bronze
and silver (run records included) and the catalog.
"""

from __future__ import annotations

import json
import zipfile
from datetime import UTC, datetime, timedelta
from pathlib import Path

import pytest
from typer.testing import CliRunner

from ppdw.cli.app import app
from ppdw.errors import PpdwError
from tests.cli.warehouse_snapshot import snapshot
from tests.data.zips import repack

NSDE_2 = "fda/nsde/sample/2026-11-02/Comprehensive_NDC_SPL_Data_Elements_File.zip"
NSDE_3 = "fda/nsde/sample/2026-11-03/Comprehensive_NDC_SPL_Data_Elements_File.zip"
FIRST = "nsde-20261101-060000"


@pytest.fixture
def cli() -> CliRunner:
    return CliRunner()


def invoke(cli: CliRunner, project: Path, *args: str) -> tuple[int, str]:
    result = cli.invoke(app, ["--project", str(project), *args])
    return result.exit_code, result.stderr


@pytest.fixture
def finished(cli: CliRunner, project: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    """A warehouse holding one finished run, FIRST (sample 1)."""
    monkeypatch.chdir(project)
    code, err = invoke(cli, project, "run", "nsde", "--as-of", "2026-11-01T06:00:00Z")
    assert code == 0, err
    return project


@pytest.mark.parametrize(
    "extra",
    [
        [],
        ["--source", NSDE_2],
        ["--as-of", "2026-11-05T06:00:00Z"],
        ["--force"],
    ],
)
def test_a_finished_run_never_fetches_again(
    cli: CliRunner, finished: Path, extra: list[str]
) -> None:
    before = snapshot(finished)
    code, err = invoke(cli, finished, "run", "nsde", "--run-id", FIRST, *extra)
    assert code == 2, err
    assert f"run {FIRST} of nsde already fetched its source" in err
    assert f"ppdw run nsde --from bronze --run-id {FIRST}" in err
    assert "NEW_ID" in err
    assert snapshot(finished) == before


def test_an_unchanged_run_never_fetches_again(cli: CliRunner, finished: Path) -> None:
    code, err = invoke(cli, finished, "run", "nsde", "--as-of", "2026-11-02T06:00:00Z")
    assert code == 0, err
    said = " ".join(err.split())  # the terminal's width wraps it
    assert f"Source unchanged since run {FIRST} (the same download): nothing to do." in said
    before = snapshot(finished)
    second = "nsde-20261102-060000"
    code, err = invoke(cli, finished, "run", "nsde", "--run-id", second, "--source", NSDE_2)
    assert code == 2, err
    assert f"run {second} of nsde already fetched its source (unchanged since run {FIRST})" in err
    assert snapshot(finished) == before


def test_run_json_says_how_the_source_is_unchanged(cli: CliRunner, finished: Path) -> None:
    result = cli.invoke(app, ["--project", str(finished), "run", "nsde", "--json",
                              "--as-of", "2026-11-02T06:00:00Z"])  # fmt: skip
    assert result.exit_code == 0, result.stderr
    document = json.loads(result.stdout)
    fetch = next(step for step in document["steps"] if step["step"] == "fetch")
    assert document["status"] == "unchanged"
    assert (fetch["status"], fetch["unchanged_since"], fetch["unchanged_by"]) == (
        "unchanged",
        FIRST,
        "download",
    )


def test_the_same_files_re_packed_are_unchanged(cli: CliRunner, finished: Path) -> None:
    sample = finished / "fda/nsde/sample/2026-11-01/Comprehensive_NDC_SPL_Data_Elements_File.zip"
    # stored, not deflated: extracted, then found to hold the same files
    repacked = repack(sample, finished / "repacked" / sample.name, (2026, 11, 2, 5, 0, 0),
                      zipfile.ZIP_STORED)  # fmt: skip
    before = snapshot(finished)
    code, err = invoke(cli, finished, "run", "nsde", "--source", str(repacked),
                       "--as-of", "2026-11-02T06:00:00Z")  # fmt: skip
    assert code == 0, err
    assert f"Source unchanged since run {FIRST} (the same files, re-packed): nothing to do." in (
        " ".join(err.split())
    )
    after = snapshot(finished)
    assert after["catalog"] == before["catalog"]
    changed = {k for k in after["objects"] if before["objects"].get(k) != after["objects"][k]}
    gone = set(before["objects"]) - set(after["objects"])
    assert not gone
    # only run records: this run's ("unchanged") and the lock's bookkeeping; raw, bronze
    # and silver data untouched
    assert changed
    assert all(key.startswith("silver/_runs/nsde/") for key in changed), changed
    # `ppdw runs` says since when and by what
    listed = cli.invoke(app, ["--project", str(finished), "runs", "nsde", "--json"])
    newest = json.loads(listed.stdout)["runs"][0]
    assert (newest["status"], newest["unchanged_since"], newest["unchanged_by"]) == (
        "unchanged",
        FIRST,
        "files",
    )
    table = cli.invoke(app, ["--project", str(finished), "runs", "nsde"]).stdout
    assert "since" in table  # only an unchanged run's status says these
    assert "same files" in table


def test_a_finished_run_is_reprocessed_from_bronze(cli: CliRunner, finished: Path) -> None:
    before = snapshot(finished)
    code, err = invoke(cli, finished, "run", "nsde", "--from", "bronze", "--run-id", FIRST)
    assert code == 0, err
    after = snapshot(finished)
    raw = {k: v for k, v in before["objects"].items() if k.startswith("raw/")}
    assert {k: v for k, v in after["objects"].items() if k.startswith("raw/")} == raw


def _kill_after_fetch(monkeypatch: pytest.MonkeyPatch) -> None:
    def killed(*_: object, **__: object) -> None:
        raise PpdwError("bronze job lost its worker")

    monkeypatch.setattr("ppdw.runtime.jobs.run_bronze_job", killed)


def test_a_retry_resumes_only_with_the_source_raw_holds(
    cli: CliRunner, finished: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    second = "nsde-20261102-060000"
    with monkeypatch.context() as patch:
        _kill_after_fetch(patch)
        code, err = invoke(
            cli, finished, "run", "nsde", "--as-of", "2026-11-02T06:00:00Z", "--source", NSDE_2
        )
    assert code == 1, err
    held = snapshot(finished)
    assert f"raw/nsde/run_id={second}/_manifest.json" in held["objects"]

    for extra in (
        ["--source", NSDE_3],  # other bytes under the same file name
        [],  # the default source: bundled sample 1
        ["--source", NSDE_2, "--as-of", "2026-11-02T07:00:00Z"],  # another run time
    ):
        code, err = invoke(cli, finished, "run", "nsde", "--run-id", second, *extra)
        assert code == 2, (extra, err)
        assert f"run {second} of nsde" in err
        assert f"--from bronze --run-id {second}" in err
        assert snapshot(finished) == held, extra

    code, err = invoke(cli, finished, "run", "nsde", "--run-id", second, "--source", NSDE_2)
    assert code == 0, err
    assert f"Run {second} succeeded" in err
    after = snapshot(finished)
    raw = {k: v for k, v in held["objects"].items() if k.startswith("raw/")}
    assert {k: v for k, v in after["objects"].items() if k.startswith("raw/")} == raw


def test_a_retry_of_a_fetch_that_never_completed_fetches(
    cli: CliRunner, finished: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    def cut(*_: object, **__: object) -> None:
        raise PpdwError("connection reset")

    with monkeypatch.context() as patch:
        patch.setattr("ppdw.runtime.fetch.core._members", cut)
        code, err = invoke(
            cli, finished, "run", "nsde", "--as-of", "2026-11-02T06:00:00Z", "--source", NSDE_3
        )
    assert code == 1, err
    code, err = invoke(
        cli, finished, "run", "nsde", "--run-id", "nsde-20261102-060000", "--source", NSDE_2
    )
    assert code == 0, err


def test_a_run_time_in_the_future_is_refused_without_force(cli: CliRunner, finished: Path) -> None:
    before = snapshot(finished)
    future = datetime.now(UTC).replace(microsecond=0) + timedelta(days=365 * 36)
    shown = future.strftime("%Y-%m-%dT%H:%M:%SZ")
    code, err = invoke(cli, finished, "run", "nsde", "--as-of", shown, "--source", NSDE_2)
    assert code == 2, err
    assert f"--as-of {shown} is in the future (now " in err
    assert "--force" in err
    assert snapshot(finished) == before

    soon = datetime.now(UTC).replace(microsecond=0) + timedelta(minutes=2)
    code, err = invoke(
        cli, finished, "run", "nsde", "--as-of", soon.isoformat(), "--source", NSDE_2
    )
    assert code == 0, err

    code, err = invoke(
        cli, finished, "run", "nsde", "--as-of", shown, "--source", NSDE_3, "--force"
    )
    assert code == 0, err


def test_out_of_order_is_a_usage_error_with_a_hint_for_the_flags_given(
    cli: CliRunner, finished: Path
) -> None:
    code, err = invoke(
        cli, finished, "run", "nsde", "--as-of", "2026-11-02T06:00:00Z", "--source", NSDE_2
    )
    assert code == 0, err
    before = snapshot(finished)

    code, err = invoke(
        cli, finished, "run", "nsde", "--as-of", "2026-10-30T06:00:00Z", "--source", NSDE_3
    )
    assert code == 2, err
    assert "Error: out_of_order:" in err
    assert "give an --as-of later than nsde-20261102-060000 (2026-11-02T06:00:00Z)" in err
    assert snapshot(finished) == before

    # a layer of an earlier applied run: applied already, so nothing changes (silver rule 6)
    for step in ("bronze", "silver"):
        code, err = invoke(cli, finished, "run", "nsde", "--from", step, "--run-id", FIRST)
        assert code == 0, err
        assert f"Run {FIRST} of nsde was already applied" in err
        assert snapshot(finished) == before
