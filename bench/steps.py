"""Steps `bench.measure` can run in a fresh child process (for their peak RSS).

Rule: every step takes one JSON-able dict of parameters (paths as strings) and returns a
JSON-able dict. Only the fetch of a large file is measured this way now; the bronze and
silver steps are measured end to end through the CLI (`bench.e2e`).
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

Params = dict[str, Any]
Output = dict[str, Any]


def step_fetch_ppdw(params: Params) -> Output:
    from bench.fetch_local import fetch_file

    return fetch_file(params)


STEPS: dict[str, Callable[[Params], Output]] = {"fetch.ppdw": step_fetch_ppdw}
