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
