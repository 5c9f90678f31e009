"""Write the bundled sample snapshots of nsde and rxnorm, deterministically.

    python tools/make_samples.py [--root DIR]    # default: the repository

Each dataset gets three successive snapshots shaped exactly like the real downloads
(shared/facts/sources.md): same archive name and layout, header or none, quoting, BOM,
trailing spaces, RRF trailing `|`. Between snapshots there are inserts, updates, deletes
(well under the 50% delete guard) and a key deleted in snapshot 2 that returns in 3. NSDE
snapshot 2 also holds a key twice with different values and one exactly repeated row
(`keep_last`); RxNorm keeps RXAUI unique (`on_duplicate_key: fail`). Same input, same
bytes: random choices use a fixed seed and zip entries a fixed timestamp.
"""

from __future__ import annotations

import argparse
import io
import itertools
import random
import sys
import zipfile
from dataclasses import dataclass, replace
from pathlib import Path

REPO = Path(__file__).resolve().parent.parent

NSDE_HEADER = (
    "Item Code,NDC11,Proprietary Name,Dosage Form,Marketing Category,"
    "Application Number or Citation,Product Type,Marketing Start Date,Marketing End Date,"
    "Billing Unit,Inactivation Date,Reactivation Date"
)
NSDE_MEMBER = "Comprehensive_NDC_SPL_Data_Elements_File.csv"
NSDE_SNAPSHOTS = ("2026-11-01", "2026-11-02", "2026-11-03")
RXNORM_SNAPSHOTS = ("2026-09-08", "2026-10-06", "2026-11-02")

_NAMES = (
    "AMIDATE",
    "LISINOPRIL",
    "METFORMIN HYDROCHLORIDE",
    "ATORVASTATIN CALCIUM",
    "AMOXICILLIN",
    "IBUPROFEN",
    "ACETAMINOPHEN",
    "OMEPRAZOLE",
    "LEVOTHYROXINE SODIUM",
    "GABAPENTIN",
    "HEPARIN SODIUM",
    "ONDANSETRON",
    "SERTRALINE",
    "PREDNISONE",
    "CEFTRIAXONE",
    "SODIUM CHLORIDE, 0.9%",
    "DEXTROSE, 5%",
    "LIDOCAINE HYDROCHLORIDE",
    "KETOROLAC",
    "ZOLOFT",
)
_FORMS = (
    "INJECTION, SOLUTION",
    "TABLET",
    "TABLET, FILM COATED",
    "CAPSULE",
    "SOLUTION",
    "CREAM",
    "INJECTION, POWDER, FOR SOLUTION",
    "SUSPENSION",
    "KIT",
)
_CATEGORIES = (
    ("NDA", "NDA{:06d}"),
    ("ANDA", "ANDA{:06d}"),
    ("BLA", "BLA{:06d}"),
    ("OTC MONOGRAPH DRUG", "M{:03d}"),
    ("NDA AUTHORIZED GENERIC", "NDA{:06d}"),
)
_PRODUCT_TYPES = ("HUMAN PRESCRIPTION DRUG", "HUMAN OTC DRUG", "HUMAN PRESCRIPTION DRUG ")
_UNITS = ("EA", "ML", "GM")


@dataclass(frozen=True)
class NsdeRow:
    item_code: str
    ndc11: str
    name: str
    form: str
    category: str
    application: str
    product_type: str
    start: str
    end: str = ""
    unit: str = "EA"
    inactivation: str = ""
    reactivation: str = ""

    def fields(self) -> tuple[str, ...]:
        return (
            self.item_code,
            self.ndc11,
            self.name,
            self.form,
            self.category,
            self.application,
            self.product_type,
            self.start,
            self.end,
            self.unit,
            self.inactivation,
            self.reactivation,
        )


def _csv_field(value: str) -> str:
    """Quote like the FDA file: commas, quotes, newlines and edge spaces are quoted."""
    if any(c in value for c in ',"\r\n') or value != value.strip():
        return '"' + value.replace('"', '""') + '"'
    return value


def _ndc(rng: random.Random) -> tuple[str, str]:
    """A hyphenated NDC (4-4-2, 5-3-2 or 5-4-1) and its 11-digit form."""
    shape = rng.choice(("442", "532", "541"))
    if shape == "442":
        a, b, c = (
            f"{rng.randrange(1, 9999):04d}",
            f"{rng.randrange(10000):04d}",
            f"{rng.randrange(100):02d}",
        )
        return f"{a}-{b}-{c}", f"0{a}{b}{c}"
    if shape == "532":
        a, b, c = (
            f"{rng.randrange(10000, 99999):05d}",
            f"{rng.randrange(1000):03d}",
            f"{rng.randrange(100):02d}",
        )
        return f"{a}-{b}-{c}", f"{a}0{b}{c}"
    a, b, c = (
        f"{rng.randrange(10000, 99999):05d}",
        f"{rng.randrange(10000):04d}",
        f"{rng.randrange(10)}",
    )
    return f"{a}-{b}-{c}", f"{a}{b}0{c}"


def _date(rng: random.Random, start: int = 1985, end: int = 2026) -> str:
    return f"{rng.randrange(start, end)}{rng.randrange(1, 13):02d}{rng.randrange(1, 29):02d}"


def _nsde_row(rng: random.Random, used: set[str]) -> NsdeRow:
    while True:
        item, ndc11 = _ndc(rng)
        if ndc11 not in used:
            used.add(ndc11)
            break
    category, pattern = rng.choice(_CATEGORIES)
    return NsdeRow(
        item,
        ndc11,
        rng.choice(_NAMES),
        rng.choice(_FORMS),
        category,
        pattern.format(rng.randrange(1, 999999 if "{:06d}" in pattern else 999)),
        rng.choice(_PRODUCT_TYPES),
        _date(rng),
        end=_date(rng, 2027, 2030) if rng.random() < 0.1 else "",
        unit=rng.choice(_UNITS),
    )


def _nhric_rows() -> list[NsdeRow]:
    """Device codes: NHRIC item codes whose NDC11 is not 11 digits."""
    return [
        NsdeRow(
            "65044-0010",
            "650440010",
            "SURGICAL DRAPE",
            "KIT",
            "PREMARKET NOTIFICATION",
            "K123456",
            "HUMAN OTC DRUG",
            "20190401",
            unit="EA",
        ),
        NsdeRow(
            "53329-0902",
            "533290902",
            "SYRINGE, PREFILLED",
            "KIT",
            "PREMARKET NOTIFICATION",
            "K091234",
            "HUMAN PRESCRIPTION DRUG ",
            "20150115",
            unit="EA",
        ),
    ]


def _updated(rng: random.Random, row: NsdeRow) -> NsdeRow:
    choice = rng.randrange(3)
    if choice == 0:
        return replace(row, end=_date(rng, 2026, 2029))
    if choice == 1:
        return replace(row, unit=next(u for u in _UNITS if u != row.unit))
    return replace(row, inactivation=_date(rng, 2026, 2027))


def nsde_snapshots(seed: int = 20261101) -> list[list[NsdeRow]]:
    rng = random.Random(seed)
    used: set[str] = set()
    first = [_nsde_row(rng, used) for _ in range(298)] + _nhric_rows()
    first[0] = NsdeRow(
        "0409-6695-10",
        "00409669510",
        "AMIDATE",
        "INJECTION, SOLUTION",
        "NDA",
        "NDA018227",
        "HUMAN PRESCRIPTION DRUG",
        "20160210",
        unit="ML",
    )
    used.add("00409669510")
    second = _evolve(rng, first, used, deletes=15, updates=20, inserts=15)
    deleted_in_second = [r for r in first if r.ndc11 not in {s.ndc11 for s in second}]
    third = _evolve(rng, second, used, deletes=10, updates=12, inserts=10)
    third += deleted_in_second[:3]  # re-inserts: deleted in 2, back in 3
    second = _with_duplicates(rng, second)
    return [
        sorted(s, key=lambda r: r.ndc11) if i != 1 else s
        for i, s in enumerate((first, second, third))
    ]


def _evolve(
    rng: random.Random,
    rows: list[NsdeRow],
    used: set[str],
    *,
    deletes: int,
    updates: int,
    inserts: int,
) -> list[NsdeRow]:
    keep = list(rows)
    for index in sorted(rng.sample(range(1, len(keep)), deletes), reverse=True):
        del keep[index]
    for index in rng.sample(range(1, len(keep)), updates):
        keep[index] = _updated(rng, keep[index])
    return keep + [_nsde_row(rng, used) for _ in range(inserts)]


def _with_duplicates(rng: random.Random, rows: list[NsdeRow]) -> list[NsdeRow]:
    """Same ndc11 twice with different values (last wins), and one row repeated exactly."""
    ordered = sorted(rows, key=lambda r: r.ndc11)
    twice = ordered[40]
    ordered.insert(41, replace(twice, unit=next(u for u in _UNITS if u != twice.unit)))
    ordered.insert(81, ordered[80])
    return ordered


def nsde_csv(rows: list[NsdeRow]) -> bytes:
    lines = [NSDE_HEADER] + [",".join(_csv_field(v) for v in row.fields()) for row in rows]
    return ("\ufeff" + "\r\n".join(lines) + "\r\n").encode("utf-8")


# ---------------------------------------------------------------------------- RxNorm

_INGREDIENTS = (
    "bromocriptine",
    "lisinopril",
    "metformin",
    "atorvastatin",
    "amoxicillin",
    "ibuprofen",
    "acetaminophen",
    "omeprazole",
    "levothyroxine",
    "gabapentin",
    "heparin",
    "ondansetron",
)
_STRENGTHS = ("5 MG", "10 MG", "20 MG", "250 MG", "500 MG", "0.1 MG/ML")
_DOSE_FORMS = ("Oral Tablet", "Oral Capsule", "Injectable Solution", "Oral Suspension")
_BRANDS = ("Parlodel", "Zestril", "Glucophage", "Lipitor", "Amoxil", "Advil", "Tylenol")


@dataclass(frozen=True)
class Conso:
    rxcui: str
    rxaui: str
    sab: str
    tty: str
    code: str
    text: str
    suppress: str = "N"
    cvf: str = "4096"

    def line(self) -> str:
        saui = self.rxaui if self.sab == "RXNORM" else ""
        scui = self.rxcui if self.sab == "RXNORM" else self.code
        fields = (
            self.rxcui,
            "ENG",
            "",
            "",
            "",
            "",
            "",
            self.rxaui,
            saui,
            scui,
            "",
            self.sab,
            self.tty,
            self.code,
            self.text,
            "",
            self.suppress,
            self.cvf,
        )
        return "|".join(fields) + "|"


def _conso(rng: random.Random, number: int) -> Conso:
    rxcui = str(100000 + number * 7)
    rxaui = str(2000000 + number * 13)
    kind = rng.randrange(4)
    ingredient = rng.choice(_INGREDIENTS)
    if kind == 0:
        return Conso(rxcui, rxaui, "RXNORM", "IN", rxcui, ingredient)
    if kind == 1:
        return Conso(rxcui, rxaui, "RXNORM", "BN", rxcui, rng.choice(_BRANDS))
    text = f"{ingredient} {rng.choice(_STRENGTHS)} {rng.choice(_DOSE_FORMS)}"
    if kind == 2:
        return Conso(rxcui, rxaui, "RXNORM", "SCD", rxcui, text)
    return Conso(
        rxcui,
        rxaui,
        "MTHSPL",
        "DP",
        f"{rng.randrange(10000, 99999)}-{number:03d}",
        text.upper(),
        cvf="",
    )


def rxnorm_snapshots(seed: int = 20260908) -> list[list[Conso]]:
    rng = random.Random(seed)
    first = [_conso(rng, n) for n in range(300)]
    first[0] = Conso("38", "829", "RXNORM", "BN", "38", "Parlodel")
    second = _evolve_conso(rng, first, 300, deletes=12, updates=15, inserts=12)
    deleted = [c for c in first if c.rxaui not in {s.rxaui for s in second}]
    third = _evolve_conso(rng, second, 312, deletes=8, updates=10, inserts=9)
    third += deleted[:3]  # re-inserts
    return [sorted(s, key=lambda c: int(c.rxaui)) for s in (first, second, third)]


def _evolve_conso(
    rng: random.Random,
    rows: list[Conso],
    start: int,
    *,
    deletes: int,
    updates: int,
    inserts: int,
) -> list[Conso]:
    keep = list(rows)
    for index in sorted(rng.sample(range(1, len(keep)), deletes), reverse=True):
        del keep[index]
    for index in rng.sample(range(1, len(keep)), updates):
        row = keep[index]
        keep[index] = (
            replace(row, suppress="O")
            if rng.random() < 0.4
            else replace(row, text=row.text + " [revised]")
        )
    return keep + [_conso(rng, start + n) for n in range(inserts)]


def _rxnsat(consos: list[Conso]) -> str:
    lines = []
    for number, c in enumerate(x for x in consos if x.tty in ("SCD", "DP")):
        ndc11 = f"{(number * 7919) % 100000:05d}{(number * 31) % 10000:04d}{number % 100:02d}"
        sab = "RXNORM" if c.sab == "RXNORM" else c.sab
        lines.append(
            "|".join(
                (
                    c.rxcui,
                    "",
                    "",
                    c.rxaui,
                    "AUI",
                    c.code,
                    f"AT{number:08d}",
                    "",
                    "NDC",
                    sab,
                    ndc11,
                    "N",
                    "4096",
                )
            )
            + "|"
        )
    return "".join(line + "\n" for line in lines)


def _rxnrel(consos: list[Conso]) -> str:
    rxnorm = [c for c in consos if c.sab == "RXNORM"]
    lines = []
    for number, (a, b) in enumerate(itertools.pairwise(rxnorm)):
        if number % 3:
            continue
        lines.append(
            "|".join(
                (
                    a.rxcui,
                    "",
                    "CUI",
                    "RO",
                    b.rxcui,
                    "",
                    "CUI",
                    "has_ingredient",
                    f"R{number:07d}",
                    "",
                    "RXNORM",
                    "",
                    "",
                    "",
                    "N",
                    "4096",
                )
            )
            + "|"
        )
    return "".join(line + "\n" for line in lines)


def _readme(day: str) -> str:
    return (
        f"RxNorm Full Prescribable Release ({day})\n\nThis is a synthetic sample shaped "
        "like the NLM release: RRF files under rrf/, pipe-delimited, no header.\n"
    )


# ------------------------------------------------------------------------------ zips


def _zip(entries: list[tuple[str, bytes | None]], day: str) -> bytes:
    stamp = (int(day[:4]), int(day[5:7]), int(day[8:10]), 6, 0, 0)
    buffer = io.BytesIO()
    with zipfile.ZipFile(buffer, "w") as archive:
        for name, data in entries:
            info = zipfile.ZipInfo(name, date_time=stamp)
            info.external_attr = (0o40755 << 16) | 0x10 if data is None else 0o100644 << 16
            info.compress_type = zipfile.ZIP_STORED if data is None else zipfile.ZIP_DEFLATED
            archive.writestr(info, data or b"", compresslevel=6)
    return buffer.getvalue()


def build_samples(root: Path) -> list[Path]:
    """Write every sample under `root/fda/{dataset}/sample/`; returns the files written."""
    written: list[Path] = []
    for day, rows in zip(NSDE_SNAPSHOTS, nsde_snapshots(), strict=True):
        path = root / "fda/nsde/sample" / day / "Comprehensive_NDC_SPL_Data_Elements_File.zip"
        written.append(_write(path, _zip([(NSDE_MEMBER, nsde_csv(rows))], day)))
    for day, consos in zip(RXNORM_SNAPSHOTS, rxnorm_snapshots(), strict=True):
        stamp = f"{day[5:7]}{day[8:10]}{day[:4]}"
        entries: list[tuple[str, bytes | None]] = [
            (f"Readme_full_prescribe_{stamp}.txt", _readme(day).encode()),
            ("rrf/", None),
            ("rrf/RXNCONSO.RRF", "".join(c.line() + "\n" for c in consos).encode()),
            ("rrf/RXNREL.RRF", _rxnrel(consos).encode()),
            ("rrf/RXNSAT.RRF", _rxnsat(consos).encode()),
        ]
        path = root / "fda/rxnorm/sample" / day / f"RxNorm_full_prescribe_{stamp}.zip"
        written.append(_write(path, _zip(entries, day)))
    return written


def _write(path: Path, data: bytes) -> Path:
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_bytes(data)
    return path


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--root", type=Path, default=REPO, help="project root (default: repo)")
    args = parser.parse_args(argv)
    for path in build_samples(args.root):
        print(path.relative_to(args.root))
    return 0


if __name__ == "__main__":
    sys.exit(main())
