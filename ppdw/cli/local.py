"""`ppdw local ...`: the embedded local target's state (reset, serve, export).

Commands stay thin: the mechanism lives in `ppdw.targets.local`, `.state` and `.lock`,
imported inside the commands so that `ppdw --help` does not load moto.
"""

from __future__ import annotations

import ipaddress
import signal
import sys
import threading
from enum import StrEnum
from pathlib import Path
from types import FrameType
from typing import Annotated

import typer

from ppdw.cli import complete, context, render
from ppdw.errors import LockedError, UsageError

local_app = typer.Typer(
    name="local",
    help="Manage the embedded local target's saved state.\n\nExample: ppdw local reset --yes",
    no_args_is_help=True,
    rich_markup_mode=None,
)

LOCAL_TARGET = "local"


def _state_dir(ctx: typer.Context) -> Path:
    from ppdw.targets.state import state_dir

    return state_dir(context.load_project(ctx).root)


def _refuse_if_served(directory: Path, doing: str) -> None:
    from ppdw.targets.server_info import live_server

    server = live_server(directory)
    if server is not None:
        raise LockedError(
            f"cannot {doing}: `ppdw local serve` is running (pid {server.pid}, {server.endpoint})",
            "stop it with Ctrl-C first",
        )


@local_app.command("reset")
def reset(
    ctx: typer.Context,
    yes: Annotated[bool, typer.Option("--yes", "-y", help="Do not ask for confirmation.")] = False,
) -> None:
    """Delete the local warehouse state (.ppdw/).

    Example: ppdw local reset --yes
    """
    from ppdw.targets.lock import StateLock
    from ppdw.targets.state import delete_state

    directory = _state_dir(ctx)
    _refuse_if_served(directory, "reset the local state")
    if not yes:
        if not sys.stdin.isatty():
            raise UsageError("refusing to delete the local state without --yes", None)
        typer.confirm(f"Delete the local warehouse in {directory}?", abort=True)
    with StateLock(directory):
        existed = delete_state(directory)
    render.info(f"Local state in {directory} deleted." if existed else "No local state to delete.")


def _check_loopback(host: str) -> None:
    try:
        loopback = host == "localhost" or ipaddress.ip_address(host).is_loopback
    except ValueError:
        loopback = False
    if not loopback:
        raise UsageError(
            f"--host {host} is not a loopback address",
            "the local emulator has no authentication: serve it on 127.0.0.1 only",
        )


@local_app.command("serve")
def serve(
    ctx: typer.Context,
    port: Annotated[
        int, typer.Option("--port", "-p", metavar="PORT", help="TCP port (0: any free port).")
    ] = 4566,
    host: Annotated[
        str, typer.Option("--host", metavar="ADDRESS", help="Loopback address to bind.")
    ] = "127.0.0.1",
) -> None:
    """Serve the local state on loopback until Ctrl-C.

    Saves the state when stopped; other ppdw commands use the server while it runs.

    Example: ppdw local serve --port 4566
    """
    from ppdw.targets.local import serve_state

    _check_loopback(host)
    project = context.load_project(ctx)
    directory = _state_dir(ctx)
    _refuse_if_served(directory, "serve the local state")
    stop = threading.Event()

    def _on_signal(signum: int, frame: FrameType | None) -> None:
        del signum, frame
        stop.set()

    previous = {sig: signal.signal(sig, _on_signal) for sig in (signal.SIGINT, signal.SIGTERM)}
    try:
        serve_state(project.warehouse, directory, host, port, ready=_print_usage, stop=stop)
    finally:
        for sig, handler in previous.items():
            signal.signal(sig, handler)
    render.info(f"Stopped; local state saved in {directory}.")


def _print_usage(endpoint: str, bucket: str, directory: Path) -> None:
    from ppdw.targets.local import FAKE_CREDENTIALS

    key, secret = FAKE_CREDENTIALS["aws_access_key_id"], FAKE_CREDENTIALS["aws_secret_access_key"]
    lines = [
        f"Serving the local warehouse ({directory}) on {endpoint}",
        f"Bucket: s3://{bucket}",
        "Use it from another shell, e.g.:",
        f"  export AWS_ENDPOINT_URL={endpoint} AWS_ACCESS_KEY_ID={key} "
        f"AWS_SECRET_ACCESS_KEY={secret} AWS_REGION=us-east-1",
        f"  aws s3 ls s3://{bucket}/",
        "Other ppdw commands on this project use this server while it runs.",
        "Press Ctrl-C to stop and save.",
    ]
    typer.echo("\n".join(lines))
    sys.stdout.flush()


class ExportLayer(StrEnum):
    raw = "raw"
    bronze = "bronze"
    silver = "silver"


ExportDir = Annotated[
    Path, typer.Argument(metavar="DIR", help="New, empty, or earlier export folder.")
]
ExportDatasets = Annotated[
    list[str] | None,
    typer.Option(
        "--dataset",
        metavar="NAME",
        autocompletion=complete.datasets,
        help="Only this dataset (repeatable; default: every dataset).",
    ),
]
ExportLayers = Annotated[
    list[ExportLayer] | None,
    typer.Option("--layer", help="Only this layer (repeatable; default: all three)."),
]
AllObjects = Annotated[
    bool,
    typer.Option(
        "--all-objects",
        help="Every object of the bucket (run records, rejects, superseded versions).",
    ),
]


@local_app.command("export")
def export(
    ctx: typer.Context,
    directory: ExportDir,
    dataset: ExportDatasets = None,
    layer: ExportLayers = None,
    all_objects: AllObjects = False,
) -> None:
    """Mirror the warehouse as plain files under DIR.

    By default: every raw file, and the bronze and silver partition folders the catalog
    registers, i.e. what readers see. DIR must be new, empty, or an earlier export, which
    is mirrored: files the new export does not contain are removed.

    Example: ppdw local export warehouse/

    then: python -c "import pandas as pd; print(pd.read_parquet('warehouse/silver/silver_nsde'))"
    """
    from ppdw.runs.export import LAYERS, Selection
    from ppdw.runs.export import export as export_to
    from ppdw.targets import open_target

    project = context.load_project(ctx)
    if all_objects and (dataset or layer):
        raise UsageError("--all-objects exports the whole bucket", "drop --dataset/--layer")
    names = (
        [project.dataset(name).name for name in dataset] if dataset else sorted(project.datasets)
    )
    wanted = {item.value for item in layer or ExportLayer}
    layers = tuple(name for name in LAYERS if name in wanted)
    selection = Selection(datasets=tuple(names), layers=layers, all_objects=all_objects)
    target = open_target(project.warehouse, LOCAL_TARGET, project.root)
    ok = False
    try:
        bucket = project.warehouse.names.bucket(target.account_id)
        report = export_to(target.aws, project, bucket, selection, directory)
        ok = True
    finally:
        target.close(ok)
    megabytes = report.bytes / 1_000_000
    removed = (
        f"; removed {render.plural(report.removed, 'file')} no longer exported"
        if report.removed
        else ""
    )
    render.info(
        f"Exported {render.plural(report.objects, 'object')} ({megabytes:,.1f} MB, "
        f"{report.bytes:,} bytes) from s3://{bucket} to {directory}{removed}"
    )


def register(app: typer.Typer) -> None:
    app.add_typer(local_app, name="local")
