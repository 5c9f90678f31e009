"""Data-plane commands: run, status."""

from __future__ import annotations

import typer


def register(app: typer.Typer) -> None:
    del app
