"""Control-plane commands through Typer's runner, `--target aws` on moto."""

from __future__ import annotations

import json
from pathlib import Path

import pytest
from typer.testing import CliRunner

from ppdw.cli.app import app

pytestmark = pytest.mark.usefixtures("moto_aws")


def invoke(project: Path, *args: str, stdin: str | None = None) -> tuple[int, str, str]:
    result = CliRunner().invoke(
        app, ["--target", "aws", "--project", str(project), *args], input=stdin
    )
    return result.exit_code, result.stdout, result.stderr


def edit_json(path: Path, *keys: str, value: object) -> None:
    data = json.loads(path.read_text())
    node = data
    for key in keys[:-1]:
        node = node.setdefault(key, {})
    node[keys[-1]] = value
    path.write_text(json.dumps(data, indent=2))


@pytest.fixture
def deployed(project: Path) -> Path:
    code, _, err = invoke(project, "bootstrap-core", "--yes")
    assert code == 0, err
    code, _, err = invoke(project, "deploy", "nsde", "rxnorm")
    assert code == 0, err
    return project


def test_bootstrap_core_creates_then_reports_no_changes(project: Path) -> None:
    code, out, err = invoke(project, "bootstrap-core", "--yes")
    assert code == 0, err
    assert "+ bucket pp-dw-123456789012" in out  # the plan, shown before applying on AWS
    assert "+ create bucket pp-dw-123456789012" in err
    assert "+ create role pp-dw-events-role" in err
    code, _, err = invoke(project, "bootstrap-core")
    assert code == 0, err
    assert err.strip() == "No changes on target aws: the resources match the configuration."
    assert "create" not in err


def test_bootstrap_core_dry_run_changes_nothing_and_exits_like_plan(project: Path) -> None:
    code, out, err = invoke(project, "bootstrap-core", "--dry-run")
    assert code == 2, err
    assert "pp_dw_bronze" in out
    assert "Run `ppdw bootstrap-core` to apply." in out
    code, _, _ = invoke(project, "plan", "--core")
    assert code == 2  # still everything to create


def test_deploy_refuses_before_bootstrap(project: Path) -> None:
    code, _, err = invoke(project, "deploy", "nsde")
    assert code == 1
    assert "the core is not deployed" in err
    assert "ppdw bootstrap-core" in err


def test_second_deploy_reports_no_changes(deployed: Path) -> None:
    code, _, err = invoke(deployed, "deploy", "--all")
    assert code == 0, err
    assert err.strip().endswith("No changes on target aws: the resources match the configuration.")


def test_plan_exit_0_when_clean_and_2_after_warehouse_edit(deployed: Path) -> None:
    code, _, err = invoke(deployed, "plan")
    assert code == 0, err
    assert "No changes on target aws" in err

    edit_json(deployed / "config/warehouse.json", "glue", "workers", value=3)
    code, out, err = invoke(deployed, "plan", "--json")
    assert code == 2, err
    document = json.loads(out)
    changed = [a for a in document["actions"] if a["kind"] != "noop"]
    assert sorted(a["name"] for a in changed) == [
        "pp-dw-bronze-nsde",
        "pp-dw-bronze-rxnorm",
        "pp-dw-silver-nsde",
        "pp-dw-silver-rxnorm",
    ]
    for action in changed:
        assert action["changes"] == [{"field": "NumberOfWorkers", "old": 2, "new": 3}]


def test_plan_shows_exactly_a_dataset_override(deployed: Path) -> None:
    edit_json(deployed / "fda/nsde/config/dataset.json", "schedule", "enabled", value=True)
    code, out, err = invoke(deployed, "plan", "nsde")
    assert code == 2, err
    assert "State" in out
    assert "DISABLED" in out
    assert "ENABLED" in out
    # dataset.json itself is uploaded and bundled: those change too, nothing else.
    code, out, _ = invoke(deployed, "plan", "nsde", "--json")
    changed = {a["name"] for a in json.loads(out)["actions"] if a["kind"] != "noop"}
    assert changed == {
        "pp-dw-schedule-nsde",
        "scripts/nsde/dataset.json",
        "pp-dw-raw-fetch-nsde",
    }


def test_plan_json_prints_one_document_only(deployed: Path) -> None:
    code, out, _ = invoke(deployed, "plan", "--json")
    assert code == 0
    document = json.loads(out)
    assert document["changes"] == 0
    assert document["target"] == "aws"


def test_broken_dataset_config_names_file_and_field(project: Path) -> None:
    edit_json(project / "fda/nsde/config/dataset.json", "glue", "wrokers", value=3)
    code, _, err = invoke(project, "plan")
    assert code == 2
    assert "fda/nsde/config/dataset.json: glue.wrokers: unknown key" in err
    assert "Traceback" not in err


def test_broken_warehouse_config_names_file_and_field(project: Path) -> None:
    edit_json(project / "config/warehouse.json", "lambda", "runtime", value="python3.9")
    code, _, err = invoke(project, "bootstrap-core")
    assert code == 2
    assert "config/warehouse.json: lambda.runtime:" in err


def test_invalid_json_names_line(project: Path) -> None:
    (project / "fda/rxnorm/config/dataset.json").write_text('{"name": "rxnorm",\n')
    code, _, err = invoke(project, "validate")
    assert code == 2
    assert "fda/rxnorm/config/dataset.json: invalid JSON at line" in err


@pytest.mark.parametrize("name", ["../x", "Bad Name", "nsde", "9lives", "a__b"])
def test_add_dataset_refuses_bad_names_and_writes_nothing(project: Path, name: str) -> None:
    before = sorted(p.name for p in (project / "fda").iterdir())
    code, _, err = invoke(project, "add-dataset", name)
    assert code == 2
    assert "Error:" in err
    assert sorted(p.name for p in (project / "fda").iterdir()) == before


def test_add_dataset_scaffolds_a_valid_dataset(project: Path) -> None:
    code, _, err = invoke(
        project,
        "add-dataset",
        "ndc_product",
        "--source-url",
        "https://www.accessdata.fda.gov/cder/ndctext.zip",
        "--format",
        "tsv",
        "--business-key",
        "productid",
        "--description",
        "FDA NDC products",
    )
    assert code == 0, err
    folder = project / "fda/ndc_product"
    config = json.loads((folder / "config/dataset.json").read_text())
    assert config["name"] == "ndc_product"
    assert config["business_key"] == ["productid"]
    assert config["source"]["compression"] == "zip"
    assert "run_bronze_job" in (folder / "glue/bronze_job.py").read_text()
    assert "lambda_handler" in (folder / "lambdas/fetch/app.py").read_text()
    assert not [p for p in (project / "fda").iterdir() if p.name.startswith(".")]
    code, _, err = invoke(project, "validate")
    assert code == 0, err


def test_add_dataset_rrf_needs_columns(project: Path) -> None:
    code, _, err = invoke(project, "add-dataset", "rxnsat", "--format", "rrf")
    assert code == 2
    assert "--columns" in err
    assert not (project / "fda/rxnsat").exists()


def test_add_dataset_deploy_deploys_it(project: Path) -> None:
    assert invoke(project, "bootstrap-core", "--yes")[0] == 0
    code, _, err = invoke(project, "add-dataset", "orange_book", "--deploy")
    assert code == 0, err
    assert "create function pp-dw-raw-fetch-orange_book" in err
    code, _, _ = invoke(project, "plan", "orange_book")
    assert code == 0


def test_destroy_refuses_without_yes_when_not_interactive(deployed: Path) -> None:
    code, _, err = invoke(deployed, "destroy", "nsde")
    assert code == 2
    assert "pass --yes" in err
    assert invoke(deployed, "plan", "nsde")[0] == 0  # nothing removed


def test_destroy_dataset_removes_stack_and_keeps_data(deployed: Path) -> None:
    import boto3

    s3 = boto3.client("s3", region_name="us-east-1")
    s3.put_object(Bucket="pp-dw-123456789012", Key="raw/nsde/run_id=r1/x.csv", Body=b"1")
    code, _, err = invoke(deployed, "destroy", "nsde", "--yes")
    assert code == 0, err
    assert "delete function pp-dw-raw-fetch-nsde" in err
    assert "delete state machine pp-dw-pipeline-nsde" in err
    keys = [o["Key"] for o in s3.list_objects_v2(Bucket="pp-dw-123456789012")["Contents"]]
    assert "raw/nsde/run_id=r1/x.csv" in keys
    assert not [k for k in keys if k.startswith("scripts/nsde/")]
    assert invoke(deployed, "plan", "rxnorm")[0] == 0  # the other dataset is untouched
    code, _, err = invoke(deployed, "destroy", "nsde", "--yes", "--delete-data")
    assert code == 0, err
    keys = [o["Key"] for o in s3.list_objects_v2(Bucket="pp-dw-123456789012").get("Contents", [])]
    assert not [k for k in keys if k.startswith("raw/nsde/")]


def test_destroy_leaves_unmanaged_resources_alone(project: Path) -> None:
    import boto3

    assert invoke(project, "bootstrap-core", "--yes")[0] == 0
    glue = boto3.client("glue", region_name="us-east-1")
    glue.create_job(
        Name="pp-dw-bronze-nsde",
        Role="x",
        Command={"Name": "glueetl", "ScriptLocation": "s3://b/x"},
    )
    code, _, err = invoke(project, "destroy", "nsde", "--yes")
    assert code == 0, err
    assert "job pp-dw-bronze-nsde is not managed by ppdw" in err
    assert "left alone" in err
    assert glue.get_job(JobName="pp-dw-bronze-nsde")["Job"]["Name"] == "pp-dw-bronze-nsde"
    code, _, err = invoke(project, "deploy", "nsde")
    assert code == 1
    assert "not managed by ppdw" in err


def test_destroy_core_keeps_bucket_without_delete_data(deployed: Path) -> None:
    import boto3

    code, _, err = invoke(deployed, "destroy", "--core", "--yes")
    assert code == 0, err
    assert "delete role pp-dw-glue-role" in err
    boto3.client("s3", region_name="us-east-1").head_bucket(Bucket="pp-dw-123456789012")


@pytest.mark.parametrize(
    "command", ["bootstrap-core", "deploy", "plan", "destroy", "add-dataset", "validate"]
)
def test_every_command_help_has_an_example(command: str) -> None:
    result = CliRunner().invoke(app, [command, "--help"])
    assert result.exit_code == 0
    assert "Example: ppdw" in result.stdout


# ------------------------------------------------------------- plans and approval


def buckets() -> list[str]:
    import boto3

    return [b["Name"] for b in boto3.client("s3").list_buckets()["Buckets"]]


def test_bootstrap_core_without_a_terminal_refuses_to_grant_iam_unapproved(project: Path) -> None:
    code, out, err = invoke(project, "bootstrap-core")
    assert code == 2
    assert "Error: approval needed on target aws: role pp-dw-glue-role: grants new IAM" in err
    assert "--yes" in err
    assert "+ role pp-dw-glue-role" in out  # the plan was shown
    assert buckets() == []  # nothing applied


def test_require_approval_never_applies_without_asking(project: Path) -> None:
    code, _, err = invoke(project, "bootstrap-core", "--require-approval", "never")
    assert code == 0, err
    assert buckets() == ["pp-dw-123456789012"]


@pytest.mark.parametrize(("answer", "code", "created"), [("n\n", 2, False), ("y\n", 0, True)])
def test_on_a_terminal_bootstrap_core_asks_before_granting_iam(
    project: Path, monkeypatch: pytest.MonkeyPatch, answer: str, code: int, created: bool
) -> None:
    monkeypatch.setattr("ppdw.cli.plan_apply.is_terminal", lambda: True)
    got, _, err = invoke(project, "bootstrap-core", stdin=answer)
    assert got == code, err
    assert "Needs approval: role pp-dw-glue-role: grants new IAM permissions" in err
    assert "Apply these changes on target aws?" in err
    assert (buckets() == ["pp-dw-123456789012"]) is created


def test_any_change_level_asks_even_for_a_schedule_switch(deployed: Path) -> None:
    schedule = deployed / "fda/nsde/config/dataset.json"
    edit_json(schedule, "schedule", "enabled", value=True)
    code, _, err = invoke(deployed, "deploy", "nsde")
    assert code == 0, err  # an in-place update needs no approval by default
    edit_json(schedule, "schedule", "enabled", value=False)
    code, _, err = invoke(deployed, "deploy", "nsde", "--require-approval", "any-change")
    assert code == 2
    assert "rule pp-dw-schedule-nsde: update" in err


def test_plan_reads_like_terraform_one_change_per_line(deployed: Path) -> None:
    edit_json(deployed / "config/warehouse.json", "glue", "workers", value=3)
    edit_json(deployed / "fda/nsde/config/dataset.json", "description", value="NSDE, edited")
    code, out, _ = invoke(deployed, "plan")
    assert code == 2
    lines = out.splitlines()
    assert "    ~ job pp-dw-bronze-nsde" in lines
    assert "        NumberOfWorkers: 2 -> 3" in lines
    code_hash = next(line for line in lines if line.strip().startswith("CodeSha256:"))
    old, new = code_hash.split(": ", 1)[1].split(" -> ")
    assert len(old) == len(new) == 13  # hashes shortened to their first characters
    assert old.endswith("…")
    assert lines[-2] == "Plan: 0 to add, 6 to change, 0 to destroy."
    assert lines[-1] == "Run `ppdw bootstrap-core` and `ppdw deploy` to apply."
    assert all(len(line) <= 120 for line in lines)  # nothing folded over several lines
    code, out, _ = invoke(deployed, "plan", "--json")
    assert json.loads(out)["summary"] == {"add": 0, "change": 6, "destroy": 0}


def test_deploy_dry_run_exits_like_plan(deployed: Path) -> None:
    code, _, _ = invoke(deployed, "deploy", "--dry-run")
    assert code == 0
    edit_json(deployed / "config/warehouse.json", "glue", "workers", value=3)
    code, out, _ = invoke(deployed, "deploy", "--dry-run")
    assert code == 2
    assert "Run `ppdw deploy` to apply." in out


def test_deploy_and_validate_speak_json(deployed: Path) -> None:
    edit_json(deployed / "fda/nsde/config/dataset.json", "schedule", "enabled", value=True)
    code, out, err = invoke(deployed, "deploy", "nsde", "--json")
    assert code == 0, err
    document = json.loads(out)
    assert document["applied"] == 3  # the rule, the uploaded dataset.json, the fetch code
    assert document["summary"] == {"add": 0, "change": 3, "destroy": 0}
    code, out, _ = invoke(deployed, "validate", "--json")
    assert code == 0
    assert json.loads(out) == {"valid": True, "datasets": ["nsde", "rxnorm"]}
