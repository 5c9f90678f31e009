"""The bundled samples: up to date with tools/make_samples.py and shaped like the real files."""

from __future__ import annotations

import csv
import importlib.util
import io
import json
import sys
import zipfile
from pathlib import Path
from types import ModuleType

import pytest

REPO = Path(__file__).resolve().parents[2]
NSDE_HEADER = [
    "Item Code", "NDC11", "Proprietary Name", "Dosage Form", "Marketing Category",
    "Application Number or Citation", "Product Type", "Marketing Start Date",
    "Marketing End Date", "Billing Unit", "Inactivation Date", "Reactivation Date",
]  # fmt: skip


def _tool() -> ModuleType:
    spec = importlib.util.spec_from_file_location("make_samples", REPO / "tools/make_samples.py")
    assert spec is not None
    assert spec.loader is not None
    module = importlib.util.module_from_spec(spec)
    sys.modules["make_samples"] = module  # dataclasses resolve annotations through it
    spec.loader.exec_module(module)
    return module


def _samples(dataset: str) -> list[Path]:
    config = json.loads((REPO / f"fda/{dataset}/config/dataset.json").read_text())
    return [REPO / "fda" / dataset / p for p in config["source"]["samples"]]


def _nsde_rows(path: Path) -> tuple[bytes, list[list[str]]]:
    with zipfile.ZipFile(path) as archive:
        assert archive.namelist() == ["Comprehensive_NDC_SPL_Data_Elements_File.csv"]
        raw = archive.read("Comprehensive_NDC_SPL_Data_Elements_File.csv")
    return raw, list(csv.reader(io.StringIO(raw.decode("utf-8-sig"), newline="")))


def _conso(path: Path) -> list[list[str]]:
    with zipfile.ZipFile(path) as archive:
        text = archive.read("rrf/RXNCONSO.RRF").decode("utf-8")
    return [line.split("|") for line in text.splitlines()]


def test_committed_samples_are_what_the_script_writes(tmp_path: Path) -> None:
    written = _tool().build_samples(tmp_path)
    assert len(written) == 6
    for path in written:
        committed = REPO / path.relative_to(tmp_path)
        assert committed.read_bytes() == path.read_bytes(), f"{committed} is stale"


def test_script_is_deterministic(tmp_path: Path) -> None:
    tool = _tool()
    first = [p.read_bytes() for p in tool.build_samples(tmp_path / "a")]
    second = [p.read_bytes() for p in tool.build_samples(tmp_path / "b")]
    assert first == second


@pytest.mark.parametrize("dataset", ["nsde", "rxnorm"])
def test_every_configured_sample_exists(dataset: str) -> None:
    paths = _samples(dataset)
    assert len(paths) >= 3
    assert all(p.is_file() for p in paths)


def test_nsde_shape_matches_the_real_file() -> None:
    raw, rows = _nsde_rows(_samples("nsde")[0])
    assert raw.startswith(b"\xef\xbb\xbfItem Code,NDC11,")
    assert b'"INJECTION, SOLUTION"' in raw
    assert b'"HUMAN PRESCRIPTION DRUG "' in raw
    assert rows[0] == NSDE_HEADER
    body = rows[1:]
    assert 200 <= len(body) <= 500
    assert all(len(r) == 12 for r in body)
    assert ["0409-6695-10", "00409669510", "AMIDATE", "INJECTION, SOLUTION"] in [
        r[:4] for r in body
    ]
    assert any(r[1].startswith("0") for r in body), "NDC11 with leading zeros"
    assert any(len(r[1]) != 11 for r in body), "NHRIC codes whose NDC11 is not 11 digits"
    assert any(r[8] == "" for r in body), "empty dates"
    assert any(r[8] for r in body), "set dates"


def _keys(rows: list[list[str]], column: int) -> set[str]:
    return {r[column] for r in rows}


def test_nsde_snapshots_hold_every_scd2_case() -> None:
    snaps = [_nsde_rows(p)[1][1:] for p in _samples("nsde")]
    k1, k2, k3 = (_keys(s, 1) for s in snaps)
    assert k2 - k1, "inserts"
    assert k3 - k2, "inserts"
    assert k1 - k2, "deletes"
    assert k2 - k3, "deletes"
    assert (k1 - k2) & k3, "a key deleted in 2 comes back in 3"
    assert len(k1 - k2) < 0.5 * len(k1)
    assert len(k2 - k3) < 0.5 * len(k2)
    by_key_1 = {r[1]: r for r in snaps[0]}
    assert any(by_key_1[r[1]] != r for r in snaps[1] if r[1] in by_key_1), "updates"
    second = [tuple(r) for r in snaps[1]]
    assert len(second) - len(set(second)) == 1, "one exact duplicate row"
    assert len(set(second)) - len(k2) == 1, "one key twice with different values"
    for snap in (snaps[0], snaps[2]):
        assert len(snap) == len(_keys(snap, 1))


def test_rxnorm_shape_matches_the_real_file() -> None:
    path = _samples("rxnorm")[0]
    assert path.name == "RxNorm_full_prescribe_09082026.zip"
    with zipfile.ZipFile(path) as archive:
        names = archive.namelist()
        assert {"rrf/RXNCONSO.RRF", "rrf/RXNSAT.RRF", "rrf/RXNREL.RRF"} <= set(names)
        assert any(n.startswith("Readme") for n in names)
        widths = {"rrf/RXNCONSO.RRF": 19, "rrf/RXNSAT.RRF": 14, "rrf/RXNREL.RRF": 17}
        for member, width in widths.items():
            lines = archive.read(member).decode("utf-8").splitlines()
            assert lines
            assert all(line.endswith("|") for line in lines)
            assert {len(line.split("|")) for line in lines} == {width}, member
    rows = _conso(path)
    real_line = "38|ENG||||||829|829|38||RXNORM|BN|38|Parlodel||N|4096|"
    assert real_line.split("|") in rows
    assert not rows[0][0].isalpha(), "no header"


def test_rxnorm_snapshots_hold_every_scd2_case_with_unique_rxaui() -> None:
    snaps = [_conso(p) for p in _samples("rxnorm")]
    for snap in snaps:
        assert len(snap) == len(_keys(snap, 7)), "RXAUI is unique (on_duplicate_key: fail)"
    k1, k2, k3 = (_keys(s, 7) for s in snaps)
    assert k2 - k1, "inserts"
    assert k3 - k2, "inserts"
    assert k1 - k2, "deletes"
    assert k2 - k3, "deletes"
    assert (k1 - k2) & k3, "re-insert"
    assert len(k1 - k2) < 0.5 * len(k1)
    assert len(k2 - k3) < 0.5 * len(k2)
    by_key = {r[7]: r for r in snaps[0]}
    assert any(by_key[r[7]] != r for r in snaps[1] if r[7] in by_key), "updates"
