"""The Glue job entry points: arguments, failure recording, crash safety of silver."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pyarrow as pa
import pytest

from ppdw.config.loader import Project
from ppdw.contracts.job_args import JobArgs, parse_args
from ppdw.errors import ConfigError, DataQualityError, LockedError
from ppdw.runs.local import job_argv
from ppdw.runtime import holders, jobs, lease
from ppdw.targets import TargetContext
from tests.functional import pipeline_support as sup

pytestmark = pytest.mark.usefixtures("moto_aws")


def test_parse_args_like_glue() -> None:
    argv = [
        "script.py",
        "--JOB_ID",
        "j_1",
        "--dataset",
        "nsde",
        "--force=true",
        "--job-bookmark-option",
        "job-bookmark-disable",
        "--empty",
    ]
    assert parse_args(argv) == {
        "JOB_ID": "j_1",
        "dataset": "nsde",
        "force": "true",
        "job-bookmark-option": "job-bookmark-disable",
        "empty": "",
    }


def test_missing_arguments_are_named() -> None:
    with pytest.raises(ConfigError, match="--bucket, --bronze_database"):
        JobArgs.from_argv(
            [
                "--dataset",
                "nsde",
                "--silver_database",
                "s",
                "--config_key",
                "k",
                "--run_id",
                "r",
                "--run_time",
                "2026-01-01",
            ]
        )


def test_job_argv_uses_deploy_defaults_plus_run_arguments(
    loaded: Project, target: TargetContext
) -> None:
    argv = job_argv(target, loaded, sup.request(loaded, "nsde", 0, force=True), "silver")
    args = parse_args(argv)
    assert args["run_id"] == "nsde-20261101-060000"
    assert args["run_time"] == "2026-11-01T06:00:00Z"
    assert args["force"] == "true"
    assert args["config_key"] == "scripts/nsde/dataset.json"
    assert args["bucket"] == sup.BUCKET


def test_silver_killed_before_the_partition_swap_leaves_previous_silver(
    loaded: Project, target: TargetContext, monkeypatch: pytest.MonkeyPatch
) -> None:
    sup.run(target, loaded, "rxnorm", 0)
    before = sup.read_silver(target, "rxnorm")
    glue = target.aws.client("glue")
    locations = sup.partitions(glue, "pp_dw_silver", "rxnorm")

    original = jobs.run_silver_job

    def killed(argv: list[str], **kw: Any) -> dict[str, Any]:
        def crash() -> None:
            raise KeyboardInterrupt  # the process dies between writing and swapping

        return original(argv, hooks={"before_register": crash}, **kw)

    monkeypatch.setattr("ppdw.runtime.jobs.run_silver_job", killed)
    with pytest.raises(KeyboardInterrupt):
        sup.run(target, loaded, "rxnorm", 1)

    # Readers still see exactly the previous silver, though the new folder was written.
    assert sup.partitions(glue, "pp_dw_silver", "rxnorm") == locations
    assert sup.read_silver(target, "rxnorm").equals(before)
    record = sup.run_record(target, "rxnorm", "rxnorm-20261006-080000")
    assert record["status"] == "failed"
    # Killed after it started to commit: the commit is pending, and the lock stays for
    # the run's own retry; any other run is refused with the way out.
    assert record["steps"]["silver"]["status"] == "committing"
    assert sup.keys_under(target.aws.client("s3"), "silver/_runs/rxnorm/_lock") != []
    later = sup.run_time("2026-10-20T08:00:00")
    with pytest.raises(LockedError, match="interrupted while committing") as refused:
        sup.run(target, loaded, "rxnorm", 1, run_id="rxnorm-other", run_time=later)
    assert refused.value.hint == (
        "finish it first: ppdw run rxnorm --from silver --run-id rxnorm-20261006-080000"
    )
    assert sup.read_silver(target, "rxnorm").equals(before)

    # The next attempt of the same run completes it, and the history is right.
    monkeypatch.setattr("ppdw.runtime.jobs.run_silver_job", original)
    again = sup.run(target, loaded, "rxnorm", 1, from_step="silver")
    assert again["status"] == "succeeded"
    snaps = [sup.read_snapshot(loaded, "rxnorm", i) for i in range(2)]
    expected = sup.expected_changes(snaps)
    silver = sup.read_silver(target, "rxnorm")
    assert silver.num_rows == sum(sum(e.values()) for e in expected)
    assert sorted(sup.partitions(glue, "pp_dw_silver", "rxnorm")) == ["2026-09", "2026-10"]


def test_silver_killed_after_the_swap_is_finished_by_the_next_attempt(
    loaded: Project, target: TargetContext, monkeypatch: pytest.MonkeyPatch
) -> None:
    sup.run(target, loaded, "nsde", 0)
    import ppdw.runtime.commit as commit

    monkeypatch.setattr(commit, "finish", lambda ctx: (_ for _ in ()).throw(KeyboardInterrupt))
    with pytest.raises(KeyboardInterrupt):
        sup.run(target, loaded, "nsde", 1)
    monkeypatch.undo()

    again = sup.run(target, loaded, "nsde", 1, from_step="silver")

    assert again["steps"]["silver"]["stats"]["resumed"] is True
    expected = sup.expected_changes([sup.read_snapshot(loaded, "nsde", i) for i in range(2)])
    assert again["steps"]["silver"]["stats"]["changes"]["UPDATE"] == expected[1]["UPDATE"]
    assert sup.read_silver(target, "nsde").num_rows == sum(sum(e.values()) for e in expected)


def test_header_only_source_fails_bronze_with_a_rule(
    loaded: Project, target: TargetContext, tmp_path: Path
) -> None:
    import zipfile

    header = "Item Code,NDC11,Proprietary Name\n"
    path = tmp_path / "Comprehensive_NDC_SPL_Data_Elements_File.zip"
    with zipfile.ZipFile(path, "w") as archive:
        archive.writestr("Comprehensive_NDC_SPL_Data_Elements_File.csv", header)
    with pytest.raises(DataQualityError, match="empty_source"):
        sup.run(target, loaded, "nsde", 0, source=str(path))
    record = sup.run_record(target, "nsde", "nsde-20261101-060000")
    assert record["status"] == "failed"
    assert record["steps"]["bronze"]["status"] == "failed"
    assert "empty_source" in record["error"]


def test_a_second_concurrent_run_is_refused(loaded: Project, target: TargetContext) -> None:
    names = loaded.warehouse.names.dataset("nsde")
    s3 = target.aws.client("s3")
    held = lease.acquire(s3, sup.BUCKET, names, holders.this_process("nsde-1"), seconds=60)
    with pytest.raises(LockedError, match="nsde-1 of nsde is in progress"):
        sup.run(target, loaded, "nsde", 0)
    assert held.release()
    record = sup.run(target, loaded, "nsde", 0)  # released: the next run goes
    assert record["status"] == "succeeded"


def test_no_change_run_writes_no_silver_file(loaded: Project, target: TargetContext) -> None:
    sup.run(target, loaded, "nsde", 0)
    s3 = target.aws.client("s3")
    before = sup.keys_under(s3, "silver/silver_nsde/")
    later = sup.run_time("2026-11-05T06:00:00")
    record = sup.run(target, loaded, "nsde", 0, run_id="nsde-forced", run_time=later, force=True)
    assert record["status"] == "succeeded"
    assert record["steps"]["silver"]["stats"]["files_written"] == 0
    assert record["steps"]["silver"]["stats"]["changes"]["unchanged"] > 0
    assert sup.keys_under(s3, "silver/silver_nsde/") == before
    assert isinstance(sup.read_silver(target, "nsde"), pa.Table)
