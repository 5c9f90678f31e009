"""Shell completion of dataset names, targets and run ids (`ppdw --install-completion`).

Completion runs on every <TAB>: datasets and targets come from the project's files alone;
run ids from the dataset's run records on the chosen target (one S3 listing; the local
target is opened read-only). It answers nothing rather than an error when it cannot.
"""

from __future__ import annotations

import json
import os
import shlex
from pathlib import Path

import click

from ppdw.config.layout import DATASET_CONFIG, DATASETS_DIR, WAREHOUSE_FILE, find_project_root
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


def run_ids(ctx: click.Context, incomplete: str) -> list[str]:
    """Run ids of the command's DATASET on the chosen target, from its run records.

    Opens the target read-only (the local one takes no lock) and lists one S3 prefix.
    A <TAB> must never print an error into the user's shell, so any failure (no project,
    no credentials, no network) answers no candidates.
    """
    # While an option's value is being typed, click has not assigned the positional
    # DATASET (it stops parsing at the unfinished option) and typer passes no words: find
    # it among the words the shell hands over (bash: COMP_WORDS; zsh, fish, PowerShell:
    # _TYPER_COMPLETE_ARGS).
    dataset = ctx.params.get("dataset")
    if not isinstance(dataset, str) or not dataset:
        known = set(datasets(""))
        dataset = next((word for word in _typed_words() if word in known), None)
    if dataset is None:
        return []
    root_params = ctx.find_root().params
    try:
        return sorted(
            run_id
            for run_id in _recorded_runs(
                root_params.get("project"), root_params.get("target"), dataset
            )
            if run_id.startswith(incomplete)
        )
    except Exception:  # noqa: BLE001 - completion answers nothing rather than fail the shell
        return []


def _typed_words() -> list[str]:
    text = os.environ.get("COMP_WORDS") or os.environ.get("_TYPER_COMPLETE_ARGS") or ""
    try:
        return shlex.split(text)
    except ValueError:  # an unclosed quote while typing
        return text.split()


def _recorded_runs(project_dir: str | None, target: str | None, dataset: str) -> list[str]:
    from ppdw.aws.objects import list_keys
    from ppdw.config.loader import load_project
    from ppdw.targets import choose_target_name, open_target

    project = load_project(find_project_root(explicit=project_dir))
    warehouse = project.warehouse
    names = warehouse.names.dataset(project.dataset(dataset).name)
    opened = open_target(
        warehouse, choose_target_name(warehouse, target), project.root, read_only=True
    )
    try:
        bucket = warehouse.names.bucket(opened.account_id)
        keys = list_keys(opened.aws.client("s3"), bucket, names.runs_prefix)
    finally:
        opened.close(False)
    found = (key[len(names.runs_prefix) :] for key in keys)
    return [
        k.removesuffix(".json")
        for k in found
        if k.endswith(".json") and "/" not in k and not k.startswith("_")
    ]
