"""What a layer step works with: its arguments, the dataset config, names and clients.

Rule: plain data and no I/O. `jobs` builds a `JobContext`; `layers` and the Spark engine's
steps read it. This module imports neither of them, so the arrows run one way:
jobs -> layers -> context.
"""

from __future__ import annotations

import dataclasses
import json
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any, cast

from ppdw.aws.session import AwsSession
from ppdw.config.models import Dataset
from ppdw.contracts.job_args import JobArgs
from ppdw.naming import DatasetNames
from ppdw.runtime.catalog import Sleep
from ppdw.runtime.lease import Lease


@dataclass
class JobContext:
    """Everything a layer step uses: arguments, dataset config, names and clients."""

    args: JobArgs
    dataset: Dataset
    names: DatasetNames
    s3: Any
    glue: Any
    sleep: Sleep
    clock: Callable[[], float]
    aws: AwsSession  # the session the clients came from (the lease's, Spark's tasks)
    engine: str = "arrow"  # the engine this step runs (`auto` resolved)
    lease: Lease | None = None

    @property
    def bucket(self) -> str:
        return self.args.bucket

    def check_lease(self) -> None:
        """The fence before a write that commits the run (`Lease.check`)."""
        if self.lease is not None:
            self.lease.check()


def as_dict(value: Any) -> dict[str, Any]:
    """Stats objects of the transforms (dataclass, pydantic or dict) as plain JSON data."""
    if value is None:
        return {}
    if dataclasses.is_dataclass(value) and not isinstance(value, type):
        value = dataclasses.asdict(value)
    elif hasattr(value, "model_dump"):
        value = value.model_dump()
    return cast(dict[str, Any], json.loads(json.dumps(value, default=str)))
