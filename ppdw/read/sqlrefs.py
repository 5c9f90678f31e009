"""Table references in a user's SQL, and the as-of rewrite for engines without views.

Pure. A small tokenizer (strings, quoted identifiers and comments are never touched) finds
every `database.table` whose database is one of the warehouse's. Athena cannot hold a
per-query view, so for `--as-of` each reference becomes a subquery with the as-of filter
(`ppdw.read.asof.view_sql`); DuckDB gets the same filter as views instead.
"""

from __future__ import annotations

import re
from collections.abc import Callable
from dataclasses import dataclass

_TOKEN = re.compile(
    r"""
    (?P<space>\s+)
  | (?P<comment>--[^\n]*|/\*.*?(?:\*/|\Z))
  | (?P<string>'(?:[^']|'')*'?)
  | (?P<quoted>"(?:[^"]|"")*"?)
  | (?P<word>[A-Za-z_][A-Za-z0-9_$]*)
  | (?P<other>.)
    """,
    re.VERBOSE | re.DOTALL,
)

#: Words that may follow a table reference and are not an alias of it.
_NOT_ALIAS = frozenset(
    [
        "where",
        "join",
        "inner",
        "left",
        "right",
        "full",
        "outer",
        "cross",
        "natural",
        "on",
        "using",
        "group",
        "order",
        "having",
        "limit",
        "offset",
        "union",
        "intersect",
        "except",
        "window",
        "fetch",
        "tablesample",
        "qualify",
        "for",
        "with",
        "select",
        "from",
        "lateral",
        "unnest",
        "values",
    ]
)
#: Athena's name of the Glue catalog, allowed in front of a database name.
CATALOG = "awsdatacatalog"


@dataclass(frozen=True)
class Token:
    kind: str
    text: str
    start: int
    end: int

    @property
    def name(self) -> str | None:
        """The identifier this token names (unquoted words fold to lower case)."""
        if self.kind == "word":
            return self.text.lower()
        if self.kind == "quoted" and len(self.text) >= 2 and self.text.endswith('"'):
            return self.text[1:-1].replace('""', '"')
        return None


@dataclass(frozen=True)
class TableRef:
    database: str
    table: str
    start: int
    end: int
    aliased: bool  # an alias follows the reference in the SQL


def tokens(sql: str) -> list[Token]:
    return [Token(str(m.lastgroup), m.group(), m.start(), m.end()) for m in _TOKEN.finditer(sql)]


def _significant(items: list[Token]) -> list[Token]:
    return [t for t in items if t.kind not in ("space", "comment")]


def table_refs(sql: str, databases: set[str]) -> list[TableRef]:
    """Every `[awsdatacatalog.]database.table` of the SQL whose database is in `databases`."""
    items = _significant(tokens(sql))
    found: list[TableRef] = []
    for index in range(len(items) - 2):
        first, dot, last = items[index], items[index + 1], items[index + 2]
        if dot.text != "." or first.name not in databases or last.name is None:
            continue
        start = first.start
        if index and items[index - 1].text == ".":
            if index < 2 or items[index - 2].name != CATALOG:
                continue  # the middle of a longer name
            start = items[index - 2].start
        if index + 3 < len(items) and items[index + 3].text == ".":
            continue  # database.table.column: a column, not a table
        found.append(
            TableRef(str(first.name), last.name, start, last.end, _aliased(items, index + 3))
        )
    return found


def _aliased(items: list[Token], index: int) -> bool:
    if index >= len(items):
        return False
    token = items[index]
    if token.kind == "quoted":
        return True
    return token.kind == "word" and (
        token.text.lower() == "as" or token.text.lower() not in _NOT_ALIAS
    )


def rewrite(sql: str, refs: list[TableRef], replacement: Callable[[TableRef], str | None]) -> str:
    """`sql` with each reference replaced by `(replacement) [AS "table"]` (None: kept)."""
    out: list[str] = []
    position = 0
    for ref in sorted(refs, key=lambda r: r.start):
        body = replacement(ref)
        if body is None:
            continue
        out.append(sql[position : ref.start])
        alias = "" if ref.aliased else f' AS "{ref.table}"'
        out.append(f"({body}){alias}")
        position = ref.end
    out.append(sql[position:])
    return "".join(out)


def qualified(database: str, table: str) -> str:
    return f'"{database}"."{table}"'
