"""The only wiring: global options -> project config, target, consoles."""

from __future__ import annotations

import gc
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from typing import TYPE_CHECKING

import typer

if TYPE_CHECKING:
    from ppdw.config.loader import Project
    from ppdw.targets import TargetContext


@dataclass
class AppState:
    target: str | None = None
    project: str | None = None
    verbose: bool = False


def state(ctx: typer.Context) -> AppState:
    obj = ctx.find_root().obj
    return obj if isinstance(obj, AppState) else AppState()


def load_project(ctx: typer.Context, *, strict: bool = False) -> Project:
    from ppdw.config.layout import find_project_root
    from ppdw.config.loader import load_project as load

    return load(find_project_root(explicit=state(ctx).project), strict=strict)


def target_name(ctx: typer.Context, project: Project) -> str:
    from ppdw.targets import choose_target_name

    return choose_target_name(project.warehouse, state(ctx).target)


@contextmanager
def open_target(
    ctx: typer.Context, project: Project, *, read_only: bool = False
) -> Iterator[TargetContext]:
    """Open the chosen target for one command; closing it saves local state on success.

    `read_only` commands read the local target's last saved state without its lock."""
    from ppdw.targets import open_target as open_

    target = open_(project.warehouse, target_name(ctx, project), project.root, read_only=read_only)
    # What exists now (libraries, service models, the embedded target's state) lives as
    # long as the command: the collector need not walk it again while the command works
    # (0.1-0.2 s of a 1M-row run). Unfrozen when the command ends, so a process running
    # many commands (tests, a notebook) still collects what each one left behind.
    gc.freeze()
    ok = False
    try:
        yield target
        ok = True
    finally:
        try:
            target.close(ok)
        finally:
            gc.unfreeze()
