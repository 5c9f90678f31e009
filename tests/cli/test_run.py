"""`ppdw run` and `ppdw status` through the CLI: local target, aws target on moto, errors."""

from __future__ import annotations

import json
from pathlib import Path

import pytest
from typer.testing import CliRunner

from ppdw.cli.app import app
from tests.functional import pipeline_support as sup

NSDE_2 = "fda/nsde/sample/2026-11-02/Comprehensive_NDC_SPL_Data_Elements_File.zip"


@pytest.fixture
def cli() -> CliRunner:
    return CliRunner()


def invoke(cli: CliRunner, project: Path, *args: str) -> tuple[int, str, str]:
    result = cli.invoke(app, ["--project", str(project), *args])
    return result.exit_code, result.stdout, result.stderr


def test_local_target_runs_deploys_and_reports(
    cli: CliRunner, project: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.chdir(project)
    code, out, err = invoke(cli, project, "run", "nsde", "--as-of", "2026-11-01T06:00:00Z")
    assert code == 0, err
    assert "Deploying what nsde needs on the local target first" in err
    assert "Run nsde-20261101-060000 succeeded" in err
    assert "silver" in out  # the status table

    code, out, err = invoke(
        cli, project, "run", "nsde", "--as-of", "2026-11-02T06:00:00", "--source", NSDE_2
    )
    assert code == 0, err
    assert "Deploying" not in err

    code, out, err = invoke(cli, project, "status", "nsde", "--json")
    assert code == 0, err
    document = json.loads(out)
    loaded = sup.load(project)
    expected = sup.expected_changes([sup.read_snapshot(loaded, "nsde", i) for i in range(2)])
    item = document["datasets"][0]
    assert document["target"] == "local"
    assert item["deployed"] is True
    assert item["last_run"]["run_id"] == "nsde-20261102-060000"
    assert item["last_run"]["status"] == "succeeded"
    assert item["raw"] == {"runs": 2, "latest_run_id": "nsde-20261102-060000"}
    assert item["bronze"]["partitions"] == 2
    assert item["bronze"]["latest_partition"] == "2026-11-02-060000"
    assert item["silver"]["last_changes"] == expected[1]
    assert item["silver"]["rows"] == sum(sum(e.values()) for e in expected)


def test_out_of_order_run_fails_naming_the_rule(
    cli: CliRunner, project: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.chdir(project)
    assert invoke(cli, project, "run", "nsde", "--as-of", "2026-11-02T06:00:00")[0] == 0
    code, _, err = invoke(
        cli, project, "run", "nsde", "--as-of", "2026-11-01T06:00:00", "--source", NSDE_2
    )
    assert code == 2  # a run time the user chose: a usage error
    assert "Error: out_of_order:" in err
    assert "Traceback" not in err


@pytest.mark.parametrize(
    ("args", "message"),
    [
        (["--run-id", "bad id!"], "not a valid run id"),
        (["--from", "bronze"], "--from bronze needs --run-id"),
        (["--as-of", "yesterday"], "not an ISO-8601"),
        (["--as-of", "2026-11-01T06:00:00.5"], "whole seconds"),
        (["--runner", "stepfunctions"], "no Step Functions runner"),
        (["--source", "missing.zip"], "no such file"),
        (["--from", "silver", "--run-id", "nsde-none"], "not found"),
    ],
)
def test_usage_errors_exit_2(
    cli: CliRunner, project: Path, monkeypatch: pytest.MonkeyPatch, args: list[str], message: str
) -> None:
    monkeypatch.chdir(project)
    code, _, err = invoke(cli, project, "run", "nsde", *args)
    assert code == 2, err
    assert message in err


def test_unknown_dataset_is_a_usage_error(cli: CliRunner, project: Path) -> None:
    code, _, err = invoke(cli, project, "run", "nope")
    assert code == 2
    assert "unknown dataset 'nope'" in err


@pytest.mark.usefixtures("moto_aws")
def test_aws_target_local_runner_and_missing_state_machine(cli: CliRunner, project: Path) -> None:
    target = sup.aws_target()
    sup.make_core(target, sup.load(project), ["rxnorm"])
    sample = project / "fda/rxnorm/sample/2026-09-08/RxNorm_full_prescribe_09082026.zip"
    code, _, err = invoke(
        cli,
        project,
        "--target",
        "aws",
        "run",
        "rxnorm",
        "--runner",
        "local",
        "--as-of",
        "2026-09-08T08:00:00Z",
        "--source",
        str(sample),
    )
    assert code == 0, err
    assert "Deploying" not in err  # never deploys implicitly on AWS
    code, out, err = invoke(cli, project, "--target", "aws", "status", "--json")
    assert code == 0, err
    by_name = {d["dataset"]: d for d in json.loads(out)["datasets"]}
    assert by_name["rxnorm"]["silver"]["current_rows"] > 0
    assert by_name["nsde"]["last_run"] is None

    # The default runner on AWS is Step Functions; the pipeline is not deployed here.
    code, _, err = invoke(
        cli, project, "--target", "aws", "run", "rxnorm", "--source", "https://example.org/x.zip"
    )
    assert code == 1
    assert "state machine pp-dw-pipeline-rxnorm does not exist" in err
    assert "ppdw deploy rxnorm" in err


def test_an_unchanged_run_reports_without_loading_arrow(project: Path, tmp_path: Path) -> None:
    """An unchanged run ends with the status table, from the counts the jobs recorded on
    the Glue partitions: no parquet is read, so Arrow (and numpy) are never imported."""
    import subprocess
    import sys

    script = (
        "import sys\n"
        "from typer.testing import CliRunner\n"
        "from ppdw.cli.app import app\n"
        f"result = CliRunner().invoke(app, ['--project', {str(project)!r}, 'run', 'nsde'])\n"
        "assert result.exit_code == 0, result.stderr\n"
        "print(result.stderr.splitlines()[-2:], file=sys.stderr)\n"
        "print('current' in result.stdout, 'pyarrow' in sys.modules, 'numpy' in sys.modules)\n"
    )
    env = {"PPDW_STATE_DIR": str(tmp_path / "state"), "PATH": "/usr/bin:/bin"}
    runs = [
        subprocess.run([sys.executable, "-c", script], capture_output=True, text=True, env=env)
        for _ in range(2)
    ]
    for out in runs:
        assert out.returncode == 0, out.stderr
    assert runs[0].stdout.split() == ["True", "True", "True"]  # the first load: bronze, silver
    assert "unchanged" in runs[1].stderr, runs[1].stderr
    assert runs[1].stdout.split() == ["True", "False", "False"]
