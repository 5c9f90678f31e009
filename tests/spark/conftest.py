"""Spark tests: one local SparkSession per test process, small and quiet.

Every test here is marked `spark` (select with `-m spark`, leave out with `-m "not spark"`);
they run in the default suite. Without pyspark (the `spark` extra) they are skipped, except
in CI, where a missing extra is a failure.
"""

from __future__ import annotations

import os
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

from ppdw.runtime.spark.session import pyspark_available

HERE = Path(__file__).resolve().parent


def pytest_collection_modifyitems(items: list[pytest.Item]) -> None:
    for item in items:
        if HERE in Path(str(item.fspath)).resolve().parents:
            item.add_marker(pytest.mark.spark)


@pytest.fixture(scope="session")
def spark() -> Iterator[Any]:
    if not pyspark_available():
        if os.environ.get("CI"):
            pytest.fail("pyspark is missing: install the extra ('.[test,spark]')")
        pytest.skip("pyspark is not installed (extra 'spark')")
    from ppdw.runtime.spark.session import get_session

    session = get_session(cores=2, shuffle_partitions=3, driver_memory="1g")
    yield session
    session.stop()


@pytest.fixture(autouse=True)
def _small_ranges(monkeypatch: pytest.MonkeyPatch) -> None:
    """Small byte ranges, so even the samples are read by several tasks."""
    from ppdw.runtime.spark import bronze

    monkeypatch.setattr(bronze, "DEFAULT_RANGE_BYTES", 2048)
