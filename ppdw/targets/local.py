"""The embedded `local` target: moto inside this process, its state kept between runs.

Rule: nothing a local command does can reach real AWS. The session has fixed fake
credentials and ignores AWS_PROFILE / AWS_ENDPOINT_URL; while the target is open the
process environment is pointed at the emulator too (stray default-chain clients, e.g. the
runtime's, land there), and restored on close. moto is imported here, lazily.

Two modes:
- embedded: take the state lock, start `mock_aws`, load `{state_dir}/state.pickle`; on
  close save (see `should_save`), stop moto, release the lock;
- attached: `ppdw local serve` is running (server.json names a live pid and endpoint):
  talk to it over loopback; no lock, no load, no save (the server owns the state).
"""

from __future__ import annotations

import logging
import os
import sys
import threading
from collections.abc import Callable, Iterable
from pathlib import Path

from ppdw.aws.session import AwsSession, make_session
from ppdw.aws.sts import caller_account
from ppdw.config.models import Warehouse
from ppdw.errors import TargetError
from ppdw.targets import bodies, moto_models, receipt
from ppdw.targets.context import TargetContext
from ppdw.targets.lock import StateLock
from ppdw.targets.server_info import (
    ServerInfo,
    check_port_free,
    live_server,
    remove_server,
    write_server,
)
from ppdw.targets.state import (
    STATE_FILE,
    SaveReport,
    body_store,
    load_state,
    save_state,
    state_dir,
)

#: Fixed fake credentials of the local target (moto accepts any; never the user's).
FAKE_CREDENTIALS = {"aws_access_key_id": "testing", "aws_secret_access_key": "testing"}
#: Fast mode: moto does not reset boto3's default session on start (see facts/moto.md).
MOTO_CONFIG: dict[str, dict[str, object]] = {"core": {"reset_boto3_session": False}}

log = logging.getLogger(__name__)

_ENV_CLEARED = ("AWS_PROFILE", "AWS_DEFAULT_PROFILE", "AWS_SESSION_TOKEN", "AWS_SECURITY_TOKEN")


def local_session(region: str, endpoint_url: str | None = None) -> AwsSession:
    """A session on the emulator (`lean_client_config`). Embedded (no endpoint), plain
    object reads and writes skip HTTP altogether (`ppdw.targets.s3_direct`)."""
    aws = make_session(
        credentials=FAKE_CREDENTIALS,
        region=region,
        endpoint_url=endpoint_url,
        isolated=True,
        lean=True,
    )
    if endpoint_url is None:
        from ppdw.targets import s3_direct

        s3_direct.install(aws.session, FAKE_CREDENTIALS["aws_access_key_id"])
    return aws


def isolate_environment(region: str, endpoint_url: str | None) -> Callable[[], None]:
    """Point the process's default AWS chain at the emulator; returns the undo."""
    wanted: dict[str, str | None] = dict.fromkeys(_ENV_CLEARED)
    wanted.update(
        AWS_ACCESS_KEY_ID=FAKE_CREDENTIALS["aws_access_key_id"],
        AWS_SECRET_ACCESS_KEY=FAKE_CREDENTIALS["aws_secret_access_key"],
        AWS_REGION=region,
        AWS_DEFAULT_REGION=region,
        AWS_ENDPOINT_URL=endpoint_url,
    )
    saved = {name: os.environ.get(name) for name in wanted}
    _apply(wanted)

    def restore() -> None:
        _apply(saved)

    return restore


def _apply(values: dict[str, str | None]) -> None:
    for name, value in values.items():
        if value is None:
            os.environ.pop(name, None)
        else:
            os.environ[name] = value


# -- opening the target ------------------------------------------------------------------


def should_save(ok: bool) -> bool:
    """Save on success, and on failure too, unless the command was interrupted.

    A failed `ppdw run` wrote a failed run record that `status` must show, and moto
    changes each call atomically, so the state after a failed command is consistent. A
    Ctrl-C (or exit signal) may stop anywhere, so then the last good state is kept.
    """
    if ok:
        return True
    return not isinstance(sys.exc_info()[1], KeyboardInterrupt | SystemExit)


def embedded_account() -> str:
    """The account moto answers for the fixed keys (what STS GetCallerIdentity says,
    computed as moto computes it: no client and no request needed in this process)."""
    from moto.iam.models import get_account_id_from

    key = FAKE_CREDENTIALS["aws_access_key_id"]
    return os.environ.get("MOTO_ACCOUNT_ID") or get_account_id_from(key)


def start_moto() -> Callable[[], None]:
    """Start moto in this process with empty backends; returns its stop."""
    from moto import mock_aws
    from moto.core.base_backend import BackendDict

    moto_models.install()
    mock = mock_aws(config=MOTO_CONFIG)  # type: ignore[call-overload]
    mock.start()
    BackendDict.reset()  # even if an outer mock is active: the state on disk is the truth
    stop: Callable[[], None] = mock.stop
    return stop


def open_local_target(
    name: str, warehouse: Warehouse, project_root: Path, *, read_only: bool = False
) -> TargetContext:
    """`read_only`: for commands that only read; see `_read_only`."""
    directory = state_dir(project_root)
    server = live_server(directory)
    if server is not None:
        return _attached(name, warehouse.region, server)
    if read_only:
        return _read_only(name, warehouse.region, directory)
    return _embedded(name, warehouse.region, directory)


def _attached(name: str, region: str, server: ServerInfo) -> TargetContext:
    restore_env = isolate_environment(region, server.endpoint)
    aws = local_session(region, server.endpoint)
    try:
        account = caller_account(aws)
    except BaseException:
        restore_env()
        raise
    target = TargetContext(name=name, kind="local", aws=aws, account_id=account, region=region)
    target.on_close(lambda ok: restore_env())
    return target


def use_body_store(directory: Path) -> tuple[bodies.BodyStore, Callable[[], None]]:
    """Send new S3 object bodies to `directory`'s files; returns the store and its undo."""
    store = body_store(directory)
    bodies.activate(store)

    def release() -> None:
        bodies.activate(None)
        store.close()

    return store, release


def _embedded(name: str, region: str, directory: Path) -> TargetContext:
    lock = StateLock(directory)
    lock.acquire()
    undo: list[Callable[[], None]] = [lock.release]
    try:
        undo.append(isolate_environment(region, None))
        undo.append(start_moto())
        store, release = use_body_store(directory)
        undo.append(release)
        report = load_state(directory, store)
        if report is not None:
            log.info("local state loaded in %.3f s", report.seconds)
        aws = local_session(region)
        account = embedded_account()
    except BaseException:
        _run_all(reversed(undo))
        raise
    target = TargetContext(
        name=name, kind="local", aws=aws, account_id=account, region=region, exclusive=True
    )
    target.on_close(lambda ok: _close(ok, directory, store, undo))
    return target


def _read_only(name: str, region: str, directory: Path) -> TargetContext:
    """Load the last saved state without the lock, and never save it.

    A reader must not wait for a run holding the lock for minutes: the state file is only
    ever replaced atomically, so it is always a whole, consistent state. The race is a
    writer's save pruning a file the state read here still names: while loading, the state
    file has then changed, and loading again reads the newer state; an object body pruned
    after the load fails that one read (run the command again).
    """
    undo: list[Callable[[], None]] = []
    try:
        undo.append(isolate_environment(region, None))
        undo.append(start_moto())
        # bodies are read from the store's files; none is written (nothing is saved)
        store = body_store(directory)
        if store is not bodies.active():
            undo.append(store.close)
        _load_settled(directory, store)
        aws = local_session(region)
        account = embedded_account()
    except BaseException:
        _run_all(reversed(undo))
        raise
    target = TargetContext(name=name, kind="local", aws=aws, account_id=account, region=region)
    target.on_close(lambda ok: _run_all(reversed(undo)))
    return target


def _load_settled(directory: Path, store: bodies.BodyStore, attempts: int = 5) -> None:
    for attempt in range(1, attempts + 1):
        before = _state_version(directory)
        try:
            load_state(directory, store)
            return
        except TargetError:
            if attempt == attempts or _state_version(directory) == before:
                raise


def _state_version(directory: Path) -> tuple[int, int] | None:
    try:
        found = (directory / STATE_FILE).stat()
    except FileNotFoundError:
        return None
    return found.st_ino, found.st_mtime_ns


def _close(
    ok: bool, directory: Path, store: bodies.BodyStore, undo: list[Callable[[], None]]
) -> None:
    try:
        if should_save(ok):
            report = save_state(directory, store)
            log.info(
                "local state saved in %.3f s (%d bytes of metadata, %d object files)",
                report.seconds,
                report.state_bytes,
                report.bodies_total,
            )
    finally:
        _run_all(reversed(undo))


def _run_all(steps: Iterable[Callable[[], None]]) -> None:
    """Run every undo step even if one fails; re-raise the first failure."""
    first: BaseException | None = None
    for step in steps:
        try:
            step()
        except BaseException as exc:  # noqa: BLE001 - keep releasing, then report
            first = first or exc
    if first is not None:
        raise first


# -- serve -------------------------------------------------------------------------------


def serve_state(
    warehouse: Warehouse,
    directory: Path,
    host: str,
    port: int,
    *,
    ready: Callable[[str, str, Path], None],
    stop: threading.Event,
) -> SaveReport:
    """Load the state, serve it on `host:port` until `stop` is set, then save it.

    Holds the state lock throughout; `server.json` tells other ppdw invocations to talk
    to this endpoint instead of loading the state themselves.
    """
    logging.getLogger("werkzeug").setLevel(logging.WARNING)  # no per-request lines
    check_port_free(host, port)
    with StateLock(directory):
        store, release = use_body_store(directory)
        try:
            return _serve_loaded(warehouse, directory, store, host, port, ready, stop)
        finally:
            release()


def _serve_loaded(
    warehouse: Warehouse,
    directory: Path,
    store: bodies.BodyStore,
    host: str,
    port: int,
    ready: Callable[[str, str, Path], None],
    stop: threading.Event,
) -> SaveReport:
    from moto.server import ThreadedMotoServer

    load_state(directory, store)
    moto_models.install()
    server = ThreadedMotoServer(ip_address=host, port=port, verbose=False)
    server.start()
    try:
        bound_host, bound_port = server.get_host_and_port()
        endpoint = f"http://{_url_host(bound_host)}:{bound_port}"
        write_server(directory, ServerInfo(endpoint=endpoint, pid=os.getpid()))
        session = local_session(warehouse.region, endpoint)
        bucket = warehouse.names.bucket(caller_account(session))
        receipt.forget_all(session.client("s3"), bucket)  # served: others may change stacks
        ready(endpoint, bucket, directory)
        while not stop.wait(0.2):
            pass
    finally:
        remove_server(directory)
        server.stop()
    return save_state(directory, store)


def _url_host(host: str) -> str:
    return f"[{host}]" if ":" in host else host
