"""Which engine runs: dataset.json, warehouse.json, the job's arguments, `auto` by size."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pytest

from ppdw.config.loader import load_project
from ppdw.config.models import Dataset
from ppdw.contracts.job_args import JobArgs
from ppdw.deploy.glue_specs import engine_arguments, job_workers
from ppdw.errors import ConfigError
from ppdw.runtime.spark import choice, session

REPO = Path(__file__).resolve().parents[2]
MIB = 1024 * 1024
ARGV = [
    "--dataset", "nsde", "--bucket", "b", "--bronze_database", "x", "--silver_database", "y",
    "--config_key", "k", "--run_id", "nsde-1", "--run_time", "2026-11-01T06:00:00Z",
]  # fmt: skip


def test_auto_picks_spark_only_above_the_threshold(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(choice, "pyspark_available", lambda: True)
    assert choice.choose("auto", 100 * MIB, 100) == "arrow"
    assert choice.choose("auto", 100 * MIB + 1, 100) == "spark"
    assert choice.choose("arrow", 10**12, 100) == "arrow"


def test_auto_stays_on_arrow_when_pyspark_is_missing(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(choice, "pyspark_available", lambda: False)
    assert choice.choose("auto", 10**12, 1) == "arrow"


def test_spark_without_pyspark_names_the_extra(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(session, "pyspark_available", lambda: False)
    with pytest.raises(ConfigError, match="extra 'spark'") as info:
        choice.choose("spark", 0, 1)
    assert info.value.hint is not None
    assert ".[spark]" in info.value.hint


def test_raw_size_is_the_sum_of_the_members() -> None:
    manifest: dict[str, Any] = {"members": [{"bytes": 10}, {"bytes": 5}], "bytes": 3}
    assert choice.raw_bytes(manifest) == 15
    assert choice.raw_bytes(None) == 0


def test_jobs_deployed_before_engines_run_arrow() -> None:
    args = JobArgs.from_argv(ARGV)
    assert (args.engine, args.spark_above_mb) == ("arrow", 640)
    assert JobArgs.from_argv([*ARGV, "--engine", "auto", "--spark_above_mb", "7"]).engine == "auto"
    with pytest.raises(ConfigError, match="--engine must be arrow, spark or auto"):
        JobArgs.from_argv([*ARGV, "--engine", "duckdb"])


def test_dataset_engine_overrides_the_warehouse_default() -> None:
    project = load_project(REPO)
    warehouse = project.warehouse.glue
    nsde = project.dataset("nsde")
    assert nsde.glue_settings(warehouse).engine == "auto"
    on_spark = Dataset.model_validate({**nsde.model_dump(by_alias=True), "engine": "spark"})
    assert on_spark.glue_settings(warehouse).engine == "spark"
    with pytest.raises(ValueError, match="engine"):
        Dataset.model_validate({**nsde.model_dump(by_alias=True), "engine": "duckdb"})


def test_deploy_gives_spark_workers_auto_scaling_and_settings() -> None:
    glue = load_project(REPO).warehouse.glue.model_copy(update={"workers": 10, "engine": "spark"})
    arguments = engine_arguments(glue)
    assert arguments["--engine"] == "spark"
    assert arguments["--enable-auto-scaling"] == "true"
    assert "spark.sql.shuffle.partitions=16" in arguments["--conf"]  # 2 tasks x 2 G.1X x 4 vCPUs
    assert job_workers(glue) == 10


def test_deploy_gives_the_arrow_engine_the_fewest_workers() -> None:
    glue = load_project(REPO).warehouse.glue.model_copy(update={"workers": 10, "engine": "arrow"})
    assert engine_arguments(glue) == {"--engine": "arrow", "--spark_above_mb": "640"}
    assert job_workers(glue) == 2
