"""The options of `ppdw run`, declared once so the command reads as parse -> call -> render.

Rule: declarations only (names, metavars, help); what the options mean together is
`ppdw.runs.request`'s job.
"""

from __future__ import annotations

from enum import StrEnum
from typing import Annotated

import typer

from ppdw.cli import complete


class Runner(StrEnum):
    stepfunctions = "stepfunctions"
    local = "local"


class EngineChoice(StrEnum):
    arrow = "arrow"
    spark = "spark"


class FromStep(StrEnum):
    raw = "raw"
    bronze = "bronze"
    silver = "silver"


Dataset = Annotated[
    str,
    typer.Argument(
        metavar="DATASET",
        autocompletion=complete.datasets,
        help="Dataset name (folder under fda/).",
    ),
]
Source = Annotated[
    str | None,
    typer.Option("--source", metavar="URL|PATH", help="Source URL or local file for this run."),
]
AsOf = Annotated[
    str | None,
    typer.Option("--as-of", metavar="ISO8601", help="Run time, ISO-8601 (naive = UTC)."),
]
RunId = Annotated[
    str | None,
    typer.Option(
        "--run-id",
        metavar="ID",
        autocompletion=complete.run_ids,
        help="Run id (default from time).",
    ),
]
RunnerOption = Annotated[
    Runner | None, typer.Option("--runner", help="stepfunctions (AWS default) or local.")
]
From = Annotated[
    FromStep, typer.Option("--from", help="Start from raw, or re-run bronze/silver of --run-id.")
]
NoWait = Annotated[bool, typer.Option("--no-wait", help="Start the execution and return its ARN.")]
Force = Annotated[
    bool,
    typer.Option(
        "--force", help="Run even if unchanged or dated later than now; override delete guard."
    ),
]
Engine = Annotated[
    EngineChoice | None,
    typer.Option("--engine", help="Compute bronze/silver with arrow or spark for this run."),
]
IgnoreDrift = Annotated[
    bool,
    typer.Option(
        "--ignore-drift", help="Run the deployed stack even if it differs from the config."
    ),
]
Json = Annotated[
    bool, typer.Option("--json", help="No live view; one JSON document on stdout at the end.")
]
