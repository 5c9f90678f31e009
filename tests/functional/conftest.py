"""Fixtures of the pipeline tests: a loaded project and an `aws` target with the core."""

from __future__ import annotations

from pathlib import Path

import pytest

from ppdw.config.loader import Project
from ppdw.targets import TargetContext
from tests.functional import pipeline_support as sup


@pytest.fixture
def loaded(project: Path) -> Project:
    return sup.load(project)


@pytest.fixture
def target(loaded: Project) -> TargetContext:
    t = sup.aws_target()
    sup.make_core(t, loaded, ["nsde", "rxnorm"])
    return t
