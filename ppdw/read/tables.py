"""The parquet files of the registered partitions of a catalog table, read into Arrow.

Rule: a table is what the Glue catalog registers: its columns, its partitions and each
partition's location. A partition's files are the objects under its registered location
only, so a superseded silver version folder is never read. Every byte goes through ppdw's
S3 layer (`ppdw.runtime.storage`): on `local` S3 is moto inside this process, on AWS the
target's credentials read it. This module is the one seam between "table X" and its bytes.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from dataclasses import dataclass
from typing import Any, Literal

import pyarrow as pa

from ppdw.runtime import catalog, storage

Layer = Literal["bronze", "silver"]
RowFilter = Callable[[pa.Table], pa.Table]

_GLUE_TYPES: dict[str, pa.DataType] = {
    "string": pa.string(),
    "boolean": pa.bool_(),
    "tinyint": pa.int8(),
    "smallint": pa.int16(),
    "int": pa.int32(),
    "bigint": pa.int64(),
    "float": pa.float32(),
    "double": pa.float64(),
    "date": pa.date32(),
    # Athena reads the warehouse's timestamps as `timestamp` (UTC wall time, no zone):
    # both engines show the same values.
    "timestamp": pa.timestamp("ms"),
    "binary": pa.binary(),
}


def arrow_type(glue_type: str) -> pa.DataType:
    """The Arrow type a catalog column is read as (the inverse of `catalog.glue_type`)."""
    text = glue_type.strip().lower()
    if text.startswith("decimal(") and text.endswith(")"):
        precision, scale = (int(part) for part in text[8:-1].split(","))
        return pa.decimal128(precision, scale)
    return _GLUE_TYPES.get(text, pa.string())


@dataclass(frozen=True)
class RegisteredTable:
    """A catalog table: its columns (data, then the partition key) and its partitions."""

    layer: Layer
    database: str
    name: str
    columns: tuple[tuple[str, str], ...]  # (name, Glue type), data columns only
    partition_key: str
    partitions: tuple[tuple[str, str], ...]  # (value, s3:// location), in value order

    @property
    def qualified(self) -> str:
        return f"{self.database}.{self.name}"

    @property
    def schema(self) -> pa.Schema:
        fields = [pa.field(name, arrow_type(kind)) for name, kind in self.columns]
        return pa.schema([*fields, pa.field(self.partition_key, pa.string())])


def registered_table(glue: Any, database: str, name: str, layer: Layer) -> RegisteredTable | None:
    """The table as the catalog registers it, or None when it does not exist."""
    table = catalog.get_table(glue, database, name)
    if table is None:
        return None
    columns = tuple(
        (str(c["Name"]), str(c["Type"]))
        for c in table.get("StorageDescriptor", {}).get("Columns", [])
    )
    keys = table.get("PartitionKeys") or [{"Name": "partition"}]
    locations = catalog.partition_locations(glue, database, name)
    return RegisteredTable(
        layer=layer,
        database=database,
        name=name,
        columns=columns,
        partition_key=str(keys[0]["Name"]),
        partitions=tuple(sorted(locations.items())),
    )


def partition_files(s3: Any, bucket: str, table: RegisteredTable) -> list[tuple[str, list[str]]]:
    """(partition value, parquet object keys under its registered location) per partition."""
    out = []
    for value, location in table.partitions:
        prefix = storage.key_of(location, bucket)
        prefix = prefix if prefix.endswith("/") else prefix + "/"
        out.append((value, storage.parquet_keys(s3, bucket, prefix)))
    return out


def read_table(
    s3: Any,
    bucket: str,
    table: RegisteredTable,
    *,
    columns: Sequence[str] | None = None,
    rows: RowFilter | None = None,
) -> pa.Table:
    """Every registered partition's rows, typed as the catalog says (Athena's view).

    `columns` limits what is read (only those column chunks are fetched); `rows` filters
    each file as it is read, so only matching rows are held. Columns a file lacks (added
    by a later run) are null, like Athena reads them.
    """
    schema = table.schema
    if columns is not None:
        schema = pa.schema([schema.field(name) for name in columns])
    parts = [
        _read_file(s3, bucket, key, schema, table.partition_key, value, rows)
        for value, keys in partition_files(s3, bucket, table)
        for key in keys
    ]
    if not parts:
        return schema.empty_table()
    return pa.concat_tables(parts)


def _read_file(
    s3: Any,
    bucket: str,
    key: str,
    schema: pa.Schema,
    partition_key: str,
    value: str,
    rows: RowFilter | None,
) -> pa.Table:
    wanted = [name for name in schema.names if name != partition_key]
    parquet = storage.open_parquet(s3, bucket, key)
    present = [name for name in wanted if name in parquet.schema_arrow.names]
    data = parquet.read(columns=present)
    data = data.append_column(partition_key, pa.array([value] * data.num_rows, pa.string()))
    data = _conform(data, schema)
    return rows(data) if rows is not None else data


def _conform(data: pa.Table, schema: pa.Schema) -> pa.Table:
    arrays = []
    for field in schema:
        if field.name in data.column_names:
            arrays.append(data.column(field.name).cast(field.type))
        else:
            arrays.append(pa.nulls(data.num_rows, field.type))
    return pa.Table.from_arrays(arrays, schema=schema)
