"""Generated NSDE snapshot sequences: a random walk of a product list over months.

Each snapshot updates, deletes, re-inserts and inserts keys, repeats rows (identically, and
one key with other values: keep_last applies), carries a key that is empty or blank (rule 1,
below the 1% threshold), and from the fourth snapshot on a new column. Values hold what a
reader and the hash must keep apart: quoted commas and line ends, the hash's separator
characters, Unicode white space, non-ASCII letters, empty strings, dates that do not parse.
Standard library only, seeded: the same seed gives the same files.
"""

from __future__ import annotations

import random
from datetime import UTC, datetime
from pathlib import Path

from tests.data.bad.make_bad import NSDE_HEADER, csv_text, nsde_zip
from tests.spark.twin import Step

#: Run times across four months, so closed versions sit in several partitions.
TIMES = (
    "2026-08-14T06:00:00",
    "2026-09-20T06:00:00",
    "2026-10-02T06:00:00",
    "2026-10-29T06:00:00",
    "2026-11-03T06:00:00",
    "2026-12-01T06:00:00",
)
_NAMES = (
    "AMIDATE",
    "CVS Health, Cold and Flu",
    'Sunscreen "SPF 50"',
    "Line one\nline two",
    "CAFÉ CRÈME",
    "\u00a0padded\u2003",
    "sep\x1einside\x1fvalue\x1b",
    "",
)
_FORMS = ("TABLET", "INJECTION, SOLUTION", "CAPSULE", "  CREAM  ", "")
_DATES = ("20160210", "20201231", "", "20161332", "not a date", "19991231")


def _row(rng: random.Random, key: str) -> list[str]:
    return [
        f"{rng.randrange(10**9):09d}",
        key,
        rng.choice(_NAMES),
        rng.choice(_FORMS),
        rng.choice(("NDA", "ANDA", "BLA")),
        rng.choice(("NDA020000", "ANDA040000", "")),
        rng.choice(("HUMAN PRESCRIPTION DRUG", "HUMAN OTC DRUG ")),
        rng.choice(_DATES),
        rng.choice(_DATES),
        rng.choice(("EA", "ML", "")),
        rng.choice(_DATES),
        rng.choice(_DATES),
    ]


def random_walk(folder: Path, *, seed: int, snapshots: int, rows: int = 160) -> list[Step]:
    rng = random.Random(seed)
    live = {
        f"{i * 7919 % 10**11:011d}": _row(rng, f"{i * 7919 % 10**11:011d}") for i in range(rows)
    }
    gone: dict[str, list[str]] = {}
    fresh = rows
    steps: list[Step] = []
    for index in range(snapshots):
        if index:
            for key in rng.sample(sorted(live), len(live) // 10):  # updates
                row = list(live[key])
                row[2], row[7] = rng.choice(_NAMES), rng.choice(_DATES)
                live[key] = row
            for key in rng.sample(sorted(live), len(live) // 20):  # deletes
                gone[key] = live.pop(key)
            for key in rng.sample(sorted(gone), min(3, len(gone))):  # re-inserts
                live[key] = gone.pop(key)
            for _ in range(rows // 20):  # inserts
                key = f"{fresh * 7919 % 10**11:011d}"
                fresh += 1
                live[key] = _row(rng, key)
        steps.append(_write(folder, index, live, rng, with_new_column=index >= 3))
    return steps


def _write(
    folder: Path,
    index: int,
    live: dict[str, list[str]],
    rng: random.Random,
    *,
    with_new_column: bool,
) -> Step:
    body = [list(row) for row in live.values()]
    rng.shuffle(body)
    twice = rng.choice(body)
    body.insert(rng.randrange(len(body)), list(twice))  # an identical copy
    other = list(rng.choice(body))
    other[3] = "DIFFERENT FORM"
    body.append(other)  # same key, other values: the last in source order wins
    body.insert(rng.randrange(len(body)), _row(rng, "" if index % 2 else "   "))  # rejected
    header = list(NSDE_HEADER)
    if with_new_column:
        header.append("Labeler Name")
        for row in body:
            row.append(rng.choice(("", "", "ACME, INC.", "Labeler\nTwo")))
    data = b"\xef\xbb\xbf" + csv_text(header, body).encode("utf-8")
    path = folder / f"walk-{index:02d}.zip"
    path.write_bytes(nsde_zip(data))
    moment = datetime.fromisoformat(TIMES[index]).replace(tzinfo=UTC)
    return Step(path, moment)
