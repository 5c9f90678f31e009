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


def info(message: str) -> None:
    err().print(message)


def _short(value: Any, limit: int = 100) -> str:
    text = "-" if value is None else str(value)
    return text if len(text) <= limit else text[: limit - 1] + "…"


def plan_table(actions: list[Any], title: str) -> None:
    """A plan (list of `ppdw.deploy.plan.Action`) as a table on stdout, field by field."""
    from rich.table import Table

    table = Table(title=title, title_justify="left")
    for column in ("action", "type", "name", "field", "old", "new"):
        table.add_column(column, overflow="fold")
    for action in actions:
        if action.kind == "noop":
            continue
        kind = action.resource_type.replace("_", " ")
        if not action.changes:
            table.add_row(action.kind, kind, action.name, "", "", "")
        for change in action.changes:
            table.add_row(
                action.kind, kind, action.name, change.field, _short(change.old), _short(change.new)
            )
    out().print(table)
