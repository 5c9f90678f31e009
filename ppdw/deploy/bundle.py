"""Artifacts deploy uploads: job scripts, the runtime package zip, the fetch Lambda zip.

Reads files, writes nothing. Zips are deterministic (sorted entries, fixed timestamps and
permissions), so the same sources give the same bytes and the same sha256: unchanged
code is never re-uploaded.
"""

from __future__ import annotations

import ast
import base64
import hashlib
import io
import zipfile
from collections.abc import Iterable, Iterator
from dataclasses import dataclass
from pathlib import Path

import ppdw

PACKAGE_DIR = Path(ppdw.__file__).resolve().parent
#: Parts of the package Glue and Lambda never need (CLI, scaffolding, control plane).
RUNTIME_EXCLUDED = ("cli", "templates", "targets", "deploy", "runs")
_FIXED_TIME = (1980, 1, 1, 0, 0, 0)


@dataclass(frozen=True)
class Artifact:
    key: str
    body: bytes
    content_type: str

    @property
    def sha256(self) -> str:
        return hashlib.sha256(self.body).hexdigest()


def sha256_base64(body: bytes) -> str:
    """The form Lambda reports as CodeSha256."""
    return base64.b64encode(hashlib.sha256(body).digest()).decode("ascii")


def deterministic_zip(files: Iterable[tuple[str, bytes]]) -> bytes:
    buffer = io.BytesIO()
    with zipfile.ZipFile(buffer, "w", compression=zipfile.ZIP_DEFLATED) as archive:
        for name, body in sorted(files):
            info = zipfile.ZipInfo(name, date_time=_FIXED_TIME)
            info.external_attr = 0o644 << 16
            info.compress_type = zipfile.ZIP_DEFLATED
            archive.writestr(info, body)
    return buffer.getvalue()


def _package_files(package_dir: Path) -> list[tuple[str, Path]]:
    files = []
    for path in sorted(package_dir.rglob("*")):
        rel = path.relative_to(package_dir)
        if not path.is_file() or "__pycache__" in rel.parts or path.suffix in (".pyc", ".pyo"):
            continue
        if rel.parts[0] in RUNTIME_EXCLUDED:
            continue
        files.append((f"ppdw/{rel.as_posix()}", path))
    return files


def runtime_zip(package_dir: Path = PACKAGE_DIR) -> bytes:
    """The ppdw package minus cli/, templates/, targets/, deploy/, runs/ (`--extra-py-files`)."""
    return deterministic_zip(
        (name, path.read_bytes()) for name, path in _package_files(package_dir)
    )


# ------------------------------------------------------------------ import closure


def _imported_modules(source: str, module: str, is_package: bool) -> set[str]:
    """Absolute names of the modules one source file imports (relative ones resolved)."""
    found: set[str] = set()
    base = module.split(".") if is_package else module.split(".")[:-1]
    for node in _statements(ast.parse(source).body):
        if isinstance(node, ast.Import):
            found.update(alias.name for alias in node.names)
        elif isinstance(node, ast.ImportFrom):
            if node.level:
                anchor = base[: len(base) - (node.level - 1)] if node.level > 1 else base
                prefix = ".".join(anchor)
                target = f"{prefix}.{node.module}" if node.module else prefix
            else:
                target = node.module or ""
            found.add(target)
            # `from ppdw.runtime import fetch` may name a module as well as an attribute.
            found.update(f"{target}.{alias.name}" for alias in node.names)
    return found


def _statements(body: list[ast.stmt]) -> Iterator[ast.stmt]:
    """Every statement, nested ones included (an import is always a statement: walking
    statements only is what keeps planning a deploy, and each run's drift check, fast)."""
    for node in body:
        yield node
        for field in ("body", "orelse", "finalbody"):
            yield from _statements(getattr(node, field, None) or [])
        for handler in getattr(node, "handlers", None) or []:
            yield from _statements(handler.body)
        for case in getattr(node, "cases", None) or []:
            yield from _statements(case.body)


def _module_path(name: str, package_dir: Path) -> tuple[Path, bool] | None:
    parts = name.split(".")[1:]
    folder = package_dir.joinpath(*parts)
    if (folder / "__init__.py").is_file():
        return folder / "__init__.py", True
    module = folder.with_suffix(".py") if parts else None
    if module is not None and module.is_file():
        return module, False
    return None


def ppdw_closure(entry_source: str, package_dir: Path = PACKAGE_DIR) -> dict[str, Path]:
    """Zip names -> files of every `ppdw.*` module the entry imports, transitively.

    Modules that do not exist (yet) are skipped; parent packages' `__init__.py` come along
    because Python imports them first.
    """
    todo = sorted(n for n in _imported_modules(entry_source, "app", False) if _is_ppdw(n))
    files: dict[str, Path] = {}
    seen: set[str] = set()
    while todo:
        name = todo.pop()
        if name in seen:
            continue
        seen.add(name)
        parents = [".".join(name.split(".")[:i]) for i in range(1, name.count(".") + 1)]
        todo.extend(p for p in parents if p not in seen)
        located = _module_path(name, package_dir)
        if located is None:
            continue
        path, is_package = located
        files[f"ppdw/{path.relative_to(package_dir).as_posix()}"] = path
        imported = _imported_modules(path.read_text(encoding="utf-8"), name, is_package)
        todo.extend(n for n in imported if _is_ppdw(n) and n not in seen)
    return files


def _is_ppdw(name: str) -> bool:
    return name == "ppdw" or name.startswith("ppdw.")


def fetch_zip(app_source: bytes, dataset_json: bytes, package_dir: Path = PACKAGE_DIR) -> bytes:
    """The fetch Lambda: `app.py`, `dataset.json`, and the ppdw modules app.py needs."""
    closure = ppdw_closure(app_source.decode("utf-8"), package_dir)
    files = [("app.py", app_source), ("dataset.json", dataset_json)]
    files.extend((name, path.read_bytes()) for name, path in closure.items())
    return deterministic_zip(files)


@dataclass(frozen=True)
class DatasetArtifacts:
    """Everything one dataset's stack uploads, read from its folder."""

    scripts: tuple[Artifact, ...]
    fetch_zip: bytes


def read_dataset_artifacts(dataset_dir: Path, scripts_prefix: str) -> DatasetArtifacts:
    def read(rel: str) -> bytes:
        return (dataset_dir / rel).read_bytes()

    config = read("config/dataset.json")
    scripts = (
        Artifact(f"{scripts_prefix}bronze_job.py", read("glue/bronze_job.py"), "text/x-python"),
        Artifact(f"{scripts_prefix}silver_job.py", read("glue/silver_job.py"), "text/x-python"),
        Artifact(f"{scripts_prefix}dataset.json", config, "application/json"),
    )
    return DatasetArtifacts(
        scripts=scripts, fetch_zip=fetch_zip(read("lambdas/fetch/app.py"), config)
    )
