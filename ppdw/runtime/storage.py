"""Parquet to and from S3 through the boto3 S3 client, never pyarrow's S3 filesystem.

Rule: every byte goes through the injected S3 client, because on the `local` target S3 is
moto patched into botocore inside this process (pyarrow's own S3 client would not see it).
Files are written whole into memory and uploaded in one call; a large table is split into
a few parts encoded in parallel (pyarrow releases the GIL while it compresses). Reads fetch
only what they need: the footer for row counts, single columns through ranged GETs.
"""

from __future__ import annotations

import io
import os
from collections.abc import Sequence
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass
from typing import Any

import pyarrow as pa
import pyarrow.compute as pc
import pyarrow.parquet as pq

from ppdw.aws import objects, streams
from ppdw.runtime.schema import IS_CURRENT

PARQUET_SUFFIX = ".parquet"
PART_FILE = "part-00000.parquet"
#: A folder's table is split into parts of at least this many rows, at most MAX_PARTS of
#: them: the split depends on the row count alone (the same table gives the same files on
#: any machine), and a part is large enough to keep parquet's row groups efficient.
PART_MIN_ROWS = 400_000
MAX_PARTS = 8


@dataclass(frozen=True)
class Written:
    """One parquet object written: where, how many rows, how many bytes."""

    key: str
    rows: int
    bytes: int
    #: Parquet objects written (a folder's table may be split into parts).
    files: int = 1


def to_parquet_bytes(table: pa.Table) -> bytes:
    """ZSTD, millisecond timestamps (Athena reads ns wrong); never silently truncates."""
    buffer = io.BytesIO()
    pq.write_table(
        table,
        buffer,
        compression="zstd",
        coerce_timestamps="ms",
        allow_truncated_timestamps=False,
        use_dictionary=dictionary_columns(table),
    )
    return buffer.getvalue()


#: Rows looked at to judge a column's repetition, and the distinct share that counts as
#: repetitive (parquet's dictionary pays off; above it the writer would build a dictionary
#: only to throw it away at its 1 MB page limit).
_SAMPLE_ROWS = 16_384
_DICTIONARY_SHARE = 0.5


def dictionary_columns(table: pa.Table) -> list[str]:
    """Columns worth dictionary encoding: repetitive in a sample of the first rows.

    Encoding only: the values read back are the same either way."""
    sample = table.slice(0, _SAMPLE_ROWS)
    limit = max(1, int(sample.num_rows * _DICTIONARY_SHARE))
    chosen = []
    for field in table.schema:
        if pa.types.is_boolean(field.type) or pa.types.is_nested(field.type):
            continue
        if pc.count_distinct(sample.column(field.name)).as_py() <= limit:
            chosen.append(field.name)
    return chosen


PARQUET_CONTENT_TYPE = "application/vnd.apache.parquet"


def write_parquet(s3: Any, bucket: str, key: str, table: pa.Table) -> Written:
    body = to_parquet_bytes(table)
    objects.put_bytes(s3, bucket, key, body, PARQUET_CONTENT_TYPE)
    return Written(key=key, rows=table.num_rows, bytes=len(body))


#: Listing and deleting are the shared object helpers (batched, errors raised).
list_keys = objects.list_keys
delete_keys = objects.delete_keys


def parquet_keys(s3: Any, bucket: str, prefix: str) -> list[str]:
    return sorted(k for k in list_keys(s3, bucket, prefix) if k.endswith(PARQUET_SUFFIX))


#: Parquet is read by ranged GETs: a footer, then only the column chunks asked for, so
#: counting rows or reading `is_current` costs a few small GETs, not the whole object.
PARQUET_BLOCK_BYTES = 1024 * 1024


def open_parquet(s3: Any, bucket: str, key: str, dictionary: Sequence[str] = ()) -> pq.ParquetFile:
    """A parquet object read by ranged GETs; the `dictionary` columns read encoded."""
    return pq.ParquetFile(
        streams.RangeReader(s3, bucket, key, block_size=PARQUET_BLOCK_BYTES),
        read_dictionary=list(dictionary) or None,
    )


def row_count(s3: Any, bucket: str, key: str) -> int:
    """Rows of one parquet object, from its footer alone."""
    return int(open_parquet(s3, bucket, key).metadata.num_rows)


def current_rows(table: pa.Table) -> int:
    """How many rows of a silver table have `is_current` set."""
    return int(pc.sum(table.column(IS_CURRENT).cast(pa.int64())).as_py() or 0)


def current_count(s3: Any, bucket: str, key: str) -> tuple[int, int]:
    """Rows of one silver parquet object and how many are current (its footer and its
    `is_current` column alone)."""
    parquet = open_parquet(s3, bucket, key)
    return int(parquet.metadata.num_rows), current_rows(parquet.read(columns=[IS_CURRENT]))


def read_parquet(
    s3: Any,
    bucket: str,
    key: str,
    columns: Sequence[str] | None = None,
    dictionary: Sequence[str] = (),
) -> pa.Table:
    """Read one object whole (or only `columns`, by ranged GETs); the `dictionary` columns
    are read dictionary-encoded (a column holding one value a file costs 4 bytes a row)."""
    if columns is not None:
        return open_parquet(s3, bucket, key, dictionary).read(columns=list(columns))
    body = io.BytesIO(objects.read_object(s3, bucket, key))
    return pq.read_table(body, read_dictionary=list(dictionary) or None)


def read_parquet_keys(
    s3: Any,
    bucket: str,
    keys: Sequence[str],
    columns: Sequence[str] | None = None,
    dictionary: Sequence[str] = (),
) -> pa.Table | None:
    """Concatenate several objects; schemas are unified (a newer file may add columns)."""
    tables = [read_parquet(s3, bucket, key, columns, dictionary) for key in keys]
    if not tables:
        return None
    if len(tables) == 1:
        return tables[0]
    return pa.concat_tables(tables, promote_options="default")


def read_parquet_prefix(
    s3: Any,
    bucket: str,
    prefix: str,
    columns: Sequence[str] | None = None,
    dictionary: Sequence[str] = (),
) -> pa.Table | None:
    """Every parquet object under `prefix`, or None when there is none."""
    return read_parquet_keys(s3, bucket, parquet_keys(s3, bucket, prefix), columns, dictionary)


def decoded(table: pa.Table) -> pa.Table:
    """`table` with every dictionary-encoded column as plain values (what files hold)."""
    if not any(pa.types.is_dictionary(field.type) for field in table.schema):
        return table
    fields = [
        field.with_type(field.type.value_type) if pa.types.is_dictionary(field.type) else field
        for field in table.schema
    ]
    return table.cast(pa.schema(fields))


def part_file(index: int) -> str:
    return f"part-{index:05d}{PARQUET_SUFFIX}"


def split_parts(table: pa.Table) -> list[pa.Table]:
    """`table` in consecutive slices of at least PART_MIN_ROWS rows (one when smaller)."""
    parts = max(1, min(MAX_PARTS, table.num_rows // PART_MIN_ROWS))
    step = max(1, -(-table.num_rows // parts))
    return [table.slice(start, step) for start in range(0, max(table.num_rows, 1), step)]


def replace_folder(s3: Any, bucket: str, prefix: str, table: pa.Table) -> Written:
    """Write `table` as `prefix/part-00000.parquet` (and `part-00001`... for a large table),
    then remove any other object in that folder.

    File names depend only on the row count, so a re-run replaces instead of adding a
    duplicate. Parts are encoded in parallel and uploaded in order with `part-00000` last:
    once it exists the folder is complete (the commit relies on it).
    """
    parts = split_parts(table)
    keys = [f"{prefix}{part_file(i)}" for i in range(len(parts))]
    total = 0
    with ThreadPoolExecutor(max_workers=min(len(parts), os.cpu_count() or 1)) as pool:
        bodies = [pool.submit(to_parquet_bytes, part) for part in parts]
        for index in [*range(1, len(parts)), 0]:
            body = bodies[index].result()
            objects.put_bytes(s3, bucket, keys[index], body, PARQUET_CONTENT_TYPE)
            total += len(body)
    written = set(keys)
    stale = [k for k in list_keys(s3, bucket, prefix) if k not in written]
    delete_keys(s3, bucket, stale)
    return Written(key=keys[0], rows=table.num_rows, bytes=total, files=len(keys))


def s3_uri(bucket: str, key: str) -> str:
    return f"s3://{bucket}/{key}"


def key_of(uri: str, bucket: str) -> str:
    """`s3://bucket/a/b/` -> `a/b/` (must be in `bucket`)."""
    head = f"s3://{bucket}/"
    if not uri.startswith(head):
        raise ValueError(f"{uri} is not in bucket {bucket}")
    return uri[len(head) :]
