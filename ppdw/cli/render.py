"""Human output through rich on stderr; `--json` documents alone on stdout.

rich honours NO_COLOR and drops colour and animation when stderr is not a terminal.
"""

from __future__ import annotations

import json
import sys
from typing import Any

from rich.console import Console


def err() -> Console:
    """Messages, tables and progress for people: stderr."""
    return Console(stderr=True, highlight=False)


def out() -> Console:
    """Data a user asked for (tables for status and plans): stdout."""
    return Console(highlight=False)


def print_json(document: Any) -> None:
    sys.stdout.write(json.dumps(document, indent=2, sort_keys=False, default=str) + "\n")
    sys.stdout.flush()


def plural(count: int, noun: str, plural_form: str | None = None) -> str:
    """`1 run`, `2 runs`, `1,234 rows`."""
    word = noun if count == 1 else (plural_form or f"{noun}s")
    return f"{count:,} {word}"


def info(message: str) -> None:
    err().print(message)


def _short(value: Any, limit: int = 100) -> str:
    text = "-" if value is None else str(value)
    return text if len(text) <= limit else text[: limit - 1] + "…"


def plan(actions: list[Any], title: str, next_step: str | None) -> None:
    """A plan (`ppdw.deploy.plan.Action`s) Terraform-style on stdout: one line per
    resource and per changed field, never wrapped, then the summary and what to run."""
    from ppdw.cli.plan_view import plan_text

    out().print(plan_text(actions, title, next_step), soft_wrap=True)
