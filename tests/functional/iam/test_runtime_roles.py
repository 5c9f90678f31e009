"""The fetch handler and both Glue jobs, run under the deployed roles with IAM enforced.

For nsde and rxnorm: a first run, a changed run, an unchanged run, and runs failing in
fetch, bronze and silver. Every AWS call each component makes is authorized against its
role's deployed policies (and the bucket policy); a call IAM would refuse fails here with
the action and the resource, and so does a call the IAM table does not know.
"""

from __future__ import annotations

import json
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import pytest

from ppdw.errors import AwsError, DataQualityError, PpdwError
from tests.data.zips import repack
from tests.functional.iam.simulator import Simulator
from tests.functional.iam.warehouse import Deployed

CORPUS = Path(__file__).resolve().parents[2] / "data" / "bad" / "corpus"
#: A source that fails in each step (tests/data/bad/CASES.md).
FAILING = {
    "nsde": {
        "fetch": CORPUS / "nsde" / "zip_truncated.zip",
        "bronze": CORPUS / "nsde" / "header_only.zip",
        "silver": CORPUS / "nsde" / "delete_ninety_percent.zip",
    },
    "rxnorm": {
        "fetch": CORPUS / "nsde" / "zip_truncated.zip",
        "bronze": CORPUS / "rxnorm" / "rrf_cut_last_line.zip",
        "silver": CORPUS / "rxnorm" / "rrf_duplicate_keys_fail.zip",
    },
}
RULES = {
    ("nsde", "fetch"): "archive_corrupt",
    ("nsde", "bronze"): "empty_source",
    ("nsde", "silver"): "max_delete_ratio",
    ("rxnorm", "fetch"): "archive_corrupt",
    ("rxnorm", "bronze"): "row_shape",
    ("rxnorm", "silver"): "duplicate_key",
}


def day(n: int) -> datetime:
    return datetime(2026, 11, n, 6, 0, tzinfo=UTC)


def run_record(deployed: Deployed, dataset: str, run_id: str) -> dict[str, Any]:
    key = f"silver/_runs/{dataset}/{run_id}.json"
    body = deployed.admin("s3").get_object(Bucket=deployed.bucket, Key=key)["Body"].read()
    return dict(json.loads(body))


def not_denied(error: PpdwError) -> None:
    """A failing run must fail on its data, never on a permission."""
    assert not isinstance(error, AwsError), f"failed on AWS, not on the data: {error.message}"


# rxnorm runs in China (partition aws-cn): every ARN the roles hold must be in it.
@pytest.mark.parametrize(
    ("dataset", "deployed"),
    [("nsde", "us-east-1"), ("rxnorm", "cn-north-1")],
    indirect=["deployed"],
)
def test_fetch_and_jobs_succeed_and_fail_only_on_data_under_their_roles(
    deployed: Deployed,
    simulator: Simulator,
    monkeypatch: pytest.MonkeyPatch,
    tmp_path: Path,
    dataset: str,
) -> None:
    names = deployed.project.warehouse.names
    lam, lam_gate = deployed.as_role(names.lambda_role, simulator)
    glue, glue_gate = deployed.as_role(names.glue_role, simulator)
    folder = deployed.project.dataset_dir(dataset)
    samples = [folder / s for s in deployed.project.dataset(dataset).source.samples]

    def fetch(n: int, source: Path) -> dict[str, Any]:
        return deployed.fetch(lam, monkeypatch, dataset, f"{dataset}-r{n}", day(n), source)

    def job(n: int, layer: str) -> dict[str, Any]:
        return deployed.job(glue, dataset, layer, f"{dataset}-r{n}", day(n))

    # first and changed runs
    for n, sample in ((1, samples[0]), (2, samples[1])):
        assert fetch(n, sample)["status"] == "fetched"
        assert job(n, "bronze")["rows"] > 0
        job(n, "silver")
        assert run_record(deployed, dataset, f"{dataset}-r{n}")["status"] == "succeeded"
        lam_gate.check()
        glue_gate.check()

    # unchanged: the same download again
    assert fetch(3, samples[1])["status"] == "unchanged"
    assert run_record(deployed, dataset, f"{dataset}-r3")["status"] == "unchanged"
    lam_gate.check()

    # unchanged: the same files in a new archive (the fetch reads the last run's raw manifest)
    repacked = repack(samples[1], tmp_path / samples[1].name, (2026, 11, 4, 5, 0, 0))
    assert fetch(4, repacked)["status"] == "unchanged"
    record = run_record(deployed, dataset, f"{dataset}-r4")
    assert record["status"] == "unchanged"
    assert record["steps"]["fetch"]["unchanged_since"] == f"{dataset}-r2"
    assert record["steps"]["fetch"]["unchanged_by"] == "files"
    lam_gate.check()

    def failing_run(n: int, step: str) -> None:
        fetch(n, FAILING[dataset][step])
        if step != "fetch":
            job(n, "bronze")
        if step == "silver":
            job(n, "silver")

    # failing in each step
    for n, step in ((5, "fetch"), (6, "bronze"), (7, "silver")):
        with pytest.raises(PpdwError) as caught:
            failing_run(n, step)
        not_denied(caught.value)
        assert isinstance(caught.value, DataQualityError), caught.value.message
        assert caught.value.rule == RULES[(dataset, step)]
        record = run_record(deployed, dataset, f"{dataset}-r{n}")
        assert record["status"] == "failed"
        assert record["steps"][step]["status"] == "failed"
        lam_gate.check()
        glue_gate.check()

    # the scenario exercised what it claims: cleanup of raw, multipart-free puts, the catalog
    assert {"s3:DeleteObjects", "s3:GetObject", "s3:PutObject", "s3:ListObjectsV2"} <= (
        lam_gate.operations()
    )
    assert {"glue:GetTable", "glue:BatchCreatePartition", "s3:DeleteObjects"} <= (
        glue_gate.operations()
    )
