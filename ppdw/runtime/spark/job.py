"""The bronze and silver steps of a job on the Spark engine: the twin of `layers.py`.

Rule: only the computation differs from the Arrow engine. What is read (raw members from
raw's manifest, the registered silver partitions), where files go (the bronze partition
folder, the run-named silver version folders, the rejects folder), the catalog (table
creation, partition registration, the commit that points partitions at the new folders)
and the run record are `layers.py`'s and `commit.py`'s own functions, called from here.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

from ppdw.aws import objects
from ppdw.contracts.partition_counts import Counts
from ppdw.errors import PpdwError
from ppdw.naming import partition_datetime
from ppdw.runtime import catalog, commit, layers, storage
from ppdw.runtime.catalog import Partition, TableSpec
from ppdw.runtime.context import JobContext
from ppdw.runtime.readers import SourceFormat
from ppdw.runtime.spark import bronze, silver
from ppdw.runtime.spark.emulator import task_store
from ppdw.runtime.spark.session import get_session


def write_bronze(ctx: JobContext) -> dict[str, Any]:
    """Raw members -> the run's bronze partition (files and Glue partition)."""
    members = []
    for member in layers._members(ctx):
        key = layers._member_key(ctx, member)
        if not objects.exists(ctx.s3, ctx.bucket, key):
            raise PpdwError(f"raw member s3://{ctx.bucket}/{key} is missing")
        members.append(bronze.Member(key, str(member.get("name") or key.rsplit("/", 1)[-1])))
    partition = partition_datetime(ctx.args.run_time)
    prefix = ctx.names.bronze_partition_prefix(partition)
    with task_store(ctx.bucket, ctx.s3, _session(ctx)) as store:
        built = bronze.build(
            get_session(),
            store,
            members,
            SourceFormat.from_source(ctx.dataset.source),
            ctx.dataset,
            run_id=ctx.args.run_id,
            run_time=ctx.args.run_time,
            prefix=prefix,
            range_bytes=bronze.DEFAULT_RANGE_BYTES,  # read at call time: tests shrink it
        )
    layers.check_rows(built.rows, built.members)
    spec = TableSpec(
        database=ctx.args.bronze_database,
        name=ctx.names.table,
        location=storage.s3_uri(ctx.bucket, ctx.names.layer_prefix("bronze")),
        schema=built.schema,
        partition_key=layers.BRONZE_KEY,
    )
    how = commit.ensure_table(ctx, spec, "bronze")
    ctx.check_lease()  # the fence: a run that lost the dataset's lease commits nothing
    catalog.register_partitions(
        ctx.glue,
        spec.database,
        spec.name,
        [Partition(partition, storage.s3_uri(ctx.bucket, prefix), Counts(built.rows))],
    )
    return {
        "partition": partition,
        "rows": built.rows,
        "parse_failures": layers._parse_failures(built.members),
        "fallback_lines": sum(int(m["fallback_lines"]) for m in built.members),
        "files": built.files,
        "bytes": built.bytes,
        "table": how,
        "members": built.members,
    }


def merge_and_commit(
    ctx: JobContext, locations: dict[str, str], hooks: dict[str, Callable[[], None]]
) -> dict[str, Any]:
    """Bronze of the run + registered silver -> new version folders, then the commit."""
    bronze_prefix = ctx.names.bronze_partition_prefix(partition_datetime(ctx.args.run_time))
    bronze_keys = storage.parquet_keys(ctx.s3, ctx.bucket, bronze_prefix)
    if not bronze_keys:
        layers.read_bronze_partition(ctx)  # raises the Arrow engine's "run bronze first"
    months = _all_months(ctx, locations)
    request = silver.Request(
        dataset=ctx.dataset,
        run_id=ctx.args.run_id,
        run_time=ctx.args.run_time,
        force=ctx.args.force,
        bronze_keys=tuple(bronze_keys),
        locations=locations,
        version_folder={ym: commit.version_folder(ctx, ym) for ym in months},
        rejects_folder=ctx.names.rejects_prefix(ctx.args.run_id),
        upgrade_hashes=layers.hashes_may_be_old(ctx),
    )
    with task_store(ctx.bucket, ctx.s3, _session(ctx)) as store:
        outcome = silver.apply(get_session(), store, request)
    return commit.commit_run(ctx, outcome.stats, outcome.targets, outcome.schema, hooks)


def _all_months(ctx: JobContext, locations: dict[str, str]) -> list[str]:
    """Every month this run could rewrite: the registered ones and the run time's."""
    from ppdw.naming import year_month
    from ppdw.runtime.schema import utc_ms

    return sorted({*locations, year_month(utc_ms(ctx.args.run_time))})


def _session(ctx: JobContext) -> Any:
    aws = getattr(ctx, "aws", None)
    return aws.session if aws is not None else None
