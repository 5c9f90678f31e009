"""The record hash's golden test, on Spark: rows shuffled by Spark, hashed in its tasks."""

from __future__ import annotations

from collections.abc import Iterable, Iterator
from typing import Any

import pyarrow as pa

from ppdw.runtime.hashing import canonical_text, record_hash
from ppdw.runtime.spark import frames
from tests.unit.test_hashing import GOLDEN_HASH, GOLDEN_TEXT, golden_rows


def test_golden_record_hash_holds_on_spark(spark: Any) -> None:
    table = golden_rows()
    schema = table.schema
    rows = table.append_column("row", pa.array(range(table.num_rows), pa.int64()))
    full = rows.schema
    layout = pa.schema([*frames.fields("g", full)])

    def emit(batches: Iterable[pa.RecordBatch]) -> Iterator[pa.RecordBatch]:
        for _ in batches:
            yield from pa.Table.from_arrays(
                frames.to_wire(rows, "g", full), schema=layout
            ).to_batches()

    def hash_rows(batches: Iterable[pa.RecordBatch]) -> Iterator[pa.RecordBatch]:
        got = [b for b in batches if b.num_rows]
        if not got:
            return
        back = frames.from_wire(pa.Table.from_batches(got), "g", full)
        values = back.select(schema.names)
        yield pa.RecordBatch.from_arrays(
            [
                back.column("row").combine_chunks(),
                canonical_text(values, schema.names).combine_chunks(),
                record_hash(values, schema.names),
            ],
            names=["row", "text", "hash"],
        )

    seed = spark.sparkContext.parallelize([(0,)], 1).toDF("i INT")
    spread = seed.mapInArrow(emit, frames.struct(layout)).repartition(3, "g7")
    out = spread.mapInArrow(hash_rows, "row BIGINT, text STRING, hash STRING")
    result = frames.collect(out).sort_by("row")
    assert result.column("text").to_pylist() == GOLDEN_TEXT
    assert result.column("hash").to_pylist() == GOLDEN_HASH
