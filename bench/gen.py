"""Deterministic synthetic data shaped like the FDA NSDE extract (see shared facts/sources.md).

Rule: the same (rows, seed) always gives byte-identical files. One pass writes two
snapshots side by side: day 1 (the base extract) and day 2 (the same extract with a fixed
share of keys updated, deleted and inserted), so the silver benchmark applies a realistic
daily change. Standard library only; no ppdw import, so the data does not depend on the
code it measures.

Shape of the data, as in the real file: UTF-8 BOM, the real 12-column header, values with
commas quoted (`"INJECTION, SOLUTION"`), `YYYYMMDD` dates that are often empty, NDC11 keys
with leading zeros, values with trailing spaces. A few rows carry the faults a full extract
has: exact duplicate rows, a key repeated with other values (keep_last applies), rows with
an empty key (rejected), and dates that do not parse.
"""

from __future__ import annotations

import random
from dataclasses import dataclass
from pathlib import Path

HEADER = (
    "Item Code,NDC11,Proprietary Name,Dosage Form,Marketing Category,"
    "Application Number or Citation,Product Type,Marketing Start Date,Marketing End Date,"
    "Billing Unit,Inactivation Date,Reactivation Date"
)
BOM = "\ufeff"

_NAMES = (
    "AMIDATE",
    "LISINOPRIL",
    "ATORVASTATIN CALCIUM",
    "METFORMIN HYDROCHLORIDE",
    "IBUPROFEN",
    "ACETAMINOPHEN",
    "AMOXICILLIN",
    "OMEPRAZOLE",
    "SERTRALINE",
    "GABAPENTIN",
    "HEPARIN SODIUM",
    "SODIUM CHLORIDE",
    "DEXTROSE",
    "LIDOCAINE HYDROCHLORIDE AND EPINEPHRINE",
    "INSULIN GLARGINE",
    "Good Neighbor Pharmacy Pain Relief",
    "CVS Health, Cold and Flu",
    "Sunscreen SPF 50 ",
)
_FORMS = (
    "TABLET",
    "TABLET, FILM COATED",
    "CAPSULE",
    "INJECTION, SOLUTION",
    "SOLUTION",
    "CREAM",
    "LOTION",
    "INJECTION, POWDER, LYOPHILIZED, FOR SOLUTION",
    "SUSPENSION",
    "TABLET, EXTENDED RELEASE",
)
_CATEGORIES = (
    ("NDA", "NDA"),
    ("ANDA", "ANDA"),
    ("BLA", "BLA"),
    ("NDA AUTHORIZED GENERIC", "NDA"),
    ("OTC MONOGRAPH DRUG", "M"),
    ("UNAPPROVED DRUG OTHER", ""),
)
_PRODUCT_TYPES = (
    "HUMAN PRESCRIPTION DRUG",
    "HUMAN OTC DRUG",
    "HUMAN PRESCRIPTION DRUG ",
    "HUMAN OTC DRUG ",
    "VACCINE",
    "PLASMA DERIVATIVE",
)
_UNITS = ("EA", "ML", "GM", "")

#: ndc11 of row i is (i * _KEY_MULT + offset) mod 10**11: a bijection (the multiplier is
#: coprime to 10), so keys are unique, spread, and about 10% start with a zero.
_KEY_SPACE = 10**11
_KEY_MULT = 2_654_435_761


@dataclass(frozen=True)
class ChangeMix:
    """Share of day-1 keys that day 2 updates or deletes, and of new keys it inserts."""

    update: float = 0.01
    delete: float = 0.005
    insert: float = 0.005


@dataclass(frozen=True)
class Faults:
    """Share of rows carrying the faults of a real extract (per mille of rows)."""

    exact_duplicate: float = 0.0005
    key_duplicate: float = 0.0001
    empty_key: float = 0.0001
    bad_date: float = 0.0002


@dataclass(frozen=True)
class Generated:
    day1: Path
    day2: Path
    rows: int
    day1_rows: int
    day2_rows: int
    updated: int
    deleted: int
    inserted: int


def _key(i: int, offset: int) -> str:
    return f"{(i * _KEY_MULT + offset) % _KEY_SPACE:011d}"


def _item_code(ndc11: str, style: int) -> str:
    """Hyphenated NDC in one of the three published layouts (4-4-2, 5-3-2, 5-4-1)."""
    if style == 0:
        return f"{ndc11[1:5]}-{ndc11[5:9]}-{ndc11[9:]}"
    if style == 1:
        return f"{ndc11[:5]}-{ndc11[6:9]}-{ndc11[9:]}"
    return f"{ndc11[:5]}-{ndc11[5:9]}-{ndc11[10:]}"


def _quote(value: str) -> str:
    if "," in value or '"' in value:
        return '"' + value.replace('"', '""') + '"'
    return value


def _date(rng: random.Random, empty_share: float, bad_share: float) -> str:
    roll = rng.random()
    if roll < empty_share:
        return ""
    if roll < empty_share + bad_share:
        return "20231399"
    year = rng.randrange(1985, 2027)
    return f"{year}{rng.randrange(1, 13):02d}{rng.randrange(1, 29):02d}"


def _fields(rng: random.Random, ndc11: str, faults: Faults) -> list[str]:
    category, app_prefix = _CATEGORIES[rng.randrange(len(_CATEGORIES))]
    if app_prefix == "M":
        application = f"M{rng.randrange(1, 999):03d}"
    elif app_prefix:
        application = f"{app_prefix}{rng.randrange(0, 999999):06d}"
    else:
        application = ""
    return [
        _item_code(ndc11, rng.randrange(3)),
        ndc11,
        _NAMES[rng.randrange(len(_NAMES))],
        _FORMS[rng.randrange(len(_FORMS))],
        category,
        application,
        _PRODUCT_TYPES[rng.randrange(len(_PRODUCT_TYPES))],
        _date(rng, 0.02, faults.bad_date),
        _date(rng, 0.85, 0.0),
        _UNITS[rng.randrange(len(_UNITS))],
        _date(rng, 0.95, 0.0),
        _date(rng, 0.99, 0.0),
    ]


def _line(fields: list[str]) -> str:
    return ",".join(_quote(value) for value in fields) + "\n"


def _updated(rng: random.Random, fields: list[str]) -> list[str]:
    """A changed version: new end date and billing unit (a typical daily change)."""
    changed = list(fields)
    changed[8] = f"{rng.randrange(2026, 2030)}{rng.randrange(1, 13):02d}{rng.randrange(1, 29):02d}"
    changed[9] = "EA" if changed[9] != "EA" else "ML"
    return changed


def generate(
    out_dir: Path,
    rows: int,
    *,
    seed: int = 20261101,
    mix: ChangeMix = ChangeMix(),
    faults: Faults = Faults(),
) -> Generated:
    """Write `day1.csv` and `day2.csv` into `out_dir` (overwriting) and describe them."""
    out_dir.mkdir(parents=True, exist_ok=True)
    rng = random.Random(seed)
    offset = rng.randrange(_KEY_SPACE)
    day1_path, day2_path = out_dir / "day1.csv", out_dir / "day2.csv"
    counts = {"day1": 0, "day2": 0, "updated": 0, "deleted": 0, "inserted": 0}
    with (
        day1_path.open("w", encoding="utf-8", newline="") as day1,
        day2_path.open("w", encoding="utf-8", newline="") as day2,
    ):
        for handle in (day1, day2):
            handle.write(BOM + HEADER + "\n")

        def both(line: str, *, in_day2: bool = True) -> None:
            day1.write(line)
            counts["day1"] += 1
            if in_day2:
                day2.write(line)
                counts["day2"] += 1

        for i in range(rows):
            ndc11 = _key(i, offset)
            fault = rng.random()
            if fault < faults.empty_key:
                fields = _fields(rng, ndc11, faults)
                fields[1] = "" if rng.random() < 0.5 else "  "
                both(_line(fields))
                continue
            fields = _fields(rng, ndc11, faults)
            line = _line(fields)
            change = rng.random()
            if change < mix.delete:
                both(line, in_day2=False)
                counts["deleted"] += 1
            elif change < mix.delete + mix.update:
                day1.write(line)
                day2.write(_line(_updated(rng, fields)))
                counts["day1"] += 1
                counts["day2"] += 1
                counts["updated"] += 1
            else:
                both(line)
                fault -= faults.empty_key
                if fault < faults.exact_duplicate:
                    both(line)
                elif fault < faults.exact_duplicate + faults.key_duplicate:
                    # Same key, other values, later in the file: keep_last keeps this one.
                    both(_line(_fields(rng, ndc11, faults)))
        for j in range(round(rows * mix.insert)):
            day2.write(_line(_fields(rng, _key(rows + j, offset), faults)))
            counts["day2"] += 1
            counts["inserted"] += 1
    return Generated(
        day1=day1_path,
        day2=day2_path,
        rows=rows,
        day1_rows=counts["day1"],
        day2_rows=counts["day2"],
        updated=counts["updated"],
        deleted=counts["deleted"],
        inserted=counts["inserted"],
    )


def write_big_file(path: Path, size_bytes: int, *, seed: int = 7) -> Path:
    """An NSDE-shaped CSV of about `size_bytes` (for the fetch benchmark), built by
    repeating a generated block, so a gigabyte takes seconds, not minutes."""
    block_dir = path.parent / f".{path.name}.block"
    block = generate(block_dir, 20_000, seed=seed).day1.read_bytes()
    body = block[len((BOM + HEADER + "\n").encode()) :]
    with path.open("wb") as out:
        out.write((BOM + HEADER + "\n").encode())
        written = 0
        while written < size_bytes:
            out.write(body)
            written += len(body)
    for leftover in block_dir.iterdir():
        leftover.unlink()
    block_dir.rmdir()
    return path
