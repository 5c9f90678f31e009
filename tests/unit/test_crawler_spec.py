"""Crawlers: schema discovery that never makes a table named after a folder by default."""

from __future__ import annotations

import json
from pathlib import Path

from ppdw.config.loader import load_project
from ppdw.deploy.glue_specs import crawler_spec, job_spec
from ppdw.deploy.resources import StackContext

REPO = Path(__file__).resolve().parents[2]


def context(table_creation: str | None = None) -> StackContext:
    project = load_project(REPO)
    warehouse = project.warehouse
    if table_creation is not None:
        glue = warehouse.glue.model_copy(update={"table_creation": table_creation})
        warehouse = warehouse.model_copy(update={"glue": glue})
    return StackContext(warehouse, project.dataset("nsde"), "123456789012", "eu-west-1")


def test_by_default_the_crawler_crawls_the_table_the_jobs_made() -> None:
    definition = crawler_spec(context(), "silver").payload["definition"]
    assert definition["Targets"] == {
        "CatalogTargets": [{"DatabaseName": "pp_dw_silver", "Tables": ["nsde"]}]
    }
    configuration = json.loads(definition["Configuration"])
    assert configuration["CrawlerOutput"] == {
        "Tables": {"AddOrUpdateBehavior": "MergeNewColumns"},
        "Partitions": {"AddOrUpdateBehavior": "InheritFromTable"},
    }
    assert "Grouping" not in configuration
    assert definition["SchemaChangePolicy"]["DeleteBehavior"] == "LOG"


def test_the_crawler_first_mode_keeps_an_s3_crawler_grouping_at_the_layer_folder() -> None:
    definition = crawler_spec(context("crawler"), "bronze").payload["definition"]
    assert definition["Targets"] == {
        "S3Targets": [{"Path": "s3://pp-dw-123456789012/bronze/bronze_nsde/"}]
    }
    # bucket = level 1, bronze/ = 2, bronze_nsde/ = 3: one table there, not one per folder
    grouping = json.loads(definition["Configuration"])["Grouping"]
    assert grouping == {"TableLevelConfiguration": 3}


def test_jobs_get_their_region_and_no_glue_4_logging_switch() -> None:
    arguments = job_spec(context(), "bronze").payload["definition"]["DefaultArguments"]
    assert arguments["--aws_region"] == "eu-west-1"
    assert "--enable-continuous-cloudwatch-log" not in arguments
    assert arguments["--table_creation"] == "schema"
