"""`ppdw local export DIR`: the warehouse bucket's objects as plain files, mirrored.

Rule: an export folder never holds a file the selection does not. A first export needs an
empty (or new) folder; it is marked with `MANIFEST` (written before any data file, so even
an interrupted export is recognised); a later export into it removes every file the new
selection does not contain. A non-empty folder without the mark is refused: it may be the
user's own files. By default the selection is what readers see: every raw object, and for
bronze and silver only the partition folders the Glue catalog registers (a superseded
silver version folder is never exported). `all_objects` selects the whole bucket.

Every byte goes through the S3 API (`ppdw.aws.objects`), so this works on whatever backs
the target's S3.
"""

from __future__ import annotations

import json
import os
from collections.abc import Iterable
from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import Path
from typing import Any, Literal

from ppdw.aws._common import aws_action
from ppdw.aws.objects import ObjectInfo, list_objects, open_object
from ppdw.aws.s3 import S3
from ppdw.aws.session import AwsSession
from ppdw.aws.streams import iter_chunks
from ppdw.config.loader import Project
from ppdw.errors import AwsError, UsageError
from ppdw.runtime import catalog, storage

Layer = Literal["raw", "bronze", "silver"]
LAYERS: tuple[Layer, ...] = ("raw", "bronze", "silver")
#: Marks a folder as a ppdw export. A leading "." keeps it out of what pandas, pyarrow and
#: DuckDB read as a dataset.
MANIFEST = ".ppdw-export.json"


@dataclass(frozen=True)
class Selection:
    datasets: tuple[str, ...]
    layers: tuple[Layer, ...] = LAYERS
    all_objects: bool = False


@dataclass(frozen=True)
class ExportReport:
    objects: int
    bytes: int
    removed: int


def select_objects(
    aws: AwsSession, project: Project, bucket: str, selection: Selection
) -> list[ObjectInfo]:
    """The objects an export writes, in key order (folder markers left out)."""
    s3 = aws.client("s3")
    if selection.all_objects:
        found = list_objects(s3, bucket, "")
    else:
        glue = aws.client("glue")
        found = []
        for dataset in selection.datasets:
            names = project.warehouse.names.dataset(dataset)
            for layer in selection.layers:
                if layer == "raw":
                    found += list_objects(s3, bucket, names.raw_prefix)
                    continue
                database = project.warehouse.database(layer)
                with aws_action(f"read the partitions of {database}.{names.table}"):
                    locations = catalog.partition_locations(glue, database, names.table)
                for location in sorted(locations.values()):
                    prefix = storage.key_of(location, bucket)
                    found += list_objects(
                        s3, bucket, prefix if prefix.endswith("/") else prefix + "/"
                    )
    unique = {info.key: info for info in found if not info.key.endswith("/")}
    return [unique[key] for key in sorted(unique)]


def check_destination(destination: Path) -> None:
    """Refuse a file, or a non-empty folder that an earlier export did not mark."""
    if destination.exists() and not destination.is_dir():
        raise UsageError(f"{destination} is a file, not a folder", "give a folder to export into")
    if not destination.is_dir() or (destination / MANIFEST).is_file():
        return
    if any(destination.iterdir()):
        raise UsageError(
            f"{destination} is not empty and is not an earlier ppdw export (no {MANIFEST})",
            "export into a new or empty folder; an earlier export's folder is mirrored",
        )


def export(
    aws: AwsSession, project: Project, bucket: str, selection: Selection, destination: Path
) -> ExportReport:
    """Mirror the selected objects of `bucket` into `destination` (see the module rule)."""
    if not S3(aws).bucket_exists(bucket):
        raise AwsError(
            f"the local warehouse has no bucket {bucket} yet",
            "create it with `ppdw bootstrap-core` (or `ppdw run DATASET`)",
        )
    check_destination(destination)
    return mirror(aws, bucket, select_objects(aws, project, bucket, selection), destination)


def mirror(
    aws: AwsSession, bucket: str, objects: list[ObjectInfo], destination: Path
) -> ExportReport:
    """Write `objects` under `destination`, then remove every other file there."""
    root = destination.resolve()
    paths = {info.key: _path_of(root, info.key, destination) for info in objects}
    root.mkdir(parents=True, exist_ok=True)
    _write_manifest(root, bucket, objects, complete=False)
    s3 = aws.client("s3")
    total = 0
    for info in objects:
        total += _download(s3, bucket, info.key, paths[info.key])
    removed = _remove_others(root, set(paths.values()))
    _write_manifest(root, bucket, objects, complete=True)
    return ExportReport(objects=len(objects), bytes=total, removed=removed)


def _path_of(root: Path, key: str, shown: Path) -> Path:
    path = (root / key).resolve()
    if not path.is_relative_to(root) or path == root / MANIFEST:
        raise UsageError(f"refusing to export key {key!r}: it leaves {shown}")
    return path


def _download(s3: Any, bucket: str, key: str, path: Path) -> int:
    """Write one object through a temp file beside it, so no reader sees half a file."""
    path.parent.mkdir(parents=True, exist_ok=True)
    tmp = path.with_name(f".{path.name}.tmp-{os.getpid()}")
    written = 0
    try:
        body = open_object(s3, bucket, key, "download").body
        with aws_action(f"download s3://{bucket}/{key}"), open(tmp, "wb") as handle:
            for chunk in iter_chunks(body):
                handle.write(chunk)
                written += len(chunk)
        os.replace(tmp, path)
    finally:
        tmp.unlink(missing_ok=True)
    return written


def _remove_others(root: Path, keep: set[Path]) -> int:
    """Delete every file under `root` but the manifest and `keep`, then empty folders."""
    removed = 0
    for path in sorted(root.rglob("*"), reverse=True):
        if path.is_dir() and not path.is_symlink():
            if not any(path.iterdir()):
                path.rmdir()
        elif path != root / MANIFEST and path not in keep:
            path.unlink()
            removed += 1
    return removed


def _write_manifest(root: Path, bucket: str, objects: Iterable[ObjectInfo], complete: bool) -> None:
    document = {
        "bucket": bucket,
        "exported_at": datetime.now(UTC).strftime("%Y-%m-%dT%H:%M:%SZ"),
        "complete": complete,
        "objects": [info.key for info in objects],
    }
    tmp = root / f"{MANIFEST}.tmp-{os.getpid()}"
    tmp.write_text(json.dumps(document, indent=1) + "\n", encoding="utf-8")
    os.replace(tmp, root / MANIFEST)
