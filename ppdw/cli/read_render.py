"""Output of the reading commands: rich tables for people, one JSON document for programs,
CSV and parquet files. Counts carry thousands separators; data values are shown as stored.
"""

from __future__ import annotations

import csv
import io
import sys
from pathlib import Path
from typing import TYPE_CHECKING, Any

import pyarrow as pa
from rich.console import Console
from rich.table import Table
from rich.text import Text

from ppdw.cli import render
from ppdw.read.keys import json_value, text_value

if TYPE_CHECKING:
    from ppdw.read.asof import AsOf
    from ppdw.read.diff import Diff
    from ppdw.read.history import KeyHistory
    from ppdw.read.result import QueryResult

#: Rows a table for people shows when no --limit is given (files and JSON get every row).
TABLE_ROWS = 100
DIFF_ROWS = 50


def count(value: Any) -> str:
    return "-" if value is None else f"{int(value):,}"


# -------------------------------------------------------------------------- results


def result_document(result: QueryResult, as_of: AsOf | None) -> dict[str, Any]:
    table = result.table
    return {
        "engine": result.engine,
        "as_of": None if as_of is None else as_of.to_json(),
        "columns": [{"name": f.name, "type": str(f.type)} for f in table.schema],
        "rows": [{k: json_value(v) for k, v in row.items()} for row in table.to_pylist()],
        "row_count": table.num_rows,
        "truncated": result.truncated,
        **result.details,
    }


def _cell(value: Any) -> str:
    if isinstance(value, bool) or value is None:
        return text_value(value)
    if isinstance(value, int):
        return f"{value:,}"
    return text_value(value)


def result_table(table: pa.Table, title: str | None = None) -> Table:
    out = Table(title=title, title_justify="left")
    for field in table.schema:
        numeric = pa.types.is_integer(field.type) or pa.types.is_floating(field.type)
        out.add_column(field.name, justify="right" if numeric else "left", overflow="fold")
    for row in table.to_pylist():
        out.add_row(*(_cell(row[name]) for name in table.column_names))
    return out


def csv_text(table: pa.Table) -> str:
    buffer = io.StringIO()
    writer = csv.writer(buffer, lineterminator="\n")
    writer.writerow(table.column_names)
    for row in table.to_pylist():
        writer.writerow(["" if v is None else json_value(v) for v in row.values()])
    return buffer.getvalue()


def emit_result(
    result: QueryResult, as_of: AsOf | None, fmt: str, output: str | None, title: str
) -> None:
    """The result in `fmt`, on stdout or into `output`; notes on stderr."""
    table = result.table
    if fmt == "parquet":
        import pyarrow.parquet as pq

        pq.write_table(table, str(output), compression="zstd")
    elif fmt == "table" and output is None:
        render.out().print(result_table(table, title))
    else:
        text = _text(result, as_of, fmt)
        if output is None:
            sys.stdout.write(text)
            sys.stdout.flush()
        else:
            Path(output).write_text(text, encoding="utf-8")
    if output is not None:
        render.info(f"Wrote {table.num_rows:,} row(s) to {output} ({fmt}).")
    if result.truncated:
        render.info(f"Showing the first {table.num_rows:,} rows; --limit N shows more.")


def _text(result: QueryResult, as_of: AsOf | None, fmt: str) -> str:
    if fmt == "csv":
        return csv_text(result.table)
    if fmt == "json":
        import json

        return json.dumps(result_document(result, as_of), indent=2, default=str) + "\n"
    buffer = io.StringIO()
    Console(file=buffer, width=200, no_color=True).print(result_table(result.table))
    return buffer.getvalue()


# -------------------------------------------------------------------------- history


def history_tables(dataset: str, histories: list[KeyHistory]) -> None:
    console = render.out()
    for history in histories:
        out = Table(title=f"{dataset} {history.text}", title_justify="left")
        for column in ("run", "effective", "end", "change", "changed fields"):
            out.add_column(column, overflow="fold")
        for version in history.versions:
            changed = Text()
            for change in version.changed:
                if changed:
                    changed.append("\n")
                changed.append(f"{change.field}: ", style="bold")
                changed.append(f"{text_value(change.old)} -> {text_value(change.new)}")
            if version.change_type == "INSERT" and not version.changed:
                changed = Text("(new)")
            out.add_row(
                version.run_id,
                text_value(version.effective),
                "open" if version.end is None else text_value(version.end),
                version.change_type + (" (current)" if version.is_current else ""),
                changed,
            )
        console.print(out)


# ----------------------------------------------------------------------------- diff


def diff_document(document: dict[str, Any]) -> dict[str, Any]:
    diff: Diff = document["diff"]
    return {**{k: v for k, v in document.items() if k != "diff"}, **diff.to_json()}


def diff_tables(document: dict[str, Any], limit: int = DIFF_ROWS) -> None:
    diff: Diff = document["diff"]
    console = render.out()
    start = document["from"]
    title = (
        f"{document['dataset']}: run {document['run']['run_id']} "
        f"({document['run']['run_time']}) against "
        + (f"run {start['run_id']} ({start['run_time']})" if start else "an empty silver")
    )
    console.print(title, markup=False, highlight=False, soft_wrap=True)  # one line
    counts = Table()
    for kind in diff.counts:
        counts.add_column(kind, justify="right")
    counts.add_row(*(count(v) for v in diff.counts.values()))
    console.print(counts)
    for label, changes in (("inserted", diff.inserted), ("deleted", diff.deleted)):
        if changes:
            keys = ", ".join(diff.key_text(c.key) for c in changes[:limit])
            more = len(changes) - limit
            console.print(f"{label}: {keys}" + (f", ... {more:,} more" if more > 0 else ""))
    if diff.updated:
        out = Table(title="updated", title_justify="left")
        for column in ("key", "field", "old", "new"):
            out.add_column(column, overflow="fold")
        for change in diff.updated[:limit]:
            for index, field in enumerate(change.changed):
                key = diff.key_text(change.key) if index == 0 else ""
                out.add_row(key, field.field, text_value(field.old), text_value(field.new))
        console.print(out)
        if len(diff.updated) > limit:
            render.info(f"{len(diff.updated) - limit:,} more updated keys; --json lists all.")


# ----------------------------------------------------------------------------- runs


def _duration(seconds: Any) -> str:
    return "-" if seconds is None else f"{int(seconds):,}s"


def runs_table(dataset: str, summaries: list[dict[str, Any]]) -> None:
    """One row per run; each cell stacks its details so the table fits a terminal."""
    out = Table(title=f"runs of {dataset}, newest first", title_justify="left")
    widths = {"run, source": 22, "status": 9, "silver": 13}  # ids and words stay whole
    for column in ("run, source", "status", "silver", "steps", "rows"):
        out.add_column(column, overflow="fold", min_width=widths.get(column))
    for item in summaries:
        changes = item["changes"]
        source = item["source"]
        sha = source.get("sha256")
        where = str(source.get("location") or source.get("file") or "-")
        status = Text(str(item["status"]), style="bold")
        if item.get("unchanged_since"):
            how = f"\nsame {item['unchanged_by']}" if item.get("unchanged_by") else ""
            status.append(f"\nsince {item['unchanged_since']}{how}", style="dim")
        if item.get("error"):
            status.append(f"\n{item['error']}", style="red")
        out.add_row(
            f"{item['run_id']}\n{item['run_time'] or '-'}\n"
            + where.rsplit("/", 1)[-1]
            + (f"\nsha256 {sha[:12]}…" if sha else ""),
            status,
            "-" if changes is None else "\n".join(f"{k} {count(changes.get(k))}" for k in changes),
            "\n".join(
                f"{step} {_duration(seconds)}" for step, seconds in item["durations"].items()
            ),
            "\n".join(
                f"{label} {count(item[name])}"
                for label, name in (
                    ("bronze", "bronze_rows"),
                    ("rejected", "rejected"),
                    ("duplicates", "duplicates"),
                    ("unparsed", "parse_failures"),
                )
            ),
        )
    render.out().print(out)
