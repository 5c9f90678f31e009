"""The record_hash upgrade (`hash_upgrade`) on the Spark engine: a history hashed before
the decimal fix, then a run on Spark; the same outcome the Arrow engine's test asserts."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pytest

from tests.functional.test_silver_edges import upgrade_an_old_history

pytestmark = pytest.mark.usefixtures("moto_aws")


def test_a_spark_run_brings_old_form_hashes_up_to_date_and_keeps_every_version(
    spark: Any, project: Path, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    upgrade_an_old_history(project, tmp_path, monkeypatch, "--engine", "spark")
