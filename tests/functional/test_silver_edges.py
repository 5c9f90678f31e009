"""Silver at the edges, through the CLI (`ppdw --target aws run --runner local` on moto):
decimals in `record_hash`, a history hashed before the decimal fix, `meta_*` source
columns, and a stray cp1252 byte in a UTF-8 file. Results are read back as a user would:
the registered silver files, `status --json` and the run record.
"""

from __future__ import annotations

import hashlib
import json
from collections.abc import Sequence
from datetime import date, datetime
from decimal import Decimal
from pathlib import Path
from typing import Any

import pyarrow as pa
import pytest

from ppdw.runtime.hash_upgrade import old_decimal_text
from ppdw.runtime.hashing import canonical_text, md5_hex
from ppdw.runtime.silver import changes as silver_changes
from ppdw.runtime.silver import versions as silver_versions
from tests.data.bad import make_bad
from tests.functional._reliability import Warehouse, describe

pytestmark = pytest.mark.usefixtures("moto_aws")

T1, T2, T3 = "2026-11-01T06:00:00Z", "2026-11-02T06:00:00Z", "2026-11-03T06:00:00Z"
#: Columns of silver that are not tracked values.
BOOKKEEPING = {"ndc11", "record_hash", "record_effective_date", "record_end_date"}
BOOKKEEPING |= {"is_current", "change_type", "meta_run_id", "__partition__"}
#: What a version is, apart from its hash: history that must never change.
VERSION = ["ndc11", "price", "proprietary_name", "record_effective_date", "record_end_date"]
VERSION += ["change_type", "meta_run_id"]


def documented_hash(row: dict[str, Any]) -> str:
    """record_hash as README/data.md define it, written independently of ppdw's code:
    fields `name US value` of the non-null tracked columns in name order, joined by RS;
    dates ISO, decimals in plain notation with exactly the column's scale digits."""
    fields = []
    for name in sorted(set(row) - BOOKKEEPING):
        value = row[name]
        if value is None:
            continue
        if isinstance(value, Decimal):
            text = format(value, "f")  # a parquet decimal keeps its scale: 0E-9 -> 0.000000000
        elif isinstance(value, date | datetime):
            text = value.isoformat()
        else:
            text = str(value)
        fields.append(f"{name}\x1f{text}")
    return hashlib.md5("\x1e".join(fields).encode()).hexdigest()


def configure_price(root: Path) -> None:
    path = root / "fda" / "nsde" / "config" / "dataset.json"
    config = json.loads(path.read_text())
    config["columns"]["price"] = {"type": "decimal", "precision": 18, "scale": 9}
    path.write_text(json.dumps(config, indent=2))


PRICES = ["0", "0.0000001", "-0.000000001", "12.5", "", "0.000001"]


def nsde_file(
    folder: Path,
    name: str,
    extra: dict[str, list[str]] | None = None,
    names: dict[int, str] | None = None,
    raw: tuple[bytes, bytes] | None = None,
) -> Path:
    """An NSDE zip: the corpus base rows, `extra` columns (values cycled over the rows),
    product `names` by row number, and one raw byte replacement."""
    rows = make_bad.nsde_rows()
    header = list(make_bad.NSDE_HEADER)
    for column, values in (extra or {}).items():
        header.append(column)
        for index, row in enumerate(rows):
            row.append(values[index % len(values)])
    for number, product in (names or {}).items():
        rows[number - 1][2] = product
    body = make_bad.nsde_bytes(rows, header=header)
    if raw is not None:
        assert raw[0] in body
        body = body.replace(raw[0], raw[1], 1)
    path = folder / name / make_bad.BASE_FILE_NAMES["nsde"]
    path.parent.mkdir(parents=True)
    path.write_bytes(make_bad.nsde_zip(body))
    return path


def ran(wh: Warehouse, source: Path, as_of: str, run_id: str, *extra: str) -> None:
    result = wh.run("nsde", source, as_of, run_id, *extra)
    assert result.exit_code == 0, describe(result)


def changes(wh: Warehouse) -> dict[str, int]:
    return dict(wh.status("nsde")["silver"]["last_changes"])


def silver_rows(wh: Warehouse) -> list[dict[str, Any]]:
    return wh.reader_rows(wh.silver_db, "nsde")


def ndc11(i: int) -> str:
    return make_bad.nsde_row(i)[1]


# ---------------------------------------------------------------------------- decimals


def test_decimal_values_hash_in_plain_notation(project: Path, tmp_path: Path) -> None:
    configure_price(project)
    wh = Warehouse(project)
    wh.boot("nsde")
    ran(wh, nsde_file(tmp_path, "day1", {"Price": PRICES}), T1, "edges-1")

    rows = silver_rows(wh)
    assert {r["price"] for r in rows} == {Decimal(p) if p else None for p in PRICES}
    mismatched = [r["ndc11"] for r in rows if r["record_hash"] != documented_hash(r)]
    assert mismatched == []


def old_record_hash(rows: pa.Table, tracked: Sequence[str]) -> pa.Array:
    """record_hash as ppdw wrote it before decimals were rendered as documented."""
    return md5_hex(canonical_text(rows, tracked, decimals=old_decimal_text))


def no_upgrade(
    current: pa.Table, rows: pa.Array, tracked: Sequence[str]
) -> tuple[pa.Array, pa.Array]:
    return pa.array([], pa.uint64()), pa.array([], pa.string())


def test_a_history_hashed_before_the_fix_gets_no_update_and_keeps_every_version(
    project: Path, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    upgrade_an_old_history(project, tmp_path, monkeypatch)


def upgrade_an_old_history(
    project: Path, tmp_path: Path, monkeypatch: pytest.MonkeyPatch, *upgrade_args: str
) -> None:
    """Two runs as ppdw wrote them before the fix, then a run of today's (`upgrade_args`:
    e.g. its engine) that renames one product: one UPDATE, the old-form hashes of the
    other current versions brought up to date, every version otherwise as it was."""
    configure_price(project)
    wh = Warehouse(project)
    wh.boot("nsde")
    prices = {"Price": PRICES}  # product 7 costs 0, product 4 costs 12.5
    day1 = nsde_file(tmp_path, "day1", prices)
    day2 = nsde_file(tmp_path, "day2", prices, names={7: "PRODUCT 7 RENAMED"})
    day3 = nsde_file(tmp_path, "day3", prices, names={7: "PRODUCT 7 RENAMED", 4: "PRODUCT 4 B"})
    with monkeypatch.context() as old_ppdw:
        old_ppdw.setattr(silver_versions, "record_hash", old_record_hash)
        old_ppdw.setattr(silver_changes, "stale_hashes", no_upgrade)
        ran(wh, day1, T1, "edges-1")
        ran(wh, day2, T2, "edges-2")
    for run_id in ("edges-1", "edges-2"):  # run records as the earlier ppdw wrote them
        key = f"silver/_runs/nsde/{run_id}.json"
        record = json.loads(wh.body(key))
        del record["steps"]["silver"]["stats"]["record_hash_form"]
        wh.s3.put_object(Bucket=wh.bucket, Key=key, Body=json.dumps(record).encode())
    before = silver_rows(wh)
    stale = {
        r["ndc11"] for r in before if r["is_current"] and r["record_hash"] != documented_hash(r)
    }
    assert ndc11(7) in stale
    assert ndc11(4) not in stale

    ran(wh, day3, T3, "edges-3", *upgrade_args)  # product 4 renamed, nothing else changed

    assert changes(wh) == {"INSERT": 0, "UPDATE": 1, "DELETE": 0}
    after = silver_rows(wh)
    # Every other key's versions are as they were: dates, values, change type, run id; and
    # a version closed before the upgrade keeps the hash it was written with.
    assert history(after, skip=ndc11(4)) == history(before, skip=ndc11(4))
    assert closed_hashes(after, skip=ndc11(4)) == closed_hashes(before, skip=ndc11(4))
    assert [
        r["ndc11"] for r in after if r["is_current"] and r["record_hash"] != documented_hash(r)
    ] == []
    record = json.loads(wh.body("silver/_runs/nsde/edges-3.json"))
    assert record["steps"]["silver"]["stats"]["rehashed"] == len(stale)
    assert record["steps"]["silver"]["stats"]["record_hash_form"] == 2


def history(rows: list[dict[str, Any]], skip: str) -> list[tuple[str, ...]]:
    return sorted(tuple(str(r[c]) for c in VERSION) for r in rows if r["ndc11"] != skip)


def closed_hashes(rows: list[dict[str, Any]], skip: str) -> list[tuple[str, str]]:
    closed = [r for r in rows if not r["is_current"] and r["ndc11"] != skip]
    return sorted((str(r["ndc11"]), str(r["record_hash"])) for r in closed)


# ----------------------------------------------------------------------- meta_* columns


def test_a_changed_meta_named_source_column_is_an_update(project: Path, tmp_path: Path) -> None:
    wh = Warehouse(project)
    wh.boot("nsde")
    notes = [f"note {i}" for i in range(make_bad.BASE_ROWS)]
    ran(wh, nsde_file(tmp_path, "day1", {"Meta Notes": notes}), T1, "edges-1")
    notes[4] = "note 4, checked again"
    ran(wh, nsde_file(tmp_path, "day2", {"Meta Notes": notes}), T2, "edges-2")

    assert changes(wh) == {"INSERT": 0, "UPDATE": 1, "DELETE": 0}
    assert wh.current("nsde")[ndc11(5)]["meta_notes"] == "note 4, checked again"
    assert ("meta_notes", "string") in wh.table_columns(wh.silver_db, "nsde")


# ---------------------------------------------------------------------------- encoding


def test_a_stray_cp1252_byte_changes_only_its_own_line(project: Path, tmp_path: Path) -> None:
    wh = Warehouse(project)
    wh.boot("nsde")
    names = {3: "CAF\u00c9", 4: "M\u00dcNCHEN"}
    ran(wh, nsde_file(tmp_path, "day1", names=names), T1, "edges-1")
    stray = nsde_file(tmp_path, "day2", names=names, raw=(b"PRODUCT 9,", b"NI\xd1O,"))
    ran(wh, stray, T2, "edges-2")

    assert changes(wh) == {"INSERT": 0, "UPDATE": 1, "DELETE": 0}
    current = wh.current("nsde")
    assert current[ndc11(3)]["proprietary_name"] == "CAF\u00c9"
    assert current[ndc11(4)]["proprietary_name"] == "M\u00dcNCHEN"
    assert current[ndc11(9)]["proprietary_name"] == "NI\u00d1O"
    record = json.loads(wh.body("silver/_runs/nsde/edges-2.json"))
    assert record["steps"]["bronze"]["stats"]["fallback_lines"] == 1
