"""Root Typer app: global options, command registration, error -> message + exit code.

Command modules import heavy libraries (boto3, pyarrow, moto) inside their functions so
that `ppdw --help` stays fast.
"""

from __future__ import annotations

import gc
import sys
from typing import Annotated, Any

import typer
from typer.core import TyperGroup
from typer.exceptions import TyperException

from ppdw.cli import complete
from ppdw.cli import help as help_format
from ppdw.cli.context import AppState
from ppdw.errors import ExitCode, PpdwError

help_format.apply()

#: Options of the root command (they go before the command name), with their metavar.
GLOBAL_OPTIONS = {
    "--target": "NAME",
    "-t": "NAME",
    "--project": "DIR",
    "--verbose": "",
    "-v": "",
    "--version": "",
}


class PpdwGroup(TyperGroup):
    """Turns every `PpdwError` into `Error: ...` (+ hint) on stderr and its exit code."""

    def invoke(self, ctx: typer.Context) -> Any:  # type: ignore[override]
        try:
            return super().invoke(ctx)
        except PpdwError as exc:
            _report(ctx, exc.message, exc.hint, exc)
            raise typer.Exit(int(exc.exit_code)) from None
        except KeyboardInterrupt:
            typer.echo("Interrupted.", err=True)
            raise typer.Exit(int(ExitCode.INTERRUPTED)) from None
        except TyperException as exc:
            _hint_global_option(ctx, exc)
            raise
        except (typer.Exit, typer.Abort):
            raise
        except Exception as exc:  # noqa: BLE001 - last line of defence: a message, not a trace
            _report(
                ctx,
                f"internal error: {type(exc).__name__}: {exc}",
                "re-run with -v for details and report it",
                exc,
            )
            raise typer.Exit(int(ExitCode.FAILURE)) from None


def _hint_global_option(ctx: typer.Context, exc: TyperException) -> None:
    """`ppdw status --target aws`: say where a global option goes (typer's parser raises
    its NoSuchOption, a TyperException carrying `option_name`)."""
    option = getattr(exc, "option_name", None)
    sub = getattr(exc, "ctx", None)
    if option not in GLOBAL_OPTIONS or sub is None:
        return
    command = str(sub.command_path).removeprefix(f"{ctx.command_path} ")
    value = GLOBAL_OPTIONS[option]
    usage = " ".join(part for part in ("ppdw", option, value, command) if part)
    exc.message += f"\nHint: global options go before the command: {usage} ..."


def _report(ctx: typer.Context, message: str, hint: str | None, exc: BaseException) -> None:
    state = ctx.obj if isinstance(ctx.obj, AppState) else None
    if state is not None and state.verbose:
        import traceback

        traceback.print_exception(exc, file=sys.stderr)
    typer.echo(f"Error: {message}", err=True)
    if hint:
        typer.echo(f"Hint: {hint}", err=True)


app = typer.Typer(
    cls=PpdwGroup,
    name="ppdw",
    help="Build and run the PP medallion data warehouse on AWS (or locally) with boto3.",
    no_args_is_help=True,
    add_completion=True,
    pretty_exceptions_enable=False,
    rich_markup_mode=None,
    context_settings={"help_option_names": ["-h", "--help"]},
)


def _print_version(value: bool) -> None:
    if value:
        from importlib.metadata import version

        typer.echo(f"ppdw {version('ppdw')}")
        raise typer.Exit()


@app.callback()
def root(
    ctx: typer.Context,
    target: Annotated[
        str | None,
        typer.Option(
            "--target",
            "-t",
            envvar="PPDW_TARGET",
            metavar="NAME",
            autocompletion=complete.targets,
            help="Target: local, aws, or one declared in config/warehouse.json.",
        ),
    ] = None,
    project: Annotated[
        str | None,
        typer.Option(
            "--project",
            envvar="PPDW_PROJECT",
            metavar="DIR",
            help="Project folder (default: nearest folder upward with config/warehouse.json).",
        ),
    ] = None,
    verbose: Annotated[bool, typer.Option("--verbose", "-v", help="Show details.")] = False,
    version: Annotated[
        bool,
        typer.Option(
            "--version",
            is_eager=True,
            callback=_print_version,
            help="Print ppdw's version and exit.",
        ),
    ] = False,
) -> None:
    """ppdw: the PP data warehouse from the command line.

    Example: ppdw run nsde
    """
    ctx.obj = AppState(target=target, project=project, verbose=verbose)
    if verbose:
        _show_ppdw_logs()


def _show_ppdw_logs() -> None:
    """`-v`: ppdw's own log lines (already redacted) on stderr. botocore's loggers stay
    quiet: at DEBUG they print response bodies, which can hold secret values."""
    import logging

    handler = logging.StreamHandler(sys.stderr)
    handler.setFormatter(logging.Formatter("%(levelname)s %(name)s: %(message)s"))
    logger = logging.getLogger("ppdw")
    if not any(isinstance(h, logging.StreamHandler) for h in logger.handlers):
        logger.addHandler(handler)
    logger.setLevel(logging.INFO)


def _register() -> None:
    from ppdw.cli import control, data, iam, local, read

    control.register(app)
    data.register(app)
    read.register(app)
    local.register(app)
    iam.register(app)


_register()


def main() -> None:
    """The `ppdw` command."""
    try:
        app()
    finally:
        # The interpreter's collections at exit walk every object of the libraries loaded
        # (about 200,000 with moto and botocore), half a second per command, only to free
        # memory the process is about to give back: frozen objects are left alone.
        gc.freeze()
