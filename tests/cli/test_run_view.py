"""What `ppdw run` tells its user: header, summary, `--json`, failures, Ctrl-C, completion."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import pytest
from rich.console import Console
from typer.testing import CliRunner

from ppdw.cli.app import app
from ppdw.errors import DataQualityError
from ppdw.runs.progress import RunProgress
from tests.functional import pipeline_support as sup

NSDE_2 = "fda/nsde/sample/2026-11-02/Comprehensive_NDC_SPL_Data_Elements_File.zip"
RXNORM = "fda/rxnorm/sample/2026-09-08/RxNorm_full_prescribe_09082026.zip"


def invoke(project: Path, *args: str, env: dict[str, str] | None = None) -> tuple[int, str, str]:
    wide = {"COLUMNS": "400", **(env or {})}  # one line per message, as a wide terminal
    result = CliRunner().invoke(app, ["--project", str(project), *args], env=wide)
    return result.exit_code, result.stdout, result.stderr


def test_header_names_the_bundled_sample_and_summary_counts_read_well(
    project: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.chdir(project)
    code, out, err = invoke(project, "run", "nsde", "--as-of", "2026-11-01T06:00:00Z")
    assert code == 0, err
    assert "source: bundled sample 1 of 3: fda/nsde/sample/2026-11-01/" in err
    code, out, err = invoke(
        project, "run", "nsde", "--as-of", "2026-11-02T06:00:00Z", "--source", NSDE_2
    )
    assert code == 0, err
    assert f"source: {NSDE_2}" in err  # as given
    # The second sample repeats two keys (keep_last): the summary says they were dropped.
    assert "0 rows rejected, 2 duplicate rows dropped" in err
    assert "2 runs, latest nsde-20261102-060000" in out
    assert "2 partitions" in out
    assert " 1 runs" not in out


def test_status_says_1_run_not_1_runs(project: Path) -> None:
    assert invoke(project, "run", "nsde", "--as-of", "2026-11-01T06:00:00Z")[0] == 0
    code, out, err = invoke(project, "status", "nsde")
    assert code == 0, err
    assert "1 run, latest" in out
    assert "1 partition, latest" in out
    assert "1 runs" not in out


def test_run_json_is_one_document_with_steps_durations_and_counts(project: Path) -> None:
    code, out, err = invoke(project, "run", "nsde", "--as-of", "2026-11-01T06:00:00Z", "--json")
    assert code == 0, err
    document = json.loads(out)  # stdout holds the document alone
    assert document["run_id"] == "nsde-20261101-060000"
    assert document["status"] == "succeeded"
    assert document["exit_code"] == 0
    steps = {step["step"]: step for step in document["steps"]}
    assert list(steps) == ["fetch", "bronze", "silver"]
    assert all(step["status"] == "succeeded" for step in steps.values())
    assert all(isinstance(step["seconds"], float) for step in steps.values())
    assert steps["bronze"]["rows"] == 300
    assert steps["silver"]["INSERT"] == 300
    assert steps["silver"]["duplicates_dropped"] == 0
    assert "fetch: running" not in err  # no live view in JSON mode


def _failing_bronze(*_: Any, **__: Any) -> dict[str, Any]:
    raise DataQualityError("schema_drift", "column 'x' vanished")


def test_a_failed_step_leaves_later_steps_not_run(
    project: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setattr("ppdw.runtime.jobs.run_bronze_job", _failing_bronze)
    code, _, err = invoke(project, "run", "nsde", "--as-of", "2026-11-01T06:00:00Z")
    assert code == 1
    assert "bronze: failed" in err
    assert "silver: not run" in err
    assert "silver: pending" not in err

    code, out, _ = invoke(project, "run", "nsde", "--as-of", "2026-11-01T06:00:00Z", "--json")
    assert code == 1
    document = json.loads(out)
    assert document["exit_code"] == 1
    assert document["status"] == "failed"
    assert "schema_drift" in document["error"]
    assert [s["status"] for s in document["steps"]] == ["succeeded", "failed", "not run"]


def _interrupt(*_: Any, **__: Any) -> dict[str, Any]:
    raise KeyboardInterrupt


def test_ctrl_c_on_the_embedded_local_target_keeps_nothing_and_gives_the_retry(
    project: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    with monkeypatch.context() as patched:
        patched.setattr("ppdw.runtime.jobs.run_silver_job", _interrupt)
        code, _, err = invoke(project, "run", "nsde", "--as-of", "2026-11-01T06:00:00Z")
    assert code == 130
    assert "silver: interrupted" in err
    assert "silver: failed" not in err
    assert "nothing of this run was saved" in err
    assert "Retry with: ppdw run nsde --run-id nsde-20261101-060000 --as-of " in err
    code, out, err = invoke(project, "status", "nsde", "--json")
    assert code == 0, err
    assert json.loads(out)["datasets"][0]["last_run"] is None  # the state before the run


@pytest.mark.usefixtures("moto_aws")
def test_ctrl_c_where_writes_stay_says_what_was_kept_and_the_retry_resumes(
    project: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    sup.make_core(sup.aws_target(), sup.load(project), ["rxnorm"])
    args = ["--target", "aws", "run", "rxnorm", "--runner", "local"]
    when = ["--as-of", "2026-09-08T08:00:00Z", "--source", str(project / RXNORM)]
    with monkeypatch.context() as patched:
        patched.setattr("ppdw.runtime.jobs.run_bronze_job", _interrupt)
        code, _, err = invoke(project, *args, *when)
    assert code == 130
    run_id = "rxnorm-20260908-080000"
    text = " ".join(err.split())
    assert "bronze: interrupted" in text
    assert f"raw kept: s3://{sup.BUCKET}/raw/rxnorm/run_id={run_id}/" in text
    assert "silver unchanged" in text
    retry = f"ppdw --target aws run rxnorm --run-id {run_id} --from bronze --runner local"
    assert f"Retry with: {retry}" in text
    code, _, err = invoke(project, *retry.split()[1:])
    assert code == 0, err
    assert f"Run {run_id} succeeded" in err


def test_fetch_progress_shows_downloaded_then_extracted_bytes() -> None:
    console = Console(width=200, record=True, file=open("/dev/null", "w"))  # noqa: SIM115
    view = RunProgress("t", console=console, live=False, clock=lambda: 0.0)
    view.start("fetch")
    view.transfer("fetch", "downloaded")(4_000_000, 8_000_000)
    console.print(view.render())
    view.transfer("fetch", "extracted")(1_000_000, 30_000_000)
    console.print(view.render())
    text = console.export_text()
    assert "downloaded 4.0 MB of 8.0 MB" in text
    assert "extracted 1.0 MB of 30.0 MB" in text


def test_run_ids_complete_from_the_run_records(project: Path) -> None:
    assert invoke(project, "run", "nsde", "--as-of", "2026-11-01T06:00:00Z")[0] == 0
    env = {
        "_PPDW_COMPLETE": "complete_bash",
        "COMP_WORDS": f"ppdw --project {project} run nsde --from bronze --run-id nsde-",
        "COMP_CWORD": "8",
    }
    result = CliRunner().invoke(app, [], env=env, prog_name="ppdw")
    assert result.exit_code == 0
    assert result.stdout.split() == ["nsde-20261101-060000"]
