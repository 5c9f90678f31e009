"""Find the project, read its config files, and report errors by file and field path.

Config files are size-limited and parsed with the standard json module (no code runs,
duplicate keys are refused) before pydantic validates them.
"""

from __future__ import annotations

import json
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, TypeVar

from pydantic import BaseModel, ValidationError

from ppdw.config.layout import (
    DATASET_CONFIG,
    DATASETS_DIR,
    WAREHOUSE_FILE,
)
from ppdw.config.models import Dataset, Warehouse
from ppdw.errors import ConfigError, did_you_mean
from ppdw.naming import is_valid_dataset_name

MAX_CONFIG_BYTES = 1024 * 1024
#: Files a dataset folder must hold (product.md, Project layout).
DATASET_FILES = (
    Path("config/dataset.json"),
    Path("lambdas/fetch/app.py"),
    Path("glue/bronze_job.py"),
    Path("glue/silver_job.py"),
)

M = TypeVar("M", bound=BaseModel)


@dataclass(frozen=True)
class Project:
    root: Path
    warehouse: Warehouse
    datasets: dict[str, Dataset] = field(default_factory=dict)

    def dataset_dir(self, name: str) -> Path:
        return self.root / DATASETS_DIR / name

    def dataset(self, name: str) -> Dataset:
        if name not in self.datasets:
            known = ", ".join(sorted(self.datasets)) or "none"
            raise ConfigError(
                f"unknown dataset {name!r} (datasets in {DATASETS_DIR}/: {known})",
                did_you_mean(name, sorted(self.datasets))
                or f"create it with `ppdw add-dataset {name}`",
            )
        return self.datasets[name]


def read_json(path: Path, display: str) -> Any:
    """Parse a config file safely; errors name the file (and the line for syntax)."""
    try:
        size = path.stat().st_size
    except FileNotFoundError as exc:
        raise ConfigError(f"{display}: file not found") from exc
    if size > MAX_CONFIG_BYTES:
        raise ConfigError(f"{display}: {size} bytes, more than the {MAX_CONFIG_BYTES} allowed")
    try:
        text = path.read_text(encoding="utf-8")
    except UnicodeDecodeError as exc:
        raise ConfigError(f"{display}: not valid UTF-8 ({exc.reason} at byte {exc.start})") from exc
    try:
        return json.loads(text, object_pairs_hook=_refuse_duplicate_keys)
    except json.JSONDecodeError as exc:
        raise ConfigError(
            f"{display}: invalid JSON at line {exc.lineno}, column {exc.colno}: {exc.msg}"
        ) from exc
    except _DuplicateKeyError as exc:
        raise ConfigError(f"{display}: {exc.key}: duplicate key") from exc


class _DuplicateKeyError(ValueError):
    def __init__(self, key: str) -> None:
        super().__init__(key)
        self.key = key


def _refuse_duplicate_keys(pairs: list[tuple[str, Any]]) -> dict[str, Any]:
    out: dict[str, Any] = {}
    for key, value in pairs:
        if key in out:
            raise _DuplicateKeyError(key)
        out[key] = value
    return out


def format_validation_error(display: str, error: ValidationError) -> str:
    lines = []
    for item in error.errors():
        loc = ".".join(str(part) for part in item["loc"]) or "(top level)"
        message = item["msg"]
        if item["type"] == "extra_forbidden":
            message = "unknown key"
        elif item["type"] == "missing":
            message = "field required"
        lines.append(f"{display}: {loc}: {message}")
    return "\n".join(lines)


def parse_model(model: type[M], data: Any, display: str) -> M:
    try:
        return model.model_validate(data)
    except ValidationError as exc:
        raise ConfigError(format_validation_error(display, exc)) from exc


def load_warehouse(root: Path) -> Warehouse:
    display = str(WAREHOUSE_FILE)
    return parse_model(Warehouse, read_json(root / WAREHOUSE_FILE, display), display)


def dataset_names_on_disk(root: Path) -> list[str]:
    base = root / DATASETS_DIR
    if not base.is_dir():
        return []
    return sorted(p.name for p in base.iterdir() if p.is_dir() and not p.name.startswith("."))


def load_dataset(root: Path, name: str) -> Dataset:
    folder = DATASETS_DIR / name
    if not is_valid_dataset_name(name):
        raise ConfigError(f"{folder}: folder name is not a valid dataset name")
    display = str(folder / DATASET_CONFIG)
    dataset = parse_model(Dataset, read_json(root / folder / DATASET_CONFIG, display), display)
    if dataset.name != name:
        raise ConfigError(f"{display}: name: {dataset.name!r} differs from its folder {name!r}")
    return dataset


def check_dataset_folder(root: Path, dataset: Dataset) -> list[str]:
    """Problems with a dataset's files (missing scripts, missing samples, escapes)."""
    folder = root / DATASETS_DIR / dataset.name
    problems = [
        f"{DATASETS_DIR / dataset.name / rel}: file missing"
        for rel in DATASET_FILES
        if not (folder / rel).is_file()
    ]
    for sample in dataset.source.samples:
        display = DATASETS_DIR / dataset.name / DATASET_CONFIG
        target = (folder / sample).resolve()
        if not target.is_relative_to(folder.resolve()):
            problems.append(f"{display}: source.samples: {sample!r} is outside the dataset folder")
        elif not target.is_file():
            problems.append(f"{display}: source.samples: {sample!r} does not exist")
    return problems


def secret_problems(warehouse: Warehouse, datasets: dict[str, Dataset]) -> list[str]:
    """Secrets named outside `{prefix}/` (the fetch role could not read them)."""
    problems = []
    for name, dataset in datasets.items():
        auth = dataset.source.auth
        problem = None if auth is None else auth.namespace_problem(warehouse.prefix)
        if problem:
            problems.append(f"{DATASETS_DIR / name / DATASET_CONFIG}: source.auth.name: {problem}")
    return problems


def load_project(root: Path, *, strict: bool = False) -> Project:
    """Load the warehouse and every dataset; `strict` also checks dataset folders' files.

    All errors are collected so one `ppdw validate` shows every problem at once.
    """
    errors: list[str] = []
    warehouse: Warehouse | None = None
    try:
        warehouse = load_warehouse(root)
    except ConfigError as exc:
        errors.append(exc.message)
    datasets: dict[str, Dataset] = {}
    for name in dataset_names_on_disk(root):
        try:
            dataset = load_dataset(root, name)
        except ConfigError as exc:
            errors.append(exc.message)
            continue
        datasets[name] = dataset
        if strict:
            errors.extend(check_dataset_folder(root, dataset))
    if warehouse is not None:
        errors.extend(secret_problems(warehouse, datasets))
    if errors or warehouse is None:
        raise ConfigError("\n".join(errors), "fix the files named above, then run `ppdw validate`")
    return Project(root=root, warehouse=warehouse, datasets=datasets)
