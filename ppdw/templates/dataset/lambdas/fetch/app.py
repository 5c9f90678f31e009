"""Fetch Lambda of this dataset: source -> raw. All logic is in ppdw.runtime.fetch."""

from __future__ import annotations

from typing import Any

from ppdw.runtime.fetch import lambda_handler


def handler(event: dict[str, Any], context: Any) -> dict[str, Any]:
    return lambda_handler(event, context, app_file=__file__)
