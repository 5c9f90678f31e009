"""The bad-input corpus through both engines: the same errors, the same handling.

For each dataset one warehouse per engine loads the corpus's base snapshot, then every case
whose outcome depends on reading, typing or the silver rules, one after another (a failed
case changes nothing; a handled one changes silver for the next). The archive cases fail in
fetch, before any engine runs; the large generated cases are left to the corpus's own test.
"""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from pathlib import Path

import pytest

from ppdw.config.loader import Project
from tests.data.bad import make_bad
from tests.functional import pipeline_support as sup
from tests.spark import twin

_FETCH_CASES = {"zip_no_matching_member", "zip_truncated", "zip_parent_path", "zip_absolute_path"}


@pytest.fixture
def loaded(project: Path) -> Project:
    return sup.load(project)


def _steps(dataset: str, folder: Path) -> list[twin.Step]:
    start = datetime(2026, 11, 1, 6, tzinfo=UTC)
    base = folder / f"{dataset}-base.zip"
    base.write_bytes(make_bad.BASES[dataset]())
    steps = [twin.Step(base, start)]
    cases = [
        c for c in make_bad.CASES if c.dataset == dataset and not c.large
        and c.name not in _FETCH_CASES
    ]  # fmt: skip
    # Failing cases first: each must leave silver as the base left it.
    cases.sort(key=lambda c: c.expect.outcome != "fail")
    for index, case in enumerate(cases, start=1):
        path = folder / case.file_name
        path.write_bytes(case.build())
        steps.append(
            twin.Step(
                path,
                start + timedelta(days=index),
                force="--force" in case.args,
                silver_options=dict(case.silver_options),
            )
        )
    return steps


@pytest.mark.parametrize("dataset", ["nsde", "rxnorm"])
def test_the_bad_input_corpus_gives_the_same_outcomes_on_both_engines(
    spark: object, loaded: Project, tmp_path: Path, dataset: str
) -> None:
    steps = _steps(dataset, tmp_path)
    arrow = twin.run_sequence(loaded, dataset, steps, "arrow")
    on_spark = twin.run_sequence(loaded, dataset, steps, "spark")
    assert twin.compare(arrow, on_spark) == []
    failed = [e for e in on_spark.errors if e is not None]
    assert len(failed) >= (9 if dataset == "nsde" else 4)  # the failing cases did fail
