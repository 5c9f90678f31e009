"""`python -m bench [--rows 100000,1000000] [--repeat 3] [--only e2e,aws,...] [--json]`.

Prints the Markdown tables (or, with `--json`, one JSON document) on stdout and writes
`bench/RESULTS.md` unless `--results` names another file or `--no-results` is given.
Exit status: 0 when every goal is met and every check is equal, 1 otherwise.
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
    return sorted(set(rows))


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
        default=[100_000, 1_000_000],
        help="row counts, comma-separated (default 100000,1000000); goals apply at the largest",
    )
    p.add_argument("--repeat", type=int, default=3, help="repeats of every run (default 3)")
    p.add_argument(
        "--only",
        type=_only,
        default=frozenset(),
        help=f"comma-separated sections: {', '.join(SECTIONS)} (default: all)",
    )
    p.add_argument("--json", action="store_true", help="print one JSON document")
    p.add_argument(
        "--fetch-mb", type=int, default=1024, help="size of the fetch section's file (MB)"
    )
    p.add_argument(
        "--workdir",
        type=Path,
        default=None,
        help="where data and warehouses go (default: a temporary folder, removed); "
        "generated data is cached there",
    )
    p.add_argument("--results", type=Path, default=DEFAULT_RESULTS, help="Markdown file to write")
    p.add_argument("--no-results", action="store_true", help="do not write a results file")
    return p


def main(argv: list[str] | None = None) -> int:
    from bench.report import markdown

    args = parser().parse_args(argv)
    with tempfile.TemporaryDirectory(prefix="ppdw-bench-") as tmp:
        options = Options(
            rows=args.rows,
            repeat=max(1, args.repeat),
            workdir=(args.workdir or Path(tmp)).resolve(),
            only=args.only,
            fetch_mb=args.fetch_mb,
        )
        report = run(options)
    text = markdown(report)
    if not args.no_results:
        args.results.write_text(text + "\n", encoding="utf-8")
    if args.json:
        sys.stdout.write(json.dumps(report.as_dict(), indent=2, default=str) + "\n")
    else:
        sys.stdout.write(text + "\n")
    failed = [f"{g.name} ({g.rows or '-'} rows)" for g in report.goals if not g.ok] + [
        name for name, problem in report.checks.items() if problem is not None
    ]
    if failed:
        sys.stderr.write("not met: " + "; ".join(failed) + "\n")
    return 1 if failed else 0


if __name__ == "__main__":
    raise SystemExit(main())
