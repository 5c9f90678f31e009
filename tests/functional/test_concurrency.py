"""Two runs at once: one dataset (the second is refused, neither corrupts the other) and
two datasets side by side (both complete).

The overlap is made deterministic: run A is paused (in its own thread) at its first write
into a layer, i.e. while it must hold the dataset's run lock; run B starts and ends while A
waits; then A is released and finishes.
"""

from __future__ import annotations

import json
import threading
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any
from unittest import mock

import pytest
from botocore.client import BaseClient
from typer.testing import Result

from tests.data.bad import make_bad
from tests.functional._reliability import Warehouse, describe, error_text

pytestmark = pytest.mark.usefixtures("moto_aws")

FIRST_AS_OF = "2026-11-01T06:00:00Z"
SECOND_AS_OF = "2026-11-02T06:00:00Z"
WAIT_SECONDS = 60


@contextmanager
def paused_in_layer_write(dataset: str) -> Iterator[tuple[threading.Event, threading.Event]]:
    """Pause the thread named `run-a` at its first S3 write under bronze/ or silver/ tables."""
    reached, release = threading.Event(), threading.Event()
    original = BaseClient._make_api_call
    layers = (f"bronze/bronze_{dataset}/", f"silver/silver_{dataset}/")

    def call(client: BaseClient, operation: str, params: dict[str, Any]) -> Any:
        key = str(params.get("Key", ""))
        if (
            threading.current_thread().name == "run-a"
            and operation in ("PutObject", "CreateMultipartUpload", "CopyObject")
            and key.startswith(layers)
            and not reached.is_set()
        ):
            reached.set()
            assert release.wait(WAIT_SECONDS), "run A was never released"
        return original(client, operation, params)

    with mock.patch.object(BaseClient, "_make_api_call", call):
        yield reached, release


def _in_thread(target: Any) -> tuple[threading.Thread, list[Result]]:
    results: list[Result] = []
    thread = threading.Thread(target=lambda: results.append(target()), name="run-a", daemon=True)
    thread.start()
    return thread, results


def _next(tmp_path: Path, dataset: make_bad.Dataset) -> Path:
    folder = tmp_path / "sources" / dataset / "next"
    folder.mkdir(parents=True, exist_ok=True)
    path = folder / make_bad.BASE_FILE_NAMES[dataset]
    path.write_bytes(make_bad.NEXT[dataset]())
    return path


def _base(tmp_path: Path, dataset: make_bad.Dataset) -> Path:
    return make_bad.build_base(dataset, tmp_path / "sources")


def test_a_second_run_of_the_same_dataset_is_refused_while_the_first_runs(
    project: Path, tmp_path: Path
) -> None:
    wh = Warehouse(project)
    wh.boot("nsde")
    first = wh.run("nsde", _base(tmp_path, "nsde"), FIRST_AS_OF, "nsde-first")
    assert first.exit_code == 0, describe(first)
    source = _next(tmp_path, "nsde")

    with paused_in_layer_write("nsde") as (reached, release):
        thread, results = _in_thread(lambda: wh.run("nsde", source, SECOND_AS_OF, "nsde-a"))
        try:
            assert reached.wait(WAIT_SECONDS), "run A never reached a layer write"
            second = wh.run("nsde", source, SECOND_AS_OF, "nsde-b")
            written_by_b = [k for k in wh.keys("") if "nsde-b" in k and "_runs/" not in k]
        finally:
            release.set()
            thread.join(WAIT_SECONDS)

    assert second.exit_code == 1, describe(second)
    message = error_text(second).lower()
    assert "nsde-a" in message or "lock" in message or "running" in message, describe(second)
    assert written_by_b == [], f"the refused run wrote {written_by_b}"
    (a_result,) = results
    assert a_result.exit_code == 0, describe(a_result)
    status = wh.status("nsde")
    assert status["last_run"]["run_id"] == "nsde-a", status
    assert status["silver"]["last_changes"] == {"INSERT": 0, "UPDATE": 1, "DELETE": 0}
    current = wh.current("nsde")
    assert len(current) == make_bad.BASE_ROWS
    assert current[make_bad.nsde_row(1)[1]]["proprietary_name"] == "PRODUCT 1 NEW NAME"


def test_the_lock_is_released_after_a_failed_run(project: Path, tmp_path: Path) -> None:
    wh = Warehouse(project)
    wh.boot("nsde")
    first = wh.run("nsde", _base(tmp_path, "nsde"), FIRST_AS_OF, "nsde-first")
    assert first.exit_code == 0, describe(first)
    broken = make_bad.build(make_bad.CASES_BY_NAME["too_many_fields"], tmp_path / "bad")
    failed = wh.run("nsde", broken, SECOND_AS_OF, "nsde-broken")
    assert failed.exit_code == 1, describe(failed)
    good = wh.run("nsde", _next(tmp_path, "nsde"), SECOND_AS_OF, "nsde-good")
    assert good.exit_code == 0, describe(good)


def test_two_datasets_run_side_by_side(project: Path, tmp_path: Path) -> None:
    wh = Warehouse(project)
    wh.boot("nsde", "rxnorm")
    nsde_base, rxnorm_base = _base(tmp_path, "nsde"), _base(tmp_path, "rxnorm")

    with paused_in_layer_write("nsde") as (reached, release):
        thread, results = _in_thread(lambda: wh.run("nsde", nsde_base, FIRST_AS_OF, "nsde-1"))
        try:
            assert reached.wait(WAIT_SECONDS), "the nsde run never reached a layer write"
            rxnorm = wh.run("rxnorm", rxnorm_base, FIRST_AS_OF, "rxnorm-1")
        finally:
            release.set()
            thread.join(WAIT_SECONDS)

    assert rxnorm.exit_code == 0, describe(rxnorm)
    (nsde,) = results
    assert nsde.exit_code == 0, describe(nsde)
    assert len(wh.current("nsde")) == make_bad.BASE_ROWS
    assert len(wh.current("rxnorm")) == make_bad.BASE_ROWS
    for dataset in ("nsde", "rxnorm"):
        changes = wh.status(dataset)["silver"]["last_changes"]
        assert changes == {"INSERT": make_bad.BASE_ROWS, "UPDATE": 0, "DELETE": 0}


def test_a_killed_runs_lock_refuses_other_runs_but_its_retry_takes_it_over(
    project: Path, tmp_path: Path
) -> None:
    """The S3 lock a killed run leaves: another run id is refused with the way out named;
    the retry of the killed run (same run id) takes it over and completes."""
    wh = Warehouse(project)
    wh.boot("nsde")
    first = wh.run("nsde", _base(tmp_path, "nsde"), FIRST_AS_OF, "nsde-first")
    assert first.exit_code == 0, describe(first)
    lock = {"run_id": "nsde-dead", "started_at": "2099-01-01T00:00:00Z"}
    wh.s3.put_object(Bucket=wh.bucket, Key="silver/_runs/nsde/_lock", Body=json.dumps(lock))
    source = _next(tmp_path, "nsde")

    other = wh.run("nsde", source, SECOND_AS_OF, "nsde-other")
    assert other.exit_code == 1, describe(other)
    assert "nsde-dead" in error_text(other)
    assert "--run-id nsde-dead" in error_text(other)

    retry = wh.run("nsde", source, SECOND_AS_OF, "nsde-dead")
    assert retry.exit_code == 0, describe(retry)
    assert "earlier attempt" in retry.stderr
    assert wh.keys("silver/_runs/nsde/_lock") == []
    assert wh.status("nsde")["silver"]["last_changes"] == {"INSERT": 0, "UPDATE": 1, "DELETE": 0}
