"""Table references in SQL and the as-of rewrite Athena gets, checked by running the
rewritten SQL on DuckDB over a small silver table with a known history."""

from __future__ import annotations

from datetime import UTC, datetime

import duckdb
import pyarrow as pa
import pytest

from ppdw.errors import UsageError
from ppdw.read import asof, sqlrefs

DBS = {"pp_dw_silver", "pp_dw_bronze"}
OPEN = datetime(9999, 12, 31)
T1, T2, T3 = (datetime(2026, 11, d, 6) for d in (1, 2, 3))


def refs(sql: str) -> list[tuple[str, str, bool]]:
    return [(r.database, r.table, r.aliased) for r in sqlrefs.table_refs(sql, DBS)]


@pytest.mark.parametrize(
    ("sql", "expected"),
    [
        ("SELECT * FROM pp_dw_silver.nsde", [("pp_dw_silver", "nsde", False)]),
        ("select * from PP_DW_SILVER.nsde s where 1=1", [("pp_dw_silver", "nsde", True)]),
        ('SELECT * FROM "pp_dw_silver"."nsde" AS x', [("pp_dw_silver", "nsde", True)]),
        ("SELECT * FROM awsdatacatalog.pp_dw_silver.nsde", [("pp_dw_silver", "nsde", False)]),
        (
            "SELECT * FROM pp_dw_silver.nsde JOIN pp_dw_bronze.nsde b ON true",
            [("pp_dw_silver", "nsde", False), ("pp_dw_bronze", "nsde", True)],
        ),
        ("SELECT 'pp_dw_silver.nsde' FROM t -- pp_dw_silver.nsde", []),
        ("SELECT pp_dw_silver.nsde.ndc11 FROM t /* pp_dw_bronze.x */", []),
        ("SELECT * FROM other_db.nsde", []),
    ],
)
def test_table_references(sql: str, expected: list[tuple[str, str, bool]]) -> None:
    assert refs(sql) == expected


def silver() -> pa.Table:
    """Key a: inserted T1, updated T2. Key b: inserted T1, deleted T2 (tombstone), back T3."""
    rows = [
        ("a", "x", T1, T2, False, "INSERT"),
        ("a", "y", T2, OPEN, True, "UPDATE"),
        ("b", "p", T1, T2, False, "INSERT"),
        ("b", "p", T2, T2, False, "DELETE"),
        ("b", "q", T3, OPEN, True, "INSERT"),
    ]
    names = ["k", "v", "record_effective_date", "record_end_date", "is_current", "change_type"]
    columns = list(zip(*rows, strict=True))
    table = pa.table(dict(zip(names, columns, strict=True)))
    return table.set_column(2, "record_effective_date", table.column(2).cast(pa.timestamp("ms")))


def run_on_duckdb(sql: str) -> list[tuple[object, ...]]:
    con = duckdb.connect()
    con.register("raw", silver())
    con.execute("CREATE SCHEMA pp_dw_silver")
    con.execute("CREATE VIEW pp_dw_silver.nsde AS SELECT * FROM raw")
    return sorted(con.sql(sql).fetchall())


@pytest.mark.parametrize(
    ("moment", "expected"),
    [
        (datetime(2026, 10, 1, tzinfo=UTC), []),
        (T1.replace(tzinfo=UTC), [("a", "x"), ("b", "p")]),
        (T2.replace(tzinfo=UTC), [("a", "y")]),  # b's tombstone is not a live version
        (datetime(2026, 11, 2, 12, tzinfo=UTC), [("a", "y")]),
        (T3.replace(tzinfo=UTC), [("a", "y"), ("b", "q")]),
    ],
)
def test_athena_as_of_rewrite_selects_the_versions_live_at_t(
    moment: datetime, expected: list[tuple[str, str]]
) -> None:
    for sql in (
        "SELECT k, v FROM pp_dw_silver.nsde",
        "SELECT s.k, s.v FROM pp_dw_silver.nsde s",
        'SELECT nsde.k, nsde.v FROM "pp_dw_silver"."nsde" WHERE 1 = 1',
    ):
        found = sqlrefs.table_refs(sql, DBS)
        rewritten = sqlrefs.rewrite(
            sql,
            found,
            lambda r: asof.view_sql("silver", sqlrefs.qualified(r.database, r.table), moment),
        )
        assert run_on_duckdb(rewritten) == expected, rewritten


def test_arrow_as_of_filter_agrees_with_the_sql_one() -> None:
    table = silver()
    for day in (1, 2, 3):
        moment = datetime(2026, 11, day, 6, tzinfo=UTC)
        live = asof.silver_as_of(table, moment)
        assert sorted(zip(live["k"].to_pylist(), live["v"].to_pylist(), strict=True)) == (
            run_on_duckdb(
                "SELECT k, v FROM (" + asof.silver_view_sql("pp_dw_silver.nsde", moment) + ")"
            )
        )


def test_as_of_resolves_a_run_id_or_a_time_and_refuses_anything_else() -> None:
    times = {"nsde-20261102-060000": T2.replace(tzinfo=UTC)}
    assert asof.resolve("nsde-20261102-060000", times, "nsde").moment == T2.replace(tzinfo=UTC)
    assert asof.resolve("2026-11-02T07:00:00", times, "nsde").moment == datetime(
        2026, 11, 2, 7, tzinfo=UTC
    )
    assert asof.resolve("2026-11-02T08:00:00+02:00", times, "nsde").moment.hour == 6
    with pytest.raises(UsageError, match="neither a run of nsde") as info:
        asof.resolve("nsde-2026", times, "nsde")
    assert "nsde-20261102-060000" in str(info.value.hint)
