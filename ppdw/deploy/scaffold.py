"""`add-dataset`: scaffold `fda/NAME/` from the package templates, validated, atomically.

Files are written to a hidden temporary folder beside the datasets, validated with the
config loader, then renamed into place: a refused name or an invalid config leaves
nothing behind.
"""

from __future__ import annotations

import json
import shutil
import tempfile
from dataclasses import dataclass
from importlib import resources
from pathlib import Path
from typing import Any, Literal

from ppdw.config.layout import DATASET_CONFIG, DATASETS_DIR
from ppdw.config.loader import DATASET_FILES, parse_model, read_json
from ppdw.config.models import Dataset
from ppdw.errors import ConfigError, UsageError
from ppdw.naming import DATASET_NAME_PATTERN, is_valid_dataset_name

SourceFormat = Literal["csv", "rrf", "tsv"]
_MEMBERS = {"csv": "*.csv", "tsv": "*.txt", "rrf": "*.RRF"}


@dataclass(frozen=True)
class NewDataset:
    name: str
    source_url: str | None = None
    format: SourceFormat = "csv"
    business_key: tuple[str, ...] = ()
    description: str = ""
    columns: tuple[str, ...] = ()


def check_name(root: Path, name: str) -> None:
    if not is_valid_dataset_name(name):
        raise UsageError(
            f"invalid dataset name {name!r}",
            f"use lower-case letters, digits and '_' ({DATASET_NAME_PATTERN}, no '__'): "
            "it goes into every resource name and S3 prefix",
        )
    if (root / DATASETS_DIR / name).exists():
        raise UsageError(
            f"dataset {name!r} already exists in {DATASETS_DIR / name}",
            "choose another name; add-dataset never overwrites",
        )


def dataset_config(spec: NewDataset) -> dict[str, Any]:
    template = resources.files("ppdw.templates").joinpath("dataset/config/dataset.json")
    config: dict[str, Any] = json.loads(template.read_text(encoding="utf-8"))
    config["name"] = spec.name
    config["description"] = spec.description
    source = config["source"]
    source["format"] = spec.format
    source["url"] = spec.source_url or f"https://example.invalid/{spec.name}.{spec.format}"
    if source["url"].lower().split("?")[0].endswith(".zip"):
        source["compression"] = "zip"
        source["members"] = [_MEMBERS[spec.format]]
    if spec.format == "rrf":
        source["header"] = False
        source["fallback_encoding"] = None
    if spec.columns:
        source["columns"] = list(spec.columns)
    if spec.business_key:
        config["business_key"] = list(spec.business_key)
    return config


def _copy_templates(folder: Path) -> None:
    base = resources.files("ppdw.templates").joinpath("dataset")
    for rel in DATASET_FILES:
        if rel == DATASET_CONFIG:
            continue
        target = folder / rel
        target.parent.mkdir(parents=True, exist_ok=True)
        target.write_bytes(base.joinpath(rel.as_posix()).read_bytes())
    (folder / "sample").mkdir(exist_ok=True)


def scaffold(root: Path, spec: NewDataset) -> Path:
    """Create `fda/NAME/`; return it. Nothing is written when anything is wrong."""
    check_name(root, spec.name)
    if spec.format == "rrf" and not spec.columns:
        raise UsageError(
            "an rrf source has no header", "pass its column names with --columns A,B,..."
        )
    datasets = root / DATASETS_DIR
    datasets.mkdir(exist_ok=True)
    staging = Path(tempfile.mkdtemp(prefix=f".add-{spec.name}-", dir=datasets))
    try:
        config_path = staging / DATASET_CONFIG
        config_path.parent.mkdir(parents=True)
        config_path.write_text(json.dumps(dataset_config(spec), indent=2) + "\n", encoding="utf-8")
        _copy_templates(staging)
        display = str(DATASETS_DIR / spec.name / DATASET_CONFIG)
        parse_model(Dataset, read_json(config_path, display), display)
        final = datasets / spec.name
        staging.rename(final)  # fails if the name appeared meanwhile: never overwrite
    except (ConfigError, OSError):
        shutil.rmtree(staging, ignore_errors=True)
        raise
    return final
