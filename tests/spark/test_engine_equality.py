"""The same snapshot sequences through both engines give the same warehouse.

Bronze row for row (in source order), silver partition for partition, the same run
records (the file layout aside), the same errors: for the bundled samples and for a
generated random walk. The Spark engine reads each file in small byte ranges here
(conftest), so every file is split across tasks.
"""

from __future__ import annotations

from pathlib import Path

import pytest

from ppdw.config.loader import Project
from tests.functional import pipeline_support as sup
from tests.spark import twin, walks


@pytest.fixture
def loaded(project: Path) -> Project:
    return sup.load(project)


def _sample_steps(project: Project, dataset: str) -> list[twin.Step]:
    folder = project.dataset_dir(dataset)
    samples = project.dataset(dataset).source.samples
    times = sup.RUN_TIMES[dataset]
    return [
        twin.Step(folder / sample, sup.run_time(moment))
        for sample, moment in zip(samples, times, strict=True)
    ]


@pytest.mark.parametrize("dataset", ["nsde", "rxnorm"])
def test_bundled_samples_give_the_same_warehouse_on_both_engines(
    spark: object, loaded: Project, dataset: str
) -> None:
    steps = _sample_steps(loaded, dataset)
    arrow = twin.run_sequence(loaded, dataset, steps, "arrow")
    on_spark = twin.run_sequence(loaded, dataset, steps, "spark")
    assert arrow.errors == [None, None, None]
    assert twin.compare(arrow, on_spark) == []
    assert on_spark.engines == [{"spark"}] * 3
    assert arrow.engines == [{"arrow"}] * 3
    changes = [r["steps"]["silver"]["stats"]["changes"] for r in on_spark.records]
    expected = sup.expected_changes([sup.read_snapshot(loaded, dataset, i) for i in range(3)])
    assert [{k: c[k] for k in ("INSERT", "UPDATE", "DELETE")} for c in changes] == expected


def test_a_random_walk_gives_the_same_warehouse_on_both_engines(
    spark: object, loaded: Project, tmp_path: Path
) -> None:
    steps = walks.random_walk(tmp_path, seed=15, snapshots=5)
    arrow = twin.run_sequence(loaded, "nsde", steps, "arrow")
    on_spark = twin.run_sequence(loaded, "nsde", steps, "spark")
    assert arrow.errors == [None] * 5
    assert twin.compare(arrow, on_spark) == []
    last = on_spark.records[-1]["steps"]["silver"]["stats"]
    assert last["rejected"] > 0
    assert last["duplicates"] > 0
    assert "labeler_name" in on_spark.silver[max(on_spark.silver)].column_names
