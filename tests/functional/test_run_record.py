"""The run record as `ppdw.runtime.manifest` writes it matches the contract's types."""

from __future__ import annotations

from datetime import UTC, datetime
from typing import Any

import boto3
import pytest

from ppdw.aws import objects
from ppdw.contracts.run_record import (
    CHANGE_KEYS,
    LastSuccess,
    RevertRecord,
    RunRecord,
    StepRecord,
)
from ppdw.naming import CoreNames
from ppdw.runtime import manifest
from ppdw.runtime.layers import change_counts

BUCKET = "pp-dw-123456789012"
NAMES = CoreNames(prefix="pp-dw").dataset("nsde")
RUN_ID = "nsde-20261101-060000"


@pytest.fixture
def s3(moto_aws: None) -> Any:
    client = boto3.client("s3", region_name="us-east-1")
    client.create_bucket(Bucket=BUCKET)
    return client


def at(minute: int) -> datetime:
    return datetime(2026, 11, 1, 6, minute, 0, tzinfo=UTC)


def write_a_whole_run(s3: Any) -> None:
    """Every writer of the record, in the order a run and its revert call them."""
    manifest.start_run(s3, BUCKET, NAMES, RUN_ID, at(0), source="sample.zip", now=lambda: at(1))
    fetch = {"status": "succeeded", "started_at": "2026-11-01T06:01:00Z", "bytes": 10}
    manifest.update_step(s3, BUCKET, NAMES, RUN_ID, "fetch", {**fetch, "members": []})
    manifest.update_step(s3, BUCKET, NAMES, RUN_ID, "bronze", {"stats": {"rows": 3}})
    stats = {"inserts": 2, "updates": 1, "deletes": 0, "unchanged": 4}
    silver = {"status": "succeeded", "stats": {"changes": change_counts(stats)}}
    manifest.update_step(s3, BUCKET, NAMES, RUN_ID, "silver", silver)
    manifest.finish_run(s3, BUCKET, NAMES, RUN_ID, "succeeded", now=lambda: at(2))
    manifest.write_last_success(s3, BUCKET, NAMES, RUN_ID, at(0), "abc")
    revert: RevertRecord = {
        "revert_id": f"{RUN_ID}-revert",
        "previous_run_id": None,
        "partitions": [],
    }
    manifest.record_revert(s3, BUCKET, NAMES, RUN_ID, revert)
    manifest.mark_reverted(s3, BUCKET, NAMES, RUN_ID, now=lambda: at(3))


def test_the_stored_record_round_trips_with_the_keys_its_type_declares(s3: Any) -> None:
    write_a_whole_run(s3)
    stored = objects.get_json(s3, BUCKET, NAMES.run_manifest_key(RUN_ID))
    record = manifest.read_run(s3, BUCKET, NAMES, RUN_ID)
    assert record is not None
    assert record == stored
    assert manifest.list_runs(s3, BUCKET, NAMES) == [stored]
    assert record == {
        "dataset": "nsde",
        "run_id": RUN_ID,
        "steps": {
            "fetch": {
                "status": "succeeded",
                "started_at": "2026-11-01T06:01:00Z",
                "bytes": 10,
                "members": [],
            },
            "bronze": {"stats": {"rows": 3}},
            "silver": {
                "status": "succeeded",
                "stats": {"changes": {"INSERT": 2, "UPDATE": 1, "DELETE": 0, "unchanged": 4}},
            },
        },
        "run_time": "2026-11-01T06:00:00Z",
        "status": "reverted",
        "started_at": "2026-11-01T06:01:00Z",
        "finished_at": "2026-11-01T06:02:00Z",
        "error": None,
        "source": "sample.zip",
        "revert": {
            "revert_id": f"{RUN_ID}-revert",
            "previous_run_id": None,
            "partitions": [],
            "status": "done",
            "finished_at": "2026-11-01T06:03:00Z",
        },
        "reverted_at": "2026-11-01T06:03:00Z",
    }
    # Every key stored is declared, and every declared key but the returned-only one is
    # written by some writer.
    assert set(record) == set(RunRecord.__annotations__) - {"already_applied"}
    for step in record["steps"].values():
        assert set(step) <= set(StepRecord.__annotations__)
    assert set(record["revert"]) == set(RevertRecord.__annotations__)
    assert set(record["steps"]["silver"]["stats"]["changes"]) == set(CHANGE_KEYS)


def test_the_last_success_pointer_has_the_declared_keys(s3: Any) -> None:
    written = manifest.write_last_success(s3, BUCKET, NAMES, RUN_ID, "2026-11-01T06:00:00", None)
    assert manifest.read_last_success(s3, BUCKET, NAMES) == written
    assert set(written) == set(LastSuccess.__annotations__)
    assert written == {"run_id": RUN_ID, "run_time": "2026-11-01T06:00:00Z", "source_sha256": None}
