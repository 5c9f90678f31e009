"""`ppdw query` and `ppdw show`: SQL over the catalog's tables on DuckDB or Athena.

Tables are named as in the Glue catalog (`pp_dw_silver.nsde`), so one SQL text runs on
both engines. DuckDB gets the tables the SQL names (and only those) read from their
registered partitions; Athena reads the catalog itself. `--as-of` filters each silver
(and bronze) table to what was live at that time: views on DuckDB, subqueries on Athena.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from typing import Literal

from ppdw.errors import UsageError
from ppdw.read import asof, duck, sqlrefs
from ppdw.read.asof import AsOf, quote
from ppdw.read.result import QueryResult
from ppdw.read.service import LAYERS, Reader
from ppdw.read.tables import Layer
from ppdw.runtime.schema import tracked_columns

Engine = Literal["duckdb", "athena"]


@dataclass(frozen=True)
class QueryRequest:
    sql: str
    engine: Engine | None = None  # None: DuckDB on local, Athena on AWS targets
    as_of: str | None = None
    limit: int | None = None


def default_engine(reader: Reader) -> Engine:
    return "athena" if reader.target.athena else "duckdb"


def _layers(reader: Reader) -> dict[str, Layer]:
    return {reader.database(layer): layer for layer in LAYERS}


def referenced(reader: Reader, sql: str) -> list[sqlrefs.TableRef]:
    """The catalog tables the SQL names; exit 2 naming the tables there are if one is not."""
    refs = sqlrefs.table_refs(sql, set(_layers(reader)))
    if not refs:
        raise UsageError(
            "the query names no warehouse table",
            f"tables: {', '.join(reader.registered_names()) or 'none yet (run a pipeline)'}",
        )
    for ref in refs:
        layer = _layers(reader)[ref.database]
        if ref.table not in reader.project.datasets or reader.table(ref.table, layer) is None:
            raise UsageError(
                f"no table {ref.database}.{ref.table} in the catalog",
                f"tables: {', '.join(reader.registered_names()) or 'none yet (run a pipeline)'}",
            )
    return refs


def resolve_as_of(reader: Reader, text: str, datasets: Sequence[str]) -> AsOf:
    """A run id of one of the datasets the SQL reads, or an ISO-8601 time."""
    times = {}
    for dataset in datasets:
        times.update(reader.run_times(dataset))
    return asof.resolve(text, times, " or ".join(datasets))


def query(reader: Reader, request: QueryRequest) -> tuple[QueryResult, AsOf | None]:
    refs = referenced(reader, request.sql)
    datasets = sorted({ref.table for ref in refs})
    moment = resolve_as_of(reader, request.as_of, datasets) if request.as_of else None
    engine = request.engine or default_engine(reader)
    if engine == "athena":
        return _athena(reader, request, refs, moment), moment
    layers = _layers(reader)
    tables = {}
    for ref in refs:
        layer = layers[ref.database]
        registered = reader.table(ref.table, layer)
        if registered is not None and (ref.database, ref.table) not in tables:
            tables[(ref.database, ref.table)] = (layer, reader.read(registered))
    result = duck.run(
        request.sql,
        tables,
        moment=None if moment is None else moment.moment,
        limit=request.limit,
        known=lambda: ", ".join(reader.registered_names()),
    )
    return result, moment


def _athena(
    reader: Reader, request: QueryRequest, refs: list[sqlrefs.TableRef], moment: AsOf | None
) -> QueryResult:
    from ppdw.aws.athena import Athena
    from ppdw.read import athena

    if reader.target.kind == "local":
        raise UsageError(
            "the local target has no Athena (moto runs no SQL)",
            "use --engine duckdb (the default here), or --target aws",
        )
    if not reader.target.athena:
        raise UsageError(
            f"target {reader.target.name!r} has no Athena "
            "('athena': false in config/warehouse.json)",
            "use --engine duckdb (the default here)",
        )
    sql = request.sql
    if moment is not None:
        sql = as_of_sql(reader, sql, refs, moment)
    client = Athena(reader.target.aws, reader.target.account_id, reader.target.region)
    return athena.run(
        client, sql, reader.project.warehouse.prefix, limit=request.limit, sleep=reader.sleep
    )


def as_of_sql(reader: Reader, sql: str, refs: list[sqlrefs.TableRef], moment: AsOf) -> str:
    """The SQL with each table reference filtered to `moment` (engines without views)."""
    layers = _layers(reader)

    def replace(ref: sqlrefs.TableRef) -> str | None:
        source = sqlrefs.qualified(ref.database, ref.table)
        return asof.view_sql(layers[ref.database], source, moment.moment)

    return sqlrefs.rewrite(sql, refs, replace)


# ---------------------------------------------------------------------------- show


@dataclass(frozen=True)
class ShowRequest:
    dataset: str
    as_of: str | None = None
    where: str | None = None
    columns: tuple[str, ...] = ()
    limit: int | None = None
    engine: Engine | None = None


def show_columns(reader: Reader, dataset: str, asked: Sequence[str]) -> list[str]:
    """Asked columns (checked), or the key and tracked columns."""
    table = reader.require_silver(dataset)
    available = list(table.schema.names)
    if asked:
        unknown = [c for c in asked if c not in available]
        if unknown:
            raise UsageError(
                f"--columns: {', '.join(unknown)} not in {table.qualified}",
                "columns: " + ", ".join(available),
            )
        return list(asked)
    keys = list(reader.project.dataset(dataset).business_key)
    return keys + tracked_columns(table.schema, keys)


def show(reader: Reader, request: ShowRequest) -> tuple[QueryResult, AsOf]:
    """Silver of a dataset as of a time (default: the last applied run), ordered by key."""
    moment = reader.as_of(request.dataset, request.as_of)
    columns = show_columns(reader, request.dataset, request.columns)
    keys = list(reader.project.dataset(request.dataset).business_key)
    table = f"{reader.database('silver')}.{reader.names(request.dataset).table}"
    sql = f"SELECT {', '.join(quote(c) for c in columns)} FROM {table}"
    if request.where:
        sql += f" WHERE ({request.where})"
    sql += " ORDER BY " + ", ".join(quote(k) for k in keys)
    # The moment is already resolved: pass it as a time so a run id is not looked up twice.
    result, _ = query(
        reader,
        QueryRequest(sql, request.engine, moment.text, request.limit),
    )
    return result, moment
