"""The fetch Lambda's environment: what deploy writes is what the handler reads."""

from __future__ import annotations

from pathlib import Path

import pytest

from ppdw.config.loader import load_project
from ppdw.contracts.lambda_env import LambdaEnv
from ppdw.deploy.bundle import Artifact, DatasetArtifacts
from ppdw.deploy.desired import StackContext, dataset_specs
from ppdw.errors import ConfigError

REPO = Path(__file__).resolve().parents[2]
ACCOUNT = "123456789012"


def deployed_variables(dataset: str) -> dict[str, str]:
    """The Environment Variables of the dataset's desired fetch function."""
    project = load_project(REPO)
    artifacts = DatasetArtifacts(
        scripts=(Artifact(f"scripts/{dataset}/bronze_job.py", b"", "text/x-python"),),
        fetch_zip=b"zip",
    )
    ctx = StackContext(project.warehouse, project.dataset(dataset), ACCOUNT, "us-east-1")
    (function,) = [s for s in dataset_specs(ctx, artifacts) if s.resource_type == "function"]
    variables: dict[str, str] = function.payload["configuration"]["Environment"]["Variables"]
    return variables


def test_the_handler_reads_what_deploy_writes() -> None:
    variables = deployed_variables("nsde")
    env = LambdaEnv.from_env(variables)
    assert env == LambdaEnv(
        bucket=f"pp-dw-{ACCOUNT}",
        prefix="pp-dw",
        dataset="nsde",
        max_uncompressed_bytes=20 * 1024**3,
        max_compression_ratio=200,
    )
    assert env.to_env() == variables
    assert list(env.to_env()) == list(variables)


def test_the_deployed_variables_are_all_ppdws_own() -> None:
    assert set(deployed_variables("rxnorm")) == {
        "PPDW_BUCKET",
        "PPDW_PREFIX",
        "PPDW_DATASET",
        "PPDW_MAX_UNCOMPRESSED_BYTES",
        "PPDW_MAX_COMPRESSION_RATIO",
    }


@pytest.mark.parametrize("bucket", [None, ""])
def test_a_missing_bucket_is_a_config_error(bucket: str | None) -> None:
    env = {"PPDW_PREFIX": "pp-dw"} if bucket is None else {"PPDW_BUCKET": bucket}
    with pytest.raises(ConfigError, match=r"^environment variable PPDW_BUCKET is not set$"):
        LambdaEnv.from_env(env)


def test_unset_variables_take_the_defaults_and_are_left_out() -> None:
    env = LambdaEnv.from_env({"PPDW_BUCKET": "b", "PPDW_PREFIX": "", "PPDW_DATASET": ""})
    assert env == LambdaEnv(bucket="b")
    assert env.prefix == "pp-dw"
    assert env.limits() == {}
    assert env.to_env() == {"PPDW_BUCKET": "b", "PPDW_PREFIX": "pp-dw"}


def test_a_function_of_one_dataset_refuses_another_datasets_config() -> None:
    env = LambdaEnv(bucket="b", dataset="nsde")
    env.check_dataset("nsde")
    LambdaEnv(bucket="b").check_dataset("rxnorm")
    with pytest.raises(ConfigError, match=r"^PPDW_DATASET=nsde but dataset.json is 'rxnorm'$"):
        env.check_dataset("rxnorm")
