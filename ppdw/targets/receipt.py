"""The local target's deploy receipt: a run skips re-checking a stack built from the same inputs.

Before a run on `local`, ppdw checks that the dataset's stack exists and matches the
dataset's folder (`ppdw.runs.local.prepare_local_target` and the drift guard): a read of
every resource through the emulator, about a second of a run that may take a few. Once
those checks pass, the run records a receipt: a digest of every input the stack's specs
are built from (the ppdw package, the project's `config/`, the dataset's files). A later
run whose inputs have the same digest skips the checks; any edit, a ppdw upgrade included,
changes the digest and the full checks run again.

Rule: only on a state this process holds alone (`TargetContext.exclusive`), since only
ppdw changes the stacks of such a state. The receipt is an object in the bucket, under the
dataset's scripts prefix: saved with the state, gone with `local reset` and `destroy`, and
deleted when the state is served (other clients may change stacks then).
"""

from __future__ import annotations

import hashlib
from pathlib import Path
from typing import Any

import ppdw
from ppdw.aws import objects
from ppdw.config.layout import DATASETS_DIR, WAREHOUSE_FILE
from ppdw.config.loader import DATASET_FILES
from ppdw.naming import LOCAL_RECEIPT, CoreNames
from ppdw.targets.context import TargetContext

PACKAGE_DIR = Path(ppdw.__file__).resolve().parent
_VERSION = "1"


def inputs_digest(project_root: Path, dataset: str) -> str:
    """sha256 over the names and contents of the files the dataset's stack is built from."""
    folder = project_root / DATASETS_DIR / dataset
    package = sorted(
        path
        for path in PACKAGE_DIR.rglob("*")
        if path.is_file() and "__pycache__" not in path.parts and path.suffix != ".pyc"
    )
    config = (project_root / WAREHOUSE_FILE).parent
    project = sorted(p for p in config.rglob("*") if p.is_file())
    project += [folder / rel for rel in DATASET_FILES if (folder / rel).is_file()]
    digest = hashlib.sha256(f"ppdw-local-receipt {_VERSION}\n".encode())
    # Names relative to their roots: a moved checkout or project keeps its receipts.
    named = [(p.relative_to(PACKAGE_DIR), p) for p in package]
    named += [(p.relative_to(project_root), p) for p in project]
    for name, path in named:
        digest.update(f"{name.as_posix()}\n".encode())
        digest.update(hashlib.sha256(path.read_bytes()).digest())
    return digest.hexdigest()


def _where(target: TargetContext, names: CoreNames, dataset: str) -> tuple[Any, str, str]:
    key = names.dataset(dataset).local_receipt_key
    return target.aws.client("s3"), names.bucket(target.account_id), key


def holds(target: TargetContext, names: CoreNames, project_root: Path, dataset: str) -> bool:
    """Whether a receipt for exactly these inputs is on this (exclusive local) target."""
    if not target.exclusive:
        return False
    s3, bucket, key = _where(target, names, dataset)
    if objects.bucket_state(s3, bucket) != "exists":
        return False
    found = objects.get_json(s3, bucket, key)
    wanted = inputs_digest(project_root, dataset)
    return isinstance(found, dict) and found.get("inputs_sha256") == wanted


def record(target: TargetContext, names: CoreNames, project_root: Path, dataset: str) -> None:
    """After the stack was checked (or deployed) against these inputs."""
    if not target.exclusive:
        return
    s3, bucket, key = _where(target, names, dataset)
    objects.put_json(s3, bucket, key, {"inputs_sha256": inputs_digest(project_root, dataset)})


def forget_all(s3: Any, bucket: str) -> None:
    """Delete every dataset's receipt (the state is about to be served)."""
    if objects.bucket_state(s3, bucket) != "exists":
        return
    keys = [k for k in objects.list_keys(s3, bucket, "scripts/") if k.endswith(LOCAL_RECEIPT)]
    objects.delete_keys(s3, bucket, keys)
