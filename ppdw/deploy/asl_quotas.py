"""Step Functions quotas that ASL validators do not check, and a checker for them. Pure.

An ASL validator (e.g. npm `asl-validator`) checks a definition's shape; Step Functions
also refuses, at create or at run time, what breaks these limits:

- at most 10 intrinsic functions (`States.*`) in one field ("You can nest up to 10
  intrinsic functions within a field"): "Intrinsic functions for JSONPath states", https://docs.aws.amazon.com/step-functions/latest/dg/intrinsic-functions.html
- state names of at most 80 characters: Amazon States Language specification, "States",
  https://states-language.net/spec.html#states-fields
- a definition of at most 1 MB: "Step Functions service quotas", quotas related to state
  machines, https://docs.aws.amazon.com/step-functions/latest/dg/service-quotas.html
- execution names of 1-80 characters without white space, brackets, wildcards, the
  special characters below or control characters: `StartExecution`, request parameter
  `name`, https://docs.aws.amazon.com/step-functions/latest/apireference/API_StartExecution.html
"""

from __future__ import annotations

import json
import re
from collections.abc import Iterable, Iterator, Mapping
from typing import Any

MAX_INTRINSICS_PER_FIELD = 10
MAX_STATE_NAME = 80
MAX_DEFINITION_BYTES = 1024 * 1024
MAX_EXECUTION_NAME = 80
#: Characters `StartExecution` refuses in a name (besides white space and controls).
EXECUTION_NAME_FORBIDDEN = frozenset('<>{}[]?*"#%\\^|~`$&,;:/')

_INTRINSIC = re.compile(r"States\.[A-Za-z][A-Za-z0-9]*\s*\(")


def intrinsic_count(expression: str) -> int:
    """Intrinsic function calls in one field's value; quoted text ('...') is not code."""
    code: list[str] = []
    quoted = escaped = False
    for char in expression:
        if quoted:
            if escaped:
                escaped = False
            elif char == "\\":
                escaped = True
            elif char == "'":
                quoted = False
            continue
        if char == "'":
            quoted = True
            code.append(" ")
            continue
        code.append(char)
    return len(_INTRINSIC.findall("".join(code)))


def _fields(node: Any, path: str) -> Iterator[tuple[str, str]]:
    """(path, value) of every `key.$` string field, at any depth."""
    if isinstance(node, Mapping):
        for key, value in node.items():
            where = f"{path}.{key}" if path else str(key)
            if str(key).endswith(".$") and isinstance(value, str):
                yield where, value
            else:
                yield from _fields(value, where)
    elif isinstance(node, list):
        for index, item in enumerate(node):
            yield from _fields(item, f"{path}[{index}]")


def _states(machine: Mapping[str, Any], path: str) -> Iterator[tuple[str, str]]:
    """(path, name) of every state, in Map and Parallel branches too."""
    for name, state in (machine.get("States") or {}).items():
        where = f"{path}.States.{name}" if path else f"States.{name}"
        yield where, str(name)
        if not isinstance(state, Mapping):
            continue
        for key in ("Iterator", "ItemProcessor"):
            if isinstance(state.get(key), Mapping):
                yield from _states(state[key], f"{where}.{key}")
        for index, branch in enumerate(state.get("Branches") or []):
            yield from _states(branch, f"{where}.Branches[{index}]")


def execution_name_problem(name: str) -> str | None:
    """Why `StartExecution` would refuse this name, or None."""
    if not 1 <= len(name) <= MAX_EXECUTION_NAME:
        return f"{len(name)} characters, 1-{MAX_EXECUTION_NAME} allowed"
    for char in name:
        if char.isspace() or char in EXECUTION_NAME_FORBIDDEN:
            return f"character {char!r} is not allowed"
        if ord(char) < 0x20 or 0x7F <= ord(char) <= 0x9F:
            return f"control character U+{ord(char):04X} is not allowed"
    return None


def quota_problems(definition: Mapping[str, Any], execution_names: Iterable[str] = ()) -> list[str]:
    """Every quota the definition (and the execution names it will be started with)
    breaks, one line each naming where; empty when within all of them."""
    problems: list[str] = []
    for where, value in _fields(definition, ""):
        count = intrinsic_count(value)
        if count > MAX_INTRINSICS_PER_FIELD:
            problems.append(
                f"{where}: {count} intrinsic functions, at most "
                f"{MAX_INTRINSICS_PER_FIELD} allowed in one field"
            )
    for where, name in _states(definition, ""):
        if len(name) > MAX_STATE_NAME:
            problems.append(f"{where}: state name of {len(name)} characters, at most 80")
    size = len(json.dumps(definition).encode("utf-8"))
    if size > MAX_DEFINITION_BYTES:
        problems.append(f"definition: {size} bytes, at most {MAX_DEFINITION_BYTES}")
    for name in execution_names:
        problem = execution_name_problem(name)
        if problem is not None:
            problems.append(f"execution name {name!r}: {problem}")
    return problems
