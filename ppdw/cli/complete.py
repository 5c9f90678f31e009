"""Shell completion of dataset names, targets and run ids (`ppdw --install-completion`).

Completion runs on every <TAB>: it reads the project's files only (no target is opened,
no AWS call is made) and answers nothing rather than an error when the project cannot be
read.
"""

from __future__ import annotations

import json
from pathlib import Path

from ppdw.config.loader import DATASET_CONFIG, DATASETS_DIR, WAREHOUSE_FILE, find_project_root
from ppdw.errors import PpdwError


def _root() -> Path | None:
    try:
        return find_project_root()
    except PpdwError:
        return None


def datasets(incomplete: str) -> list[str]:
    root = _root()
    if root is None:
        return []
    found = (p.parent.parent.name for p in (root / DATASETS_DIR).glob(f"*/{DATASET_CONFIG}"))
    return sorted(name for name in found if name.startswith(incomplete))


def targets(incomplete: str) -> list[str]:
    root = _root()
    declared: list[str] = []
    if root is not None:
        try:
            document = json.loads((root / WAREHOUSE_FILE).read_text(encoding="utf-8"))
            declared = [str(name) for name in (document.get("targets") or {})]
        except (OSError, ValueError, AttributeError):
            declared = []
    names = sorted({"local", "aws", *declared})
    return [name for name in names if name.startswith(incomplete)]
