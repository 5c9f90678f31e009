"""Reading the warehouse after several runs equals what the snapshots themselves imply.

The expected states come from the snapshot files alone (csv + zipfile + datetime, the
oracle helpers of `pipeline_support`), never from ppdw's reading code: silver as of each
run is that run's snapshot; each run's diff is the difference of two consecutive
snapshots; a key's history is the sequence of its distinct values across snapshots. Runs
are the bundled samples and generated histories (deletes, re-inserts, field updates).
"""

from __future__ import annotations

import csv
import io
import random
import zipfile
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import pyarrow as pa
import pytest

from ppdw.config.loader import Project
from ppdw.read import duck
from ppdw.read.query import QueryRequest, ShowRequest, as_of_sql, query, referenced, show
from ppdw.read.service import Reader
from ppdw.targets import TargetContext
from tests.functional import pipeline_support as sup

pytestmark = pytest.mark.usefixtures("moto_aws")
MEMBER = "Comprehensive_NDC_SPL_Data_Elements_File.csv"
State = dict[str, dict[str, Any]]


# ------------------------------------------------------------------------- snapshots


def read_rows(path: Path) -> tuple[list[str], list[list[str]]]:
    with zipfile.ZipFile(path) as archive:
        text = archive.read(archive.namelist()[0]).decode("utf-8-sig")
    rows = list(csv.reader(io.StringIO(text, newline="")))
    return rows[0], rows[1:]


def write_snapshot(path: Path, header: list[str], rows: list[list[str]]) -> Path:
    buffer = io.StringIO()
    csv.writer(buffer, lineterminator="\r\n").writerows([header, *rows])
    path.parent.mkdir(parents=True, exist_ok=True)
    with zipfile.ZipFile(path, "w", zipfile.ZIP_DEFLATED) as archive:
        archive.writestr(MEMBER, "\ufeff" + buffer.getvalue())
    return path


def generated_snapshots(project: Project, folder: Path, runs: int, seed: int) -> list[Path]:
    """Snapshots that delete keys, bring deleted keys back, add keys and change fields."""
    sample = project.dataset_dir("nsde") / project.dataset("nsde").source.samples[0]
    header, rows = read_rows(sample)
    key = header.index("NDC11")
    rng = random.Random(seed)
    live = {row[key]: row for row in rows}
    gone: dict[str, list[str]] = {}
    paths = [write_snapshot(folder / "0.zip", header, list(live.values()))]
    for index in range(1, runs):
        for ndc in rng.sample(sorted(live), 12):  # deletes
            gone[ndc] = live.pop(ndc)
        for ndc in rng.sample(sorted(gone), min(4, len(gone))):  # re-inserts
            if ndc not in live:
                live[ndc] = gone.pop(ndc)
        for ndc in rng.sample(sorted(live), 15):  # updates of one or two fields
            row = list(live[ndc])
            row[header.index("Proprietary Name")] += f" V{index}"
            if rng.random() < 0.5:
                row[header.index("Marketing End Date")] = f"2030{rng.randint(1, 12):02d}15"
            live[ndc] = row
        for number in range(8):  # new keys
            ndc = f"9{index:02d}{number:08d}"
            live[ndc] = [*rows[0][:key], ndc, *rows[0][key + 1 :]]
        paths.append(write_snapshot(folder / f"{index}.zip", header, list(live.values())))
    return paths


def snapshot_state(path: Path, project: Project) -> State:
    """key -> tracked values, from the file alone (the oracle's typing rules)."""
    dataset = project.dataset("nsde")
    header, rows = read_rows(path)
    names = [sup._norm(c) for c in header]
    state: State = {}
    for line in rows:
        row = {n: sup._value(n, v, dataset.date_format) for n, v in zip(names, line, strict=True)}
        if row["ndc11"] is not None:
            state[row["ndc11"]] = {n: v for n, v in row.items() if n != "ndc11"}
    return state


def as_state(table: pa.Table) -> State:
    return {row.pop("ndc11"): row for row in table.to_pylist()}


# ------------------------------------------------------------------------------ runs


@pytest.fixture(params=["samples", "generated"])
def history(
    request: pytest.FixtureRequest, loaded: Project, target: TargetContext, tmp_path: Path
) -> tuple[list[str], list[State]]:
    """Run each snapshot in order; returns the run ids and the expected state of each."""
    if request.param == "samples":
        directory = loaded.dataset_dir("nsde")
        paths = [directory / s for s in loaded.dataset("nsde").source.samples]
    else:
        paths = generated_snapshots(loaded, tmp_path / "snapshots", runs=5, seed=12)
    start = datetime(2026, 11, 1, 6, tzinfo=UTC)
    run_ids = []
    for index, path in enumerate(paths):
        moment = start + timedelta(days=index, hours=index)
        run_id = f"nsde-{moment:%Y%m%d-%H%M%S}"
        record = sup.run(
            target, loaded, "nsde", 0, source=str(path), run_time=moment, run_id=run_id
        )
        assert record["status"] == "succeeded", record.get("error")
        run_ids.append(run_id)
    return run_ids, [snapshot_state(p, loaded) for p in paths]


def test_query_and_show_as_of_each_run_equal_its_snapshot(
    history: tuple[list[str], list[State]], loaded: Project, target: TargetContext
) -> None:
    run_ids, states = history
    reader = Reader(target, loaded)
    sql = "SELECT * FROM pp_dw_silver.nsde"
    for run_id, expected in zip(run_ids, states, strict=True):
        counted, _ = query(
            reader, QueryRequest("SELECT count(*) AS n FROM pp_dw_silver.nsde", "duckdb", run_id)
        )
        assert counted.table.to_pylist() == [{"n": len(expected)}]
        shown, moment = show(reader, ShowRequest("nsde", as_of=run_id, engine="duckdb"))
        assert moment.run_id == run_id
        assert as_state(shown.table) == expected
        # The SQL Athena would get (as-of subqueries), evaluated on DuckDB over all versions.
        refs = referenced(reader, sql)
        rewritten = as_of_sql(reader, sql, refs, moment)
        tables = {("pp_dw_silver", "nsde"): ("silver", reader.read(reader.require_silver("nsde")))}
        athena_sql = duck.run(rewritten, tables)
        keys = ["ndc11", *sorted(expected[next(iter(expected))])]
        assert as_state(athena_sql.table.select(keys)) == expected


def test_diff_of_each_run_equals_the_snapshot_difference(
    history: tuple[list[str], list[State]], loaded: Project, target: TargetContext
) -> None:
    run_ids, states = history
    reader = Reader(target, loaded)
    before: State = {}
    for run_id, after in zip(run_ids, states, strict=True):
        diff = reader.diff("nsde", run_id, None)["diff"]
        assert {c.key[0] for c in diff.inserted} == set(after) - set(before)
        assert {c.key[0] for c in diff.deleted} == set(before) - set(after)
        expected_updates = {
            k: {f: (before[k][f], after[k][f]) for f in after[k] if before[k][f] != after[k][f]}
            for k in set(before) & set(after)
            if before[k] != after[k]
        }
        assert {
            c.key[0]: {x.field: (x.old, x.new) for x in c.changed} for c in diff.updated
        } == expected_updates
        before = after
    # --from compares any two runs' states
    first, last = run_ids[0], run_ids[-1]
    across = reader.diff("nsde", last, first)["diff"]
    assert across.counts["INSERT"] == len(set(states[-1]) - set(states[0]))
    assert across.counts["DELETE"] == len(set(states[0]) - set(states[-1]))


def expected_history(key: str, run_ids: list[str], states: list[State]) -> list[tuple[Any, ...]]:
    versions: list[tuple[Any, ...]] = []
    live: dict[str, Any] | None = None
    for run_id, state in zip(run_ids, states, strict=True):
        now = state.get(key)
        if now is None and live is not None:
            versions.append((run_id, "DELETE", live))
        elif now is not None and live is None:
            versions.append((run_id, "INSERT", now))
        elif now is not None and now != live:
            versions.append((run_id, "UPDATE", now))
        live = now
    return versions


def test_history_of_keys_equals_their_values_across_snapshots(
    history: tuple[list[str], list[State]], loaded: Project, target: TargetContext
) -> None:
    run_ids, states = history
    every = sorted(set().union(*states))
    kinds = {k: [c for _, c, _ in expected_history(k, run_ids, states)] for k in every}
    back = [k for k in every if "DELETE" in kinds[k] and kinds[k][-1] == "INSERT"]
    updated = [k for k in every if "UPDATE" in kinds[k]]
    deleted = [k for k in every if kinds[k][-1:] == ["DELETE"]]
    steady = [k for k in every if kinds[k] == ["INSERT"]]
    chosen = back[:2] + updated[:3] + deleted[:2] + steady[:1]
    assert updated
    assert deleted
    assert steady
    if len(run_ids) > 3:
        assert back, "the generated history brings a deleted key back"
    found = Reader(target, loaded).history("nsde", chosen)
    for item in found:
        (key,) = item.key
        got = [(v.run_id, v.change_type, v.values) for v in item.versions]
        assert got == expected_history(key, run_ids, states), key
        for previous, version in zip(item.versions, item.versions[1:], strict=False):
            if version.change_type == "UPDATE":
                assert {c.field for c in version.changed} == {
                    f for f in version.values if version.values[f] != previous.values[f]
                }


def test_a_folder_the_catalog_does_not_point_at_is_never_read(
    loaded: Project, target: TargetContext
) -> None:
    """A superseded version folder left behind (a run killed before its clean-up) holds
    other rows; readers still see only the registered partition."""
    sup.run(target, loaded, "nsde", 0)
    s3 = target.aws.client("s3")
    (key,) = sup.keys_under(s3, "silver/silver_nsde/")
    body = s3.get_object(Bucket=sup.BUCKET, Key=key)["Body"].read()
    stale = (
        "silver/silver_nsde/effective_year_month=2026-11/nsde-20261031-060000/part-00000.parquet"
    )
    s3.put_object(Bucket=sup.BUCKET, Key=stale, Body=body)
    s3.put_object(Bucket=sup.BUCKET, Key=stale.replace("2026-11/", "2026-10/"), Body=body)

    reader = Reader(target, loaded)
    counted, _ = query(
        reader, QueryRequest("SELECT count(*) AS n FROM pp_dw_silver.nsde", "duckdb")
    )
    assert counted.table.to_pylist() == [{"n": len(sup.read_snapshot(loaded, "nsde", 0).records)}]
