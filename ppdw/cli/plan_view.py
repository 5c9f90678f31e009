"""Plans as people read them: Terraform's symbols and colours, one change per line.

`+` create, `~` update in place, `-` delete, `-/+` replace. Field changes read
`field: old -> new`, long values shortened (hashes to their first characters, documents
to their start and length); IAM documents show the permissions added and removed. Lines
never wrap, so a CI log holds one change per line.
"""

from __future__ import annotations

import re
from typing import Any

from rich.text import Text

from ppdw.deploy.approval import grants, summarize, symbol
from ppdw.deploy.plan import Action, FieldChange

STYLES = {"+": "green", "~": "yellow", "-": "red", "-/+": "magenta"}
VALUE_LIMIT = 60
_HASH = re.compile(r"^[A-Za-z0-9+/=_-]{32,}$")


def shorten(value: Any, limit: int = VALUE_LIMIT) -> str:
    if value is None:
        return "(none)"
    text = str(value)
    if _HASH.match(text):
        return f"{text[:12]}…"
    if len(text) <= limit:
        return text
    return f"{text[: limit - 20]}… ({len(text):,} chars)"


def _iam_lines(change: FieldChange) -> list[tuple[str, str]]:
    old, new = grants(change.old), grants(change.new)
    lines = [("+", f"allow {a} on {r}") for a, r, _ in sorted(new - old)]
    lines += [("-", f"allow {a} on {r}") for a, r, _ in sorted(old - new)]
    return lines or [("~", "conditions or wording changed")]


def _change_lines(action: Action) -> list[tuple[str, str]]:
    lines: list[tuple[str, str]] = []
    for change in action.changes:
        if action.resource_type == "role" and (
            change.field == "trust" or change.field.startswith("policy.")
        ):
            lines.append(("", f"{change.field}:"))
            lines += [(mark, f"  {text}") for mark, text in _iam_lines(change)]
        else:
            lines.append(("", f"{change.field}: {shorten(change.old)} -> {shorten(change.new)}"))
    return lines


def plan_text(actions: list[Action], title: str, next_step: str | None) -> Text:
    text = Text(f"{title}\n\n")
    changed = [a for a in actions if symbol(a) is not None]
    for action in changed:
        mark = symbol(action)
        assert mark is not None
        label = action.resource_type.replace("_", " ")
        text.append(f"  {mark:>3} ", style=STYLES[mark])
        text.append(f"{label} {action.name}")
        if action.replace:
            text.append("  (replaced)", style="magenta")
        text.append("\n")
        for sub, line in _change_lines(action):
            text.append("        ")
            text.append(f"{sub} " if sub else "", style=STYLES.get(sub, ""))
            text.append(f"{line}\n")
    summary = summarize(actions)
    text.append(f"\nPlan: {summary.line()}.", style="bold")
    if next_step and summary.total:
        text.append(f"\n{next_step}")
    return text
