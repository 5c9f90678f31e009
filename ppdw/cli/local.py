"""`ppdw local ...`: the embedded local target's state."""

from __future__ import annotations

import typer


def register(app: typer.Typer) -> None:
    del app
