"""Where a project's files are, and finding the project: no config is parsed here.

Rule: light to import (no pydantic, no AWS): shell completion and `ppdw --help` use it.
"""

from __future__ import annotations

import os
from pathlib import Path

from ppdw.errors import ConfigError

WAREHOUSE_FILE = Path("config/warehouse.json")
DATASETS_DIR = Path("fda")
DATASET_CONFIG = Path("config/dataset.json")


def find_project_root(start: Path | None = None, explicit: str | None = None) -> Path:
    """`--project`, then `PPDW_PROJECT`, then the nearest folder upward with the config."""
    chosen = explicit or os.environ.get("PPDW_PROJECT")
    if chosen:
        root = Path(chosen).expanduser().resolve()
        if not (root / WAREHOUSE_FILE).is_file():
            raise ConfigError(
                f"{root}: no {WAREHOUSE_FILE} here",
                "point --project (or PPDW_PROJECT) at the folder holding config/warehouse.json",
            )
        return root
    here = (start or Path.cwd()).resolve()
    for folder in (here, *here.parents):
        if (folder / WAREHOUSE_FILE).is_file():
            return folder
    raise ConfigError(
        f"no {WAREHOUSE_FILE} in {here} or any folder above it",
        "run ppdw inside the project, or pass --project DIR",
    )
