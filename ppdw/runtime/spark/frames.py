"""Arrow tables <-> the rows Spark shuffles: column types and names on the way in and out.

Rule: the engine's tables keep the Arrow engine's exact types (`schema.py`). Spark carries
them as its own types and hands them back to tasks as Arrow again: timestamps travel as
microseconds (Spark's unit) and come back to milliseconds exactly (every warehouse
timestamp is whole milliseconds), everything else keeps its Arrow type. Columns travel
under positional names (`{group}{index}`), so several tables of different schemas can
share one row layout without any name clash.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

import pyarrow as pa

from ppdw.runtime.schema import conform

if TYPE_CHECKING:
    from pyspark.sql.types import DataType, StructType


def wire_type(kind: pa.DataType) -> pa.DataType:
    """How Spark hands `kind` to a task (and expects it back)."""
    if pa.types.is_timestamp(kind):
        return pa.timestamp("us", tz="UTC")
    if pa.types.is_large_string(kind):
        return pa.string()
    return kind


def spark_type(kind: pa.DataType) -> DataType:
    from pyspark.sql import types as T

    if pa.types.is_string(kind) or pa.types.is_large_string(kind):
        return T.StringType()
    if pa.types.is_boolean(kind):
        return T.BooleanType()
    if pa.types.is_int8(kind):
        return T.ByteType()
    if pa.types.is_int16(kind):
        return T.ShortType()
    if pa.types.is_int32(kind):
        return T.IntegerType()
    if pa.types.is_integer(kind):
        return T.LongType()
    if pa.types.is_float32(kind):
        return T.FloatType()
    if pa.types.is_floating(kind):
        return T.DoubleType()
    if pa.types.is_decimal(kind):
        return T.DecimalType(kind.precision, kind.scale)
    if pa.types.is_date(kind):
        return T.DateType()
    if pa.types.is_timestamp(kind):
        return T.TimestampType()
    if pa.types.is_binary(kind) or pa.types.is_large_binary(kind):
        return T.BinaryType()
    raise TypeError(f"the spark engine cannot carry a column of type {kind}")


def names(group: str, schema: pa.Schema) -> list[str]:
    return [f"{group}{index}" for index in range(len(schema))]


def fields(group: str, schema: pa.Schema) -> list[pa.Field]:
    """The wire fields of `schema` under the group's positional names."""
    return [
        pa.field(name, wire_type(item.type))
        for name, item in zip(names(group, schema), schema, strict=True)
    ]


def struct(arrow: pa.Schema) -> StructType:
    from pyspark.sql import types as T

    return T.StructType([T.StructField(f.name, spark_type(f.type), True) for f in arrow])


def to_wire(table: pa.Table, group: str, schema: pa.Schema) -> list[pa.Array]:
    """`table`'s columns conformed to `schema`, as the group's wire columns."""
    conformed = conform(table, schema)
    return [
        column.combine_chunks().cast(wire_type(item.type))
        for column, item in zip(conformed.columns, schema, strict=True)
    ]


def nulls(group: str, schema: pa.Schema, rows: int) -> list[pa.Array]:
    return [pa.nulls(rows, f.type) for f in fields(group, schema)]


def from_wire(table: pa.Table, group: str, schema: pa.Schema) -> pa.Table:
    """The group's columns of `table` back under `schema`'s names and exact types."""
    columns: list[Any] = []
    for name, item in zip(names(group, schema), schema, strict=True):
        columns.append(table.column(name).cast(item.type))
    return pa.Table.from_arrays(columns, schema=schema)


def empty_like(schema: pa.Schema) -> pa.Table:
    return schema.empty_table()


def collect(frame: Any) -> pa.Table:
    """A DataFrame's rows on the driver as one Arrow table, types exact (no pandas).

    Each task sends its rows as one Arrow IPC stream."""
    from pyspark.sql import types as T

    arrow_schema = pa.schema([pa.field(f.name, _arrow_of(f.dataType)) for f in frame.schema.fields])

    def pack(batches: Any) -> Any:
        sink = pa.BufferOutputStream()
        with pa.ipc.new_stream(sink, arrow_schema) as writer:
            for batch in batches:
                writer.write_batch(batch)
        yield pa.RecordBatch.from_pylist(
            [{"blob": sink.getvalue().to_pybytes()}], schema=pa.schema([("blob", pa.binary())])
        )

    blobs = frame.mapInArrow(pack, T.StructType([T.StructField("blob", T.BinaryType())]))
    tables = [pa.ipc.open_stream(pa.py_buffer(row["blob"])).read_all() for row in blobs.collect()]
    if not tables:
        return arrow_schema.empty_table()
    return pa.concat_tables(tables)


def _arrow_of(kind: DataType) -> pa.DataType:
    from pyspark.sql.pandas.types import to_arrow_type

    return to_arrow_type(kind)
