"""`python -m bench --rows 1000000 [--json] [--repeat 5] [--only NAME]`: run the suite.

Prints the Markdown tables (or, with `--json`, one JSON document) on stdout and writes
`bench/RESULTS.md` unless `--results` names another file or `--no-results` is given.
Exit status: 0 when every goal is met and every output check is equal, 1 otherwise.
"""

from __future__ import annotations

import argparse
import json
import sys
import tempfile
from pathlib import Path

from bench.suite import SECTIONS, Options, run

DEFAULT_RESULTS = Path(__file__).resolve().parent / "RESULTS.md"


def _rows(text: str) -> list[int]:
    try:
        rows = [int(part.replace("_", "")) for part in text.split(",") if part.strip()]
    except ValueError:
        raise argparse.ArgumentTypeError(f"not a comma-separated list of numbers: {text}") from None
    if not rows or min(rows) < 1000:
        raise argparse.ArgumentTypeError("rows must be at least 1000")
    return rows


def _only(text: str) -> frozenset[str]:
    names = frozenset(part.strip() for part in text.split(",") if part.strip())
    unknown = names - set(SECTIONS)
    if unknown:
        raise argparse.ArgumentTypeError(
            f"unknown section(s) {', '.join(sorted(unknown))}; known: {', '.join(SECTIONS)}"
        )
    return names


def parser() -> argparse.ArgumentParser:
    p = argparse.ArgumentParser(prog="python -m bench", description=__doc__.splitlines()[0])
    p.add_argument(
        "--rows",
        type=_rows,
        default=[1_000_000],
        help="row count(s), comma-separated, e.g. 100000,1000000 (default 1000000)",
    )
    p.add_argument("--repeat", type=int, default=5, help="timed runs per step (default 5)")
    p.add_argument(
        "--only",
        type=_only,
        default=frozenset(),
        help=f"comma-separated sections to run: {', '.join(SECTIONS)}",
    )
    p.add_argument("--json", action="store_true", help="print one JSON document")
    p.add_argument(
        "--fetch-mb",
        type=int,
        default=1024,
        help="size of the file the fetch step moves (default 1024 MB)",
    )
    p.add_argument(
        "--workdir",
        type=Path,
        default=None,
        help="where data and outputs go (default: a temporary folder, removed)",
    )
    p.add_argument(
        "--no-memory", action="store_true", help="skip the peak-RSS runs in fresh processes"
    )
    p.add_argument(
        "--results",
        type=Path,
        default=DEFAULT_RESULTS,
        help="Markdown file to write (default bench/RESULTS.md)",
    )
    p.add_argument("--no-results", action="store_true", help="do not write a results file")
    return p


def main(argv: list[str] | None = None) -> int:
    from bench.report import markdown

    args = parser().parse_args(argv)
    with tempfile.TemporaryDirectory(prefix="ppdw-bench-") as tmp:
        options = Options(
            rows=args.rows,
            repeat=max(1, args.repeat),
            workdir=args.workdir or Path(tmp),
            only=args.only,
            fetch_mb=args.fetch_mb,
            memory=not args.no_memory,
        )
        report = run(options)
    text = markdown(report)
    if not args.no_results:
        args.results.write_text(text + "\n", encoding="utf-8")
    if args.json:
        sys.stdout.write(json.dumps(report.as_dict(), indent=2, default=str) + "\n")
    else:
        sys.stdout.write(text + "\n")
    failed = [g.name for g in report.goals if not g.ok] + [
        name for name, problem in report.checks.items() if problem is not None
    ]
    if failed:
        sys.stderr.write("not met: " + "; ".join(failed) + "\n")
    return 1 if failed else 0


if __name__ == "__main__":
    raise SystemExit(main())
