"""Targets: where ppdw acts. `aws` (and named AWS targets) or the embedded `local` one.

A target opens into a `TargetContext`: an `AwsSession` plus the account and region it
answers for. The rest of ppdw only ever sees that context, so the local target (moto in
this process, state kept between runs) plugs in behind the same seam.
"""

from __future__ import annotations

import os
from pathlib import Path

from ppdw.config.models import Warehouse
from ppdw.errors import TargetError, did_you_mean
from ppdw.targets.context import TargetContext

__all__ = ["TargetContext", "choose_target_name", "open_target"]


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
