"""Control-plane commands: validate, bootstrap-core, deploy, plan, destroy, add-dataset."""

from __future__ import annotations

import typer

from ppdw.cli import context, render


def validate(ctx: typer.Context) -> None:
    """Check every config file and dataset folder; no AWS calls.

    Example: ppdw validate
    """
    project = context.load_project(ctx, strict=True)
    names = ", ".join(sorted(project.datasets)) or "no datasets"
    render.info(f"config/warehouse.json and {len(project.datasets)} dataset(s) valid: {names}")


def register(app: typer.Typer) -> None:
    app.command("validate")(validate)
