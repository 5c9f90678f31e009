"""How parameters read in `--help` and in usage lines.

Typer 0.29 prints each parameter's Python type after it (`DATASET <list[str]>`,
`--runner <stepfunctions|local>`) and wraps required arguments in braces in the usage
line (`{DATASET}`). Users know neither notation: ppdw's metavars already say what a value
is, so a parameter shows its metavar (or its choices as `a|b`) and usage lines use the
conventional `DATASET` / `[DATASET]`. Applied once, when the CLI is imported.
"""

from __future__ import annotations

from typing import Any

import typer.core

_APPLIED = False


def _choices(param: Any) -> str | None:
    descriptor = param.type_descriptor
    if descriptor.is_choice and descriptor.choices:
        return "|".join(str(getattr(c, "value", c)) for c in descriptor.choices)
    return None


def _option_type(self: Any, ctx: Any) -> str:
    if self.metavar is not None:
        return str(self.metavar)
    return _choices(self) or "VALUE"


def _argument_type(self: Any, ctx: Any) -> str | None:
    # The metavar is the argument's name in help; a type label after it says nothing more.
    return None


def _usage_name(self: Any) -> str:
    name = str(self.display_name_raw)
    if self.nargs != 1:
        name += "..."
    return name if self.required else f"[{name}]"


def apply() -> None:
    global _APPLIED
    if _APPLIED:
        return
    typer.core.TyperOption.display_type_rich = _option_type  # type: ignore[method-assign]
    typer.core.TyperArgument.display_type_rich = _argument_type  # type: ignore[method-assign]
    typer.core.TyperArgument._usage_display_name = _usage_name  # type: ignore[method-assign]
    _APPLIED = True
