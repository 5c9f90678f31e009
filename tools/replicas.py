"""Build the runtime replicas: virtual environments holding what AWS gives ppdw's code.

- `glue-{version}-{hash}`: the interpreter of that Glue version with exactly the Python
  modules Glue provides (`ppdw.config.runtimes.GLUE_ENVIRONMENTS`, installed without
  dependency resolution, as listed), then the job's `--additional-python-modules`
  installed over them with pip, as Glue installs them.
- `lambda-{runtime}-{hash}`: the interpreter of that Lambda runtime with the standard
  library and the runtime's SDK only (`LAMBDA_REPLICA_SDK` and its dependencies).

The tests run the deployed job scripts and fetch handler in them (tests/replica/). Each
environment is built once per content (the hash covers the interpreter version and every
module spec) under `~/.cache/ppdw-replicas/` (or `PPDW_REPLICA_CACHE`), with a lock so two
test workers never build the same one. Usage, for every environment the project's config
declares: `.venv/bin/python tools/replicas.py`.
"""

from __future__ import annotations

import argparse
import glob
import hashlib
import json
import os
import shutil
import subprocess
import sys
from dataclasses import dataclass
from pathlib import Path

from filelock import FileLock

REPO = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(REPO))

from ppdw.config.loader import load_project  # noqa: E402
from ppdw.config.runtimes import (  # noqa: E402
    GLUE_ENVIRONMENTS,
    GLUE_REPLICA_SKIPPED,
    LAMBDA_PYTHON,
    LAMBDA_REPLICA_SDK,
    canonical_name,
)

#: Bump when the way environments are built changes (invalidates every cached one).
BUILD_VERSION = "1"
#: boto3's own dependencies, pinned as Glue 5.1 lists them, so the Lambda replica is
#: the same every time (the runtime carries them beside boto3).
LAMBDA_SDK_DEPENDENCIES = (
    "jmespath==1.0.1",
    "python-dateutil==2.9.0.post0",
    "six==1.17.0",
    "urllib3==2.5.0",
)
#: The marker written last: an environment without it is half built and is rebuilt.
COMPLETE = ".ppdw-replica.json"


class ReplicaError(RuntimeError):
    """A replica cannot be built here (no interpreter, a module pip cannot install)."""


@dataclass(frozen=True)
class ReplicaSpec:
    name: str  # glue-5.1 / lambda-python3.12
    python: str  # major.minor
    #: The platform's own modules: installed exactly, without dependency resolution.
    base: tuple[str, ...]
    #: Installed over them with pip's resolution (Glue's `--additional-python-modules`).
    extra: tuple[str, ...] = ()

    @property
    def key(self) -> str:
        content = json.dumps([BUILD_VERSION, self.python, self.base, self.extra])
        return hashlib.sha256(content.encode()).hexdigest()[:12]

    def path(self, cache: Path | None = None) -> Path:
        return (cache or cache_dir()) / f"{self.name}-{self.key}"


def cache_dir() -> Path:
    default = Path.home() / ".cache" / "ppdw-replicas"
    return Path(os.environ.get("PPDW_REPLICA_CACHE") or default)


def glue_spec(version: str, additional: tuple[str, ...]) -> ReplicaSpec:
    environment = GLUE_ENVIRONMENTS[version]
    base = tuple(
        spec
        for spec in environment.provided
        if canonical_name(spec.partition("==")[0]) not in GLUE_REPLICA_SKIPPED
    )
    return ReplicaSpec(f"glue-{version}", environment.python, base, tuple(additional))


def lambda_spec(runtime: str) -> ReplicaSpec:
    base = (*LAMBDA_REPLICA_SDK, *LAMBDA_SDK_DEPENDENCIES)
    return ReplicaSpec(f"lambda-{runtime}", LAMBDA_PYTHON[runtime], base)


def project_specs(root: Path = REPO) -> list[ReplicaSpec]:
    """Every environment the project's config declares (Glue and Lambda, all datasets)."""
    project = load_project(root)
    specs: dict[str, ReplicaSpec] = {}
    for dataset in project.datasets.values():
        glue = dataset.glue_settings(project.warehouse.glue)
        for spec in (
            glue_spec(glue.version, glue.additional_python_modules),
            lambda_spec(dataset.lambda_settings(project.warehouse.lambda_).runtime),
        ):
            specs[spec.key] = spec
    return list(specs.values())


def find_python(version: str) -> str:
    """An interpreter of exactly `version` (PATH, then pyenv's versions)."""
    candidates = [shutil.which(f"python{version}") or ""]
    pyenv_root = os.environ.get("PYENV_ROOT") or str(Path.home() / ".pyenv")
    candidates += sorted(glob.glob(f"{pyenv_root}/versions/{version}.*/bin/python{version}"))
    for candidate in filter(None, candidates):
        probe = subprocess.run(
            [candidate, "-c", "import sys; print('%d.%d' % sys.version_info[:2])"],
            capture_output=True,
            text=True,
            check=False,
        )
        if probe.returncode == 0 and probe.stdout.strip() == version:
            return candidate
    raise ReplicaError(f"no Python {version} interpreter found (PATH, {pyenv_root}/versions)")


def _pip(python: Path, *args: str) -> None:
    command = [str(python), "-m", "pip", "--disable-pip-version-check", "--no-input", *args]
    done = subprocess.run(command, capture_output=True, text=True, check=False)
    if done.returncode != 0:
        tail = "\n".join((done.stdout + done.stderr).strip().splitlines()[-15:])
        raise ReplicaError(f"pip {' '.join(args[:2])} ... failed:\n{tail}")


def installed(python: Path) -> dict[str, str]:
    """Distribution name (canonical) -> version of everything importable in the env."""
    code = (
        "import json, importlib.metadata as m;"
        "print(json.dumps({d.metadata['Name']: d.version for d in m.distributions()}))"
    )
    # cwd: the environment itself, so no project folder on sys.path adds distributions.
    out = subprocess.run(
        [str(python), "-c", code], capture_output=True, text=True, check=True, cwd=python.parent
    )
    return {canonical_name(k): v for k, v in json.loads(out.stdout).items()}


def build(spec: ReplicaSpec, path: Path) -> None:
    if path.exists():
        shutil.rmtree(path)
    interpreter = find_python(spec.python)
    subprocess.run([interpreter, "-m", "venv", str(path)], check=True)
    python = path / "bin" / "python"
    # The platform's modules exactly as listed: no resolution, prebuilt wheels only (Glue
    # cannot compile native code either).
    _pip(python, "install", "--no-deps", "--only-binary=:all:", *spec.base)
    if spec.extra:
        _pip(python, "install", *spec.extra)
    record = {"name": spec.name, "python": spec.python, "modules": installed(python)}
    (path / COMPLETE).write_text(json.dumps(record, indent=1, sort_keys=True))


def ensure(spec: ReplicaSpec, cache: Path | None = None) -> Path:
    """The environment's folder, built first if it is not complete."""
    path = spec.path(cache)
    path.parent.mkdir(parents=True, exist_ok=True)
    with FileLock(str(path) + ".lock", timeout=3600):
        if not (path / COMPLETE).is_file():
            build(spec, path)
    return path


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--project", type=Path, default=REPO)
    args = parser.parse_args(argv)
    for spec in project_specs(args.project):
        path = ensure(spec)
        print(f"{spec.name}: {path}")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
