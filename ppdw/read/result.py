"""What an engine answers: an Arrow table, whether `--limit` cut it, and how it ran."""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

import pyarrow as pa


@dataclass(frozen=True)
class QueryResult:
    table: pa.Table
    engine: str
    truncated: bool = False  # more rows existed than --limit let through
    sql: str = ""  # what the engine ran (after the as-of rewrite)
    details: dict[str, Any] = field(default_factory=dict)  # e.g. Athena's query id
