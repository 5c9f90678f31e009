"""Fixtures of the IAM tests: the simulator, and a warehouse deployed into moto by ppdw."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import pytest

from tests.functional.iam.simulator import Simulator
from tests.functional.iam.warehouse import Deployed, deploy


@pytest.fixture(scope="session")
def simulator() -> Iterator[Simulator]:
    try:
        started = Simulator.start()
    except RuntimeError as error:
        pytest.fail(str(error))
    yield started
    started.close()


@pytest.fixture
def deployed(project: Path, moto_aws: None) -> Deployed:
    """`bootstrap-core` + `deploy nsde rxnorm` on `--target aws`, as an admin would."""
    return deploy(project)
