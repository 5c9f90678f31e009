"""Persistence of the embedded moto state between ppdw invocations (the `local` target).

Rule: the state on disk is always the last good one. S3 object bodies are already files
(`ppdw.targets.bodies`, written once when uploaded): a save makes the new ones durable,
writes the state file (metadata only) through a temp file + fsync + `os.replace`, and only
then removes the body files and blobs no saved state names. A load refuses state written
by another ppdw, moto or format version rather than guess.

Mechanism (measured, see docs/local-target.md and bench/local_state.py): every moto
service backend in use is pickled in one stream (so objects shared between services keep
their identity). moto's own objects that do not pickle (locks, weak dictionaries,
defaultdicts with lambda factories, used by Lambda, Step Functions and SSM) are reduced to
equivalents here; an S3 object's body is pickled as the names of its files, and other byte
strings above `INLINE_LIMIT` (Lambda zips) go to content-addressed `blobs/`. The state file
is a pickle: only ever load one this user wrote.
"""

from __future__ import annotations

import collections
import importlib
import io
import json
import os
import pickle
import sys
import threading
import time
import weakref
from collections.abc import Callable
from dataclasses import asdict, dataclass
from pathlib import Path
from typing import Any

from ppdw.errors import TargetError
from ppdw.targets.bodies import OBJECTS_DIR, BodyStore, FileBody, Segment, activate, active
from ppdw.targets.durable import RESET_HINT, BlobStore, fsync_write

#: 2: S3 bodies are files under objects/. A format-1 state (bodies as blobs) still loads:
#: its bodies become body files as they are read, and the next save writes format 3.
#: 3: the state also keeps each service's region list (`Saved`), so a load does not make
#: moto compute it again from botocore's models. Formats 1 and 2 load without it.
FORMAT_VERSION = 3
READABLE_FORMATS = (1, 2, 3)
MAGIC = b"PPDW-LOCAL-STATE\n"
STATE_FILE = "state.pickle"
BLOBS_DIR = "blobs"
#: Byte strings at least this long are stored as blob files instead of inline.
INLINE_LIMIT = 32 * 1024

_LOCK_TYPE = type(threading.Lock())
_RLOCK_TYPE = type(threading.RLock())


def state_dir(project_root: Path) -> Path:
    """`PPDW_STATE_DIR`, else `{project}/.ppdw`."""
    override = os.environ.get("PPDW_STATE_DIR")
    return Path(override) if override else project_root / ".ppdw"


@dataclass(frozen=True)
class Stamp:
    """What wrote a state file; any difference makes it unreadable for this process."""

    format: int
    ppdw: str
    moto: str
    python: str

    @classmethod
    def current(cls) -> Stamp:
        from importlib.metadata import version

        import ppdw

        python = f"{sys.version_info.major}.{sys.version_info.minor}"
        return cls(FORMAT_VERSION, ppdw.__version__, version("moto"), python)


@dataclass(frozen=True)
class SaveReport:
    seconds: float
    state_bytes: int
    blobs_written: int
    blobs_total: int
    bodies_total: int = 0
    bodies_removed: int = 0


@dataclass(frozen=True)
class LoadReport:
    seconds: float
    backends: int


# -- pickling moto's backends ------------------------------------------------------------


def _factory_shape(factory: Callable[[], Any]) -> Any:
    """Describe a structural defaultdict factory (`lambda: defaultdict(dict)`) as data."""
    value = factory()
    if isinstance(value, collections.defaultdict) and value.default_factory is not None:
        return ("defaultdict", _factory_shape(value.default_factory))
    if type(value) not in (dict, list, set, int, str):
        raise pickle.PicklingError(f"cannot describe defaultdict factory {factory!r}")
    return type(value)


def _factory_from_shape(shape: Any) -> Callable[[], Any] | None:
    if isinstance(shape, tuple):
        inner = _factory_from_shape(shape[1])
        return lambda: collections.defaultdict(inner)
    factory: Callable[[], Any] | None = shape
    return factory


def _new_defaultdict(
    cls: type[collections.defaultdict[Any, Any]], shape: Any
) -> collections.defaultdict[Any, Any]:
    obj: collections.defaultdict[Any, Any] = cls.__new__(cls)
    collections.defaultdict.__init__(obj, _factory_from_shape(shape))
    return obj


def _is_lambda(factory: object) -> bool:
    return "<lambda>" in getattr(factory, "__qualname__", "")


def _new_object(cls: Any) -> Any:
    return cls.__new__(cls)


def _set_dict(obj: Any, state: dict[str, Any]) -> None:
    obj.__dict__.update(state)


def _fake_key_type() -> type[Any]:
    from moto.s3.models import FakeKey

    return FakeKey


class _StatePickler(pickle.Pickler):
    def __init__(self, file: io.BytesIO, blobs: BlobStore, bodies: BodyStore) -> None:
        super().__init__(file, protocol=pickle.HIGHEST_PROTOCOL)
        self.blobs = blobs
        self.bodies = bodies
        self.referenced: set[str] = set()
        self.body_files: set[str] = set()
        self._fake_key = _fake_key_type()

    def persistent_id(self, obj: Any) -> Any:
        kind = type(obj)
        if kind is FileBody:
            self.body_files.update(segment.name for segment in obj.segments)
            return ("body", tuple((segment.name, segment.size) for segment in obj.segments))
        if kind is bytes and len(obj) >= INLINE_LIMIT:
            digest = self.blobs.put(obj)
            self.referenced.add(digest)
            return digest
        return None

    def _reduce_fake_key(self, obj: Any) -> Any:
        """moto's own `__getstate__` would read the whole body into the pickle."""
        state = dict(vars(obj))
        buffer = state.get("_value_buffer")
        if type(buffer) is not FileBody:  # made before the store was active: move it there
            moved = FileBody(self.bodies)
            moved.write(obj.value)
            state["_value_buffer"] = moved
        return (_new_object, (type(obj),), state, None, None, _set_dict)

    def reducer_override(self, obj: Any) -> Any:
        kind = type(obj)
        if kind is self._fake_key:
            return self._reduce_fake_key(obj)
        if kind is _LOCK_TYPE:
            return (threading.Lock, ())
        if kind is _RLOCK_TYPE:
            return (threading.RLock, ())
        if kind is weakref.WeakValueDictionary:
            return (weakref.WeakValueDictionary, (), None, None, iter(list(obj.items())))
        if isinstance(obj, collections.defaultdict) and (
            kind is not collections.defaultdict or _is_lambda(obj.default_factory)
        ):
            # moto's subclasses take extra __init__ arguments; lambdas do not pickle.
            factory = obj.default_factory
            shape = _factory_shape(factory) if factory and _is_lambda(factory) else factory
            state = dict(vars(obj)) if hasattr(obj, "__dict__") else None
            return (_new_defaultdict, (kind, shape), state or None, None, iter(obj.items()))
        return NotImplemented


class _StateUnpickler(pickle.Unpickler):
    def __init__(self, file: io.BufferedReader, blobs: BlobStore, bodies: BodyStore) -> None:
        super().__init__(file)
        self.blobs = blobs
        self.bodies = bodies

    def persistent_load(self, pid: Any) -> Any:
        if isinstance(pid, tuple) and pid and pid[0] == "body":
            return FileBody(self.bodies, (Segment(str(n), int(size)) for n, size in pid[1]))
        return self.blobs.get(str(pid))


Entry = tuple[str, str, str, str, Any]  # module, attribute, account, region, backend
Accounts = tuple[str, str, str]  # module, attribute, account: one of moto's per-account dicts


@dataclass(frozen=True)
class Saved:
    """What a state file holds (format 3): every backend, and the regions moto lists for
    each service and account. moto builds that list from botocore's service models when an
    account's backends are first looked up (about 0.15 s for the services of a stack:
    every model loaded and parsed); the list depends only on moto and botocore, which the
    stamp pins, so the saved one is the list moto would compute."""

    backends: list[Entry]
    regions: dict[Accounts, list[str]]


def _backend_dict_location(backend_dict: Any) -> tuple[str, str]:
    """Module and global name under which moto keeps this BackendDict."""
    module = sys.modules[backend_dict.backend.__module__]
    for attr, value in vars(module).items():
        if value is backend_dict:
            return module.__name__, attr
    raise TargetError(
        f"cannot locate moto's {backend_dict.service_name} backend to save it",
        "this moto version is not supported by ppdw's local target",
    )


def capture_state() -> Saved:
    """Every moto backend in use, and each service's region list per account."""
    from moto.core.base_backend import BackendDict

    entries: list[Entry] = []
    regions: dict[Accounts, list[str]] = {}
    for backend_dict in list(BackendDict._instances):  # type: ignore[misc]
        module, attr = _backend_dict_location(backend_dict)
        for account, accounts in backend_dict.items():
            regions[(module, attr, account)] = list(accounts.regions)
            for region, backend in accounts.items():
                entries.append((module, attr, account, region, backend))
    return Saved(entries, regions)


def capture_backends() -> list[Entry]:
    """The backends alone (what formats 1 and 2 held)."""
    return capture_state().backends


def restore_backends(
    entries: list[Entry], regions: dict[Accounts, list[str]] | None = None
) -> None:
    """Put saved backends where moto looks them up (call after `mock_aws` started).
    `regions`: the saved region lists; an account without one has moto compute it."""
    for module, attr, account, region, backend in entries:
        backend_dict = getattr(importlib.import_module(module), attr)
        known = (regions or {}).get((module, attr, account))
        if known is not None and account not in backend_dict:
            _add_account(backend_dict, account, known)
        dict.__setitem__(backend_dict[account], region, backend)


def _add_account(backend_dict: Any, account: str, regions: list[str]) -> None:
    """What moto's first lookup of `account` does, with the saved region list."""
    from moto.core.base_backend import AccountSpecificBackend, BackendDict

    backend_dict[account] = AccountSpecificBackend(
        service_name=backend_dict.service_name,
        account_id=account,
        backend=backend_dict.backend,
        use_boto3_regions=False,
        additional_regions=list(regions),
    )
    if backend_dict not in BackendDict._instances:  # type: ignore[misc]
        BackendDict._instances.append(backend_dict)  # type: ignore[misc]


# -- the state file ----------------------------------------------------------------------


def read_stamp(directory: Path) -> Stamp | None:
    path = directory / STATE_FILE
    if not path.exists():
        return None
    with open(path, "rb") as handle:
        return _read_header(handle, path)


def _read_header(handle: io.BufferedReader, path: Path) -> Stamp:
    if handle.readline() != MAGIC:
        raise TargetError(f"{path} is not a ppdw local state file", RESET_HINT)
    try:
        return Stamp(**json.loads(handle.readline()))
    except (ValueError, TypeError):
        raise TargetError(f"{path} has an unreadable header", RESET_HINT) from None


def check_stamp(found: Stamp, path: Path) -> None:
    expected = Stamp.current()
    readable = found.format in READABLE_FORMATS
    if not readable or (found.ppdw, found.moto, found.python) != (
        expected.ppdw,
        expected.moto,
        expected.python,
    ):
        raise TargetError(
            f"the local state in {path.parent} was written by ppdw {found.ppdw} with "
            f"moto {found.moto} (format {found.format}, Python {found.python}); this is "
            f"ppdw {expected.ppdw} with moto {expected.moto} (format {expected.format}, "
            f"Python {expected.python})",
            RESET_HINT + " (it deletes the local warehouse; export data first if needed)",
        )


def body_store(directory: Path) -> BodyStore:
    """The store of `directory`: the active one when it is that directory's."""
    current = active()
    root = directory / OBJECTS_DIR
    return current if current is not None and current.root == root else BodyStore(root)


def save_state(directory: Path, bodies: BodyStore | None = None) -> SaveReport:
    """Save every moto backend of this process: the metadata in one atomic state file; the
    bodies are already files, made durable first. Nothing unchanged is rewritten."""
    start = time.perf_counter()
    directory.mkdir(parents=True, exist_ok=True)
    bodies = bodies or body_store(directory)
    blobs = BlobStore(directory / BLOBS_DIR)
    buffer = io.BytesIO()
    buffer.write(MAGIC)
    buffer.write(json.dumps(asdict(Stamp.current())).encode() + b"\n")
    pickler = _StatePickler(buffer, blobs, bodies)
    try:
        pickler.dump(capture_state())
    except (pickle.PicklingError, TypeError, AttributeError) as exc:
        raise TargetError(
            f"cannot save the local state: {exc}", "report it; the previous state is kept"
        ) from exc
    data = buffer.getvalue()
    bodies.sync()
    fsync_write(directory / STATE_FILE, data)
    removed = bodies.prune(pickler.body_files)
    blobs.prune(pickler.referenced)
    for stale in directory.glob(f".{STATE_FILE}.tmp-*"):
        stale.unlink(missing_ok=True)
    return SaveReport(
        time.perf_counter() - start,
        len(data),
        blobs.written,
        len(pickler.referenced),
        len(pickler.body_files),
        removed,
    )


def load_state(directory: Path, bodies: BodyStore | None = None) -> LoadReport | None:
    """Load a saved state into moto's backends; None when there is none yet."""
    start = time.perf_counter()
    path = directory / STATE_FILE
    try:
        handle = open(path, "rb")  # noqa: SIM115 - closed below, header read first
    except FileNotFoundError:
        return None
    bodies = bodies or body_store(directory)
    previous = active()
    activate(bodies)  # a format-1 state writes its bodies into the store as it loads
    try:
        with handle:
            check_stamp(_read_header(handle, path), path)
            unpickler = _StateUnpickler(handle, BlobStore(directory / BLOBS_DIR), bodies)
            try:
                saved = unpickler.load()
            except (pickle.UnpicklingError, EOFError, AttributeError, ImportError) as exc:
                raise TargetError(
                    f"the local state in {path} is damaged: {exc}", RESET_HINT
                ) from exc
    finally:
        activate(previous)
    if not isinstance(saved, Saved):  # formats 1 and 2: the backends alone
        saved = Saved(saved, {})
    restore_backends(saved.backends, saved.regions)
    return LoadReport(time.perf_counter() - start, len(saved.backends))


def delete_state(directory: Path) -> bool:
    """Remove the state file and its blobs; True when there was a state."""
    path = directory / STATE_FILE
    existed = path.exists()
    path.unlink(missing_ok=True)
    BlobStore(directory / BLOBS_DIR).prune(set())
    BodyStore(directory / OBJECTS_DIR).prune(set())
    for root in (directory / BLOBS_DIR, directory / OBJECTS_DIR):
        if root.is_dir():
            for sub in root.iterdir():
                if sub.is_dir() and not any(sub.iterdir()):
                    sub.rmdir()
    return existed
