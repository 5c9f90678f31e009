"""Targets: where ppdw acts. `aws` (and named AWS targets) or the embedded `local` one.

A target opens into a `TargetContext`: an `AwsSession` plus the account and region it
answers for. The rest of ppdw only ever sees that context, so the local target (moto in
this process, state kept between runs) plugs in behind the same seam.
"""

from __future__ import annotations

import os
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Literal

from ppdw.aws.session import AwsSession
from ppdw.config.models import Warehouse
from ppdw.errors import TargetError, did_you_mean


@dataclass
class TargetContext:
    name: str
    kind: Literal["local", "aws"]
    aws: AwsSession
    account_id: str
    region: str
    #: Athena is served here (AWS targets unless their config says `athena: false`).
    athena: bool = False
    _on_close: list[Callable[[bool], None]] = field(default_factory=list)

    def on_close(self, callback: Callable[[bool], None]) -> None:
        self._on_close.append(callback)

    def close(self, ok: bool = True) -> None:
        """Release the target; `ok` says whether the command succeeded (local: save)."""
        callbacks, self._on_close = self._on_close, []
        for callback in reversed(callbacks):
            callback(ok)


def choose_target_name(warehouse: Warehouse, explicit: str | None) -> str:
    name = explicit or os.environ.get("PPDW_TARGET") or warehouse.default_target
    if name not in warehouse.all_targets:
        known = ", ".join(sorted(warehouse.all_targets))
        raise TargetError(
            f"unknown target {name!r} (known: {known})",
            did_you_mean(name, sorted(warehouse.all_targets))
            or "declare it under 'targets' in config/warehouse.json",
        )
    return name


def open_target(
    warehouse: Warehouse, name: str, project_root: Path, *, read_only: bool = False
) -> TargetContext:
    """`read_only`: the command only reads (the local target then takes no lock)."""
    config = warehouse.all_targets[name]
    if config.kind == "local":
        from ppdw.targets.local import open_local_target

        local: TargetContext = open_local_target(name, warehouse, project_root, read_only=read_only)
        return local
    from ppdw.targets.aws import open_aws_target

    return open_aws_target(name, config, warehouse)
