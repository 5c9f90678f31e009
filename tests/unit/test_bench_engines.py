"""The engines section of bench/RESULTS.md: written from the recorded runs, replaced in place."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

from bench.engines import SECTION, write_section


def _entry(
    engine: str, stage: str, rows: int, peak_gib: float, label: str, exit_code: int = 0
) -> dict[str, Any]:
    return {
        "engine": engine, "stage": stage, "rows": rows, "raw_bytes": rows * 113,
        "seconds": 1.5, "peak_rss_bytes": int(peak_gib * 2**30), "exit": exit_code,
        "cap_bytes": 4 * 2**30 if label == "capped" else None, "load_before": 0.5,
        "label": label,
    }  # fmt: skip


def test_the_section_is_written_before_every_run_and_replaced_on_the_next_write(
    tmp_path: Path,
) -> None:
    results = tmp_path / "engines.jsonl"
    entries = [
        _entry("arrow", "silver-1", 1_000_000, 1.5, "suite"),
        _entry("arrow", "silver-1", 5_000_000, 6.5, "suite"),
        _entry("spark", "silver-1", 5_000_000, 3.5, "suite"),
        _entry("arrow", "bronze-1", 10_000_000, 4.0, "capped", exit_code=-9),
        _entry("spark", "silver-2", 10_000_000, 3.6, "capped"),
    ]
    results.write_text("".join(json.dumps(e) + "\n" for e in entries))
    page = tmp_path / "RESULTS.md"
    page.write_text("# results\n\n## Goals\n\nx\n\n## Every run\n\n| a |\n")

    write_section(page, results)
    write_section(page, results)  # again: replaced, not repeated

    text = page.read_text()
    assert text.count(SECTION) == 1
    assert text.index("## Goals") < text.index(SECTION) < text.index("## Every run")
    assert "| 10,000,000 | 1,078 | 4 | arrow | bronze-1 | killed (exit -9) |" in text
    assert "| spark | silver-2 | completed |" in text
    assert "MiB of raw data, which sets `glue.spark_above_mb` (640 MiB)" in text
