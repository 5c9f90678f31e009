"""Reading commands: query, show, history, diff, runs.

Each parses its options, makes one call into `ppdw.read`, and renders the answer
(`ppdw.cli.read_render`). Heavy modules (pyarrow, duckdb, boto3) load inside commands.
"""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager
from enum import StrEnum
from typing import TYPE_CHECKING, Annotated

import typer

from ppdw.cli import complete, context, render
from ppdw.errors import UsageError

if TYPE_CHECKING:
    from ppdw.read.service import Reader


class EngineName(StrEnum):
    duckdb = "duckdb"
    athena = "athena"


class Format(StrEnum):
    table = "table"
    csv = "csv"
    json = "json"
    parquet = "parquet"


Json = Annotated[bool, typer.Option("--json", help="One JSON document on stdout.")]
AsOfOption = Annotated[
    str | None,
    typer.Option(
        "--as-of",
        metavar="TIME|RUN_ID",
        autocompletion=complete.run_ids,
        help="Read silver as it was at an ISO-8601 time (naive = UTC) or at a run's time.",
    ),
]
Engine = Annotated[
    EngineName | None,
    typer.Option("--engine", help="duckdb (in this process; default on local) or athena."),
]
FormatOption = Annotated[Format, typer.Option("--format", help="table, csv, json or parquet.")]
Output = Annotated[
    str | None, typer.Option("--output", "-o", metavar="FILE", help="Write to FILE.")
]
Limit = Annotated[
    int | None,
    typer.Option("--limit", min=0, metavar="N", help="At most N rows (table default: 100)."),
]
Dataset = Annotated[str, typer.Argument(metavar="DATASET", help="Dataset name.")]


@contextmanager
def _reader(ctx: typer.Context) -> Iterator[Reader]:
    from ppdw.read.service import Reader

    project = context.load_project(ctx)
    with context.open_target(ctx, project, read_only=True) as target:
        yield Reader(target, project)


def _format(
    fmt: Format, as_json: bool, output: str | None, limit: int | None
) -> tuple[str, int | None]:
    chosen = Format.json if as_json else fmt
    if chosen is Format.parquet and output is None:
        raise UsageError("--format parquet needs --output FILE", "parquet is not for a terminal")
    if limit is None and chosen is Format.table and output is None:
        from ppdw.cli.read_render import TABLE_ROWS

        limit = TABLE_ROWS
    return chosen.value, limit


def query(
    ctx: typer.Context,
    sql: Annotated[str, typer.Argument(metavar="SQL", help="SQL over pp_dw_silver.nsde, ...")],
    engine: Engine = None,
    as_of: AsOfOption = None,
    fmt: FormatOption = Format.table,
    output: Output = None,
    limit: Limit = None,
    as_json: Json = False,
) -> None:
    """Run SQL over the catalog's tables, named as in Glue (pp_dw_silver.nsde, ...).

    Example: ppdw query "SELECT change_type, count(*) FROM pp_dw_silver.nsde GROUP BY 1"
    """
    from ppdw.cli.read_render import emit_result
    from ppdw.read.query import QueryRequest
    from ppdw.read.query import query as run_query

    chosen, limit = _format(fmt, as_json, output, limit)
    request = QueryRequest(sql, None if engine is None else engine.value, as_of, limit)
    with _reader(ctx) as reader:
        result, moment = run_query(reader, request)
    emit_result(result, moment, chosen, output, title="")


def show(
    ctx: typer.Context,
    dataset: Dataset,
    as_of: AsOfOption = None,
    where: Annotated[
        str | None,
        typer.Option("--where", metavar="SQL", help="Filter, e.g. \"dosage_form = 'KIT'\"."),
    ] = None,
    columns: Annotated[
        str | None, typer.Option("--columns", metavar="COL,...", help="Columns to show.")
    ] = None,
    limit: Limit = None,
    engine: Engine = None,
    fmt: FormatOption = Format.table,
    output: Output = None,
    as_json: Json = False,
) -> None:
    """Show silver of DATASET as of a time or run (default: the last applied run).

    Example: ppdw show nsde --as-of 2026-11-02T06:00:00Z --where "billing_unit = 'ML'"
    """
    from ppdw.cli.read_render import emit_result
    from ppdw.read.query import ShowRequest
    from ppdw.read.query import show as run_show

    chosen, limit = _format(fmt, as_json, output, limit)
    names = tuple(c.strip() for c in (columns or "").split(",") if c.strip())
    request = ShowRequest(
        dataset, as_of, where, names, limit, None if engine is None else engine.value
    )
    with _reader(ctx) as reader:
        result, moment = run_show(reader, request)
    title = f"{dataset} as of {moment.text}" + (f" (run {moment.run_id})" if moment.run_id else "")
    emit_result(result, moment, chosen, output, title=title)


def history(
    ctx: typer.Context,
    dataset: Dataset,
    keys: Annotated[
        list[str],
        typer.Argument(metavar="KEY...", help="Key values; composite keys as col=value,..."),
    ],
    as_json: Json = False,
) -> None:
    """Every version of each KEY, oldest first, with the fields each version changed.

    Example: ppdw history nsde 00003189386
    """
    from ppdw.cli.read_render import history_tables

    with _reader(ctx) as reader:
        found = reader.history(dataset, keys)
    if as_json:
        render.print_json({"dataset": dataset, "keys": [h.to_json() for h in found]})
    else:
        history_tables(dataset, found)


def diff(
    ctx: typer.Context,
    dataset: Dataset,
    run: Annotated[
        str | None,
        typer.Option(
            "--run",
            metavar="RUN_ID",
            autocompletion=complete.run_ids,
            help="The run (default: the last applied).",
        ),
    ] = None,
    from_run: Annotated[
        str | None,
        typer.Option(
            "--from",
            metavar="RUN_ID",
            autocompletion=complete.run_ids,
            help="Compare with this run's state instead.",
        ),
    ] = None,
    as_json: Json = False,
) -> None:
    """What a run changed: inserted, updated (field by field) and deleted keys.

    Example: ppdw diff nsde --run nsde-20261102-060000
    """
    from ppdw.cli.read_render import diff_document, diff_tables

    with _reader(ctx) as reader:
        document = reader.diff(dataset, run, from_run)
    if as_json:
        render.print_json(diff_document(document))
    else:
        diff_tables(document)


def runs(
    ctx: typer.Context,
    dataset: Dataset,
    limit: Annotated[
        int | None, typer.Option("--limit", min=1, metavar="N", help="The N newest runs.")
    ] = None,
    as_json: Json = False,
) -> None:
    """Every run of DATASET, newest first: status and error, source, durations, counts.

    Example: ppdw runs nsde --limit 5
    """
    from ppdw.cli.read_render import runs_table

    with _reader(ctx) as reader:
        summaries = reader.runs(dataset, limit)
    if as_json:
        render.print_json({"dataset": dataset, "runs": summaries})
    else:
        runs_table(dataset, summaries)


def register(app: typer.Typer) -> None:
    app.command("query")(query)
    app.command("show")(show)
    app.command("history")(history)
    app.command("diff")(diff)
    app.command("runs")(runs)
