"""Silver's commit: the Glue partitions switch to the run's new version folders.

Rules (data.md): a rewritten partition is written to a new folder named after the run; the
commit points its Glue partition at that folder and only then deletes the previous one,
so readers never see a half-written partition. A commit a killed attempt started is
finished by the run's next attempt (`resume_commit`) from the stats the record holds, or
abandoned when a later run was applied since or its files are gone. Each write that
commits a run is fenced by the dataset's lease. Both engines commit through here.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping
from typing import Any

import pyarrow as pa

from ppdw.aws import objects
from ppdw.contracts.partition_counts import Counts
from ppdw.contracts.run_record import LastSuccess
from ppdw.errors import DataQualityError, PpdwError
from ppdw.runtime import catalog, manifest, storage
from ppdw.runtime.catalog import Partition, TableSpec
from ppdw.runtime.context import JobContext
from ppdw.runtime.schema import EFFECTIVE_YEAR_MONTH


def version_folder(ctx: JobContext, ym: str) -> str:
    return ctx.names.silver_version_prefix(ym, ctx.args.run_id)


def ensure_table(ctx: JobContext, spec: TableSpec, layer: str) -> str:
    return catalog.ensure_table(
        ctx.glue,
        spec,
        table_creation=ctx.args.table_creation,
        crawler=ctx.names.crawler("bronze" if layer == "bronze" else "silver"),
        crawler_wait_seconds=ctx.args.crawler_wait_seconds,
        stray_names=[f"{layer}_{ctx.dataset.name}"],
        sleep=ctx.sleep,
        clock=ctx.clock,
    )


def silver_spec(ctx: JobContext, schema: pa.Schema) -> TableSpec:
    return TableSpec(
        database=ctx.args.silver_database,
        name=ctx.names.table,
        location=storage.s3_uri(ctx.bucket, ctx.names.layer_prefix("silver")),
        schema=schema,
        partition_key=EFFECTIVE_YEAR_MONTH,
    )


def switch_partitions(
    ctx: JobContext,
    targets: list[str],
    schema: pa.Schema,
    counts: Mapping[str, Counts] | None = None,
) -> None:
    """Point the Glue partitions at the new folders (with the folders' `counts` where
    known), then remove the old ones."""
    spec = silver_spec(ctx, schema)
    ensure_table(ctx, spec, "silver")
    known = counts or {}
    partitions = [
        Partition(ym, storage.s3_uri(ctx.bucket, version_folder(ctx, ym)), known.get(ym))
        for ym in targets
    ]
    ctx.check_lease()
    catalog.register_partitions(ctx.glue, spec.database, spec.name, partitions)
    for ym in targets:
        keep = version_folder(ctx, ym)
        stale = [
            key
            for key in storage.list_keys(ctx.s3, ctx.bucket, ctx.names.silver_partition_prefix(ym))
            if not key.startswith(keep)
        ]
        storage.delete_keys(ctx.s3, ctx.bucket, stale)


def commit_run(
    ctx: JobContext,
    stats: dict[str, Any],
    targets: list[str],
    schema: pa.Schema | None,
    hooks: Mapping[str, Callable[[], None]],
    counts: Mapping[str, Counts] | None = None,
) -> dict[str, Any]:
    """Commit a merged run whose version folders are written: record the step
    `committing` with its stats (what a killed attempt's retry finishes from), switch the
    partitions (recording the folders' `counts` where the engine gives them), move the
    last-success pointer. `hooks["before_register"]`, if given, runs between the record
    and the switch (tests kill the step there)."""
    ctx.check_lease()
    manifest.update_step(
        ctx.s3,
        ctx.bucket,
        ctx.names,
        ctx.args.run_id,
        "silver",
        {"status": manifest.COMMITTING, "stats": stats},
    )
    if "before_register" in hooks:
        hooks["before_register"]()
    if targets and schema is not None:
        switch_partitions(ctx, targets, schema, counts)
    finish(ctx)
    return stats


def finish(ctx: JobContext) -> None:
    raw = manifest.read_raw_manifest(ctx.s3, ctx.bucket, ctx.names, ctx.args.run_id) or {}
    ctx.check_lease()
    manifest.write_last_success(
        ctx.s3, ctx.bucket, ctx.names, ctx.args.run_id, ctx.args.run_time, raw.get("sha256")
    )


def resume_commit(
    ctx: JobContext, stats: dict[str, Any], last: LastSuccess | None
) -> dict[str, Any]:
    """Finish the commit a killed attempt of this run started, from its recorded stats."""
    run_id, dataset = ctx.args.run_id, ctx.dataset.name
    if last is not None and manifest.out_of_order(last, run_id, ctx.args.run_time):
        abandon_commit(ctx)
        raise DataQualityError(
            "out_of_order",
            f"run {run_id} was interrupted while committing silver, and run "
            f"{last.get('run_id')} (not earlier) was applied since: its commit cannot "
            "be finished",
            f"leave run {run_id} as it is; silver holds the runs up to {last.get('run_id')}",
        )
    targets = [str(ym) for ym in stats.get("partitions", [])]
    missing = [
        ym
        for ym in targets
        if not objects.exists(ctx.s3, ctx.bucket, f"{version_folder(ctx, ym)}{storage.PART_FILE}")
    ]
    if missing:
        abandon_commit(ctx)
        raise PpdwError(
            f"run {run_id} of {dataset} was interrupted while committing silver, and its "
            f"files for {', '.join(missing)} are gone: its commit cannot be finished",
            f"inspect s3://{ctx.bucket}/{ctx.names.layer_prefix('silver')} and the Glue "
            "partitions before running again",
        )
    if targets:
        schemas = [
            storage.open_parquet(
                ctx.s3, ctx.bucket, f"{version_folder(ctx, ym)}{storage.PART_FILE}"
            ).schema_arrow
            for ym in targets
        ]
        switch_partitions(ctx, targets, pa.unify_schemas(schemas))
    finish(ctx)
    return {**stats, "resumed": True}


def abandon_commit(ctx: JobContext) -> None:
    """A commit that can never be finished is no longer pending: the run is failed, and
    the lease is not kept for a retry that could not help."""
    ctx.check_lease()
    manifest.update_step(
        ctx.s3, ctx.bucket, ctx.names, ctx.args.run_id, "silver", {"status": "failed"}
    )
