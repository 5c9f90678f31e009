"""The I/O around the pure bronze and silver transforms: what each job reads and writes.

Rules (data.md): bronze writes one deterministic file per run partition (a re-run replaces
it). Silver reads the current silver only through the Glue partitions' locations (the
registered version folders, never a raw listing), writes each rewritten partition to a new
folder named after the run (`DatasetNames.silver_version_prefix`), points the Glue partition
at it, and only then deletes the previous folder: readers never see a half-written
partition, a kill at any point leaves the previous silver intact, and the next attempt of
the run completes it.

Which attempt does what is read from the run's own record, never from folder names: a
silver step `committing` was killed while switching partitions, and its retry finishes
that commit (if no later run was applied since). Each write that commits a run (bronze's
partition, the `committing` record, silver's partitions, the last-success pointer) is
fenced by the dataset's lease: a run that lost it commits nothing. The commit itself (and
its resumption) is `commit.py`'s, shared with the Spark engine.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

import pyarrow as pa
import pyarrow.compute as pc

from ppdw.aws import objects
from ppdw.contracts.partition_counts import Counts
from ppdw.contracts.run_record import CHANGE_KEYS, LastSuccess, RunRecord
from ppdw.errors import DataQualityError, PpdwError
from ppdw.naming import partition_datetime
from ppdw.runtime import catalog, commit, manifest, storage
from ppdw.runtime.bronze import to_bronze
from ppdw.runtime.catalog import Partition, TableSpec
from ppdw.runtime.context import JobContext, as_dict
from ppdw.runtime.hash_upgrade import may_hold_old_hashes
from ppdw.runtime.readers import SourceFormat, read_text_table
from ppdw.runtime.schema import (
    CHANGE_TYPE,
    EFFECTIVE_YEAR_MONTH,
    IS_CURRENT,
    META_RUN_ID,
    META_SOURCE_FILE,
)
from ppdw.runtime.silver import apply_run

BRONZE_KEY = "partition_datetime"
SILVER_KEY = EFFECTIVE_YEAR_MONTH


# ------------------------------------------------------------------------------- bronze


def _members(ctx: JobContext) -> list[dict[str, Any]]:
    raw = manifest.read_raw_manifest(ctx.s3, ctx.bucket, ctx.names, ctx.args.run_id)
    if raw is None:
        raise PpdwError(
            f"raw run {ctx.args.run_id} of {ctx.dataset.name} has no _manifest.json",
            "run the fetch step first (ppdw run without --from)",
        )
    members = raw.get("members") or []
    if not members:
        raise DataQualityError(
            "no_source_member", f"raw run {ctx.args.run_id} holds no file the dataset reads"
        )
    return [m if isinstance(m, dict) else {"key": str(m)} for m in members]


def _member_key(ctx: JobContext, member: dict[str, Any]) -> str:
    key = member.get("key")
    if key:
        return str(key)
    return f"{ctx.names.raw_run_prefix(ctx.args.run_id)}{member['name']}"


def build_bronze(ctx: JobContext) -> tuple[pa.Table, dict[str, Any]]:
    fmt = SourceFormat.from_source(ctx.dataset.source)
    tables: list[pa.Table] = []
    member_stats: list[dict[str, Any]] = []
    for member in _members(ctx):
        key = _member_key(ctx, member)
        name = str(member.get("name") or key.rsplit("/", 1)[-1])
        data = objects.get_bytes(ctx.s3, ctx.bucket, key)
        if data is None:
            raise PpdwError(f"raw member s3://{ctx.bucket}/{key} is missing")
        read = read_text_table(data, fmt, source_name=name)
        result = to_bronze(
            read.table,
            ctx.dataset,
            run_id=ctx.args.run_id,
            run_time=ctx.args.run_time,
            source_file=name,
        )
        tables.append(result.table)
        member_stats.append(
            {
                "member": name,
                "encoding": read.encoding,
                "fallback_lines": read.fallback_lines,
                **as_dict(result.stats),
            }
        )
    table = tables[0] if len(tables) == 1 else pa.concat_tables(tables, promote_options="default")
    check_rows(table.num_rows, member_stats)
    return table, {"members": member_stats}


def check_rows(rows: int, member_stats: list[dict[str, Any]]) -> None:
    """A full extract without data rows is never applied (it would delete every key)."""
    if rows == 0:
        names = ", ".join(s["member"] for s in member_stats)
        raise DataQualityError(
            "empty_source",
            f"{names}: no data rows (header only)",
            "check the source file; a full extract is never empty",
        )


def _parse_failures(member_stats: list[dict[str, Any]]) -> dict[str, int]:
    total: dict[str, int] = {}
    for stats in member_stats:
        for column, count in (stats.get("parse_failures") or {}).items():
            total[column] = total.get(column, 0) + int(count)
    return total


def write_bronze(ctx: JobContext) -> dict[str, Any]:
    """The Arrow engine's bronze step (the Spark engine's is `spark.job.write_bronze`)."""
    table, detail = build_bronze(ctx)
    partition = partition_datetime(ctx.args.run_time)
    prefix = ctx.names.bronze_partition_prefix(partition)
    written = storage.replace_folder(ctx.s3, ctx.bucket, prefix, table)
    spec = TableSpec(
        database=ctx.args.bronze_database,
        name=ctx.names.table,
        location=storage.s3_uri(ctx.bucket, ctx.names.layer_prefix("bronze")),
        schema=table.schema,
        partition_key=BRONZE_KEY,
    )
    how = commit.ensure_table(ctx, spec, "bronze")
    ctx.check_lease()
    catalog.register_partitions(
        ctx.glue,
        spec.database,
        spec.name,
        [Partition(partition, storage.s3_uri(ctx.bucket, prefix), Counts(table.num_rows))],
    )
    return {
        "partition": partition,
        "rows": table.num_rows,
        "parse_failures": _parse_failures(detail["members"]),
        # Lines not valid in the dataset's encoding, read with its fallback_encoding.
        "fallback_lines": sum(int(m["fallback_lines"]) for m in detail["members"]),
        "files": written.files,
        "bytes": written.bytes,
        "table": how,
        **detail,
    }


# ------------------------------------------------------------------------------- silver


def read_bronze_partition(ctx: JobContext) -> pa.Table:
    partition = partition_datetime(ctx.args.run_time)
    table = storage.read_parquet_prefix(
        ctx.s3,
        ctx.bucket,
        ctx.names.bronze_partition_prefix(partition),
        # One value per run or member: silver drops them, the rejects keep them.
        dictionary=(META_RUN_ID, META_SOURCE_FILE),
    )
    if table is None:
        raise PpdwError(
            f"bronze partition {partition} of {ctx.dataset.name} is missing",
            f"run bronze first: ppdw run {ctx.dataset.name} --from bronze "
            f"--run-id {ctx.args.run_id}",
        )
    return table


def silver_locations(ctx: JobContext) -> dict[str, str]:
    """Registered silver partitions (ym -> key prefix): the only silver readers see."""
    found = catalog.partition_locations(ctx.glue, ctx.args.silver_database, ctx.names.table)
    return {ym: _prefix(storage.key_of(uri, ctx.bucket)) for ym, uri in found.items()}


def _prefix(key: str) -> str:
    return key if key.endswith("/") else f"{key}/"


#: Silver's columns holding a few values a partition (a run id, a change type), read
#: dictionary-encoded for the merge and the rewrite (4 bytes a row instead of the string)
#: and written back as plain strings (`_write_version`).
ENCODED = (META_RUN_ID, CHANGE_TYPE)


def read_partition(ctx: JobContext, ym: str, prefix: str) -> pa.Table | None:
    table = storage.read_parquet_prefix(ctx.s3, ctx.bucket, prefix, dictionary=ENCODED)
    return None if table is None else _with_month(table, ym)


class CurrentSilver:
    """The files of silver holding a live version (`is_current`), read once.

    Each file's `is_current` column is read first (ranged GETs); a file without a live
    version (an old month whose versions were all closed) is never read further. The files
    read are kept whole: `merge` looks only at their live rows (copying the table without
    the closed ones would cost more than the merge's lookup), and a partition whose every
    file was read is handed to the rewrite from here instead of being read a second time.
    """

    def __init__(self, ctx: JobContext, locations: dict[str, str]) -> None:
        self._ctx, self._locations = ctx, locations
        self._months: dict[str, pa.Table] = {}  # partitions read whole

    def read(self) -> pa.Table | None:
        """Every file holding a live version, across the registered partitions."""
        ctx, parts = self._ctx, []
        for ym, prefix in sorted(self._locations.items()):
            files, keys = [], storage.parquet_keys(ctx.s3, ctx.bucket, prefix)
            for key in keys:
                parquet = storage.open_parquet(ctx.s3, ctx.bucket, key, ENCODED)
                flags = parquet.read(columns=[IS_CURRENT]).column(IS_CURRENT)
                if pc.any(flags).as_py():
                    files.append(_with_month(parquet.read(), ym))
            if files and len(files) == len(keys):
                self._months[ym] = _concat(files)
            parts.extend(files)
        return _concat(parts) if parts else None

    def keep_only(self, months: list[str]) -> None:
        """Release the partitions read whole that will not be rewritten."""
        self._months = {ym: t for ym, t in self._months.items() if ym in months}

    def previous(self, ym: str) -> pa.Table | None:
        """The content partition `ym` holds now (None when it is not registered)."""
        if ym in self._months:
            return self._months.pop(ym)  # handed over: the rewrite releases it
        prefix = self._locations.get(ym)
        return read_partition(self._ctx, ym, prefix) if prefix else None


def _with_month(table: pa.Table, ym: str) -> pa.Table:
    """`table` with its partition's month as a column (dictionary-encoded: one value)."""
    if SILVER_KEY in table.schema.names:
        table = table.drop_columns([SILVER_KEY])
    indices = pa.repeat(pa.scalar(0, pa.int32()), table.num_rows)
    month = pa.DictionaryArray.from_arrays(indices, pa.array([ym], pa.string()))
    return table.append_column(SILVER_KEY, month)


def _concat(tables: list[pa.Table]) -> pa.Table:
    return tables[0] if len(tables) == 1 else pa.concat_tables(tables, promote_options="default")


def _check_order(ctx: JobContext, last: LastSuccess | None) -> None:
    last_time = manifest.out_of_order(last, ctx.args.run_id, ctx.args.run_time)
    if last is not None and last_time is not None:
        raise DataQualityError(
            "out_of_order",
            f"run time {manifest.format_time(ctx.args.run_time)} is not later than the last "
            f"applied run {last['run_id']} ({manifest.format_time(last_time)})",
            "runs apply in time order; use a later --as-of",
        )


def _recorded_silver(record: RunRecord | None) -> dict[str, Any]:
    return dict((((record or {}).get("steps") or {}).get("silver") or {}).get("stats") or {})


#: Test hooks called at named points of the silver step (e.g. "before_register").
Hooks = dict[str, Callable[[], None]]
#: The engine's part of a silver step: (ctx, registered partitions, hooks) -> stats.
MergeAndCommit = Callable[[JobContext, dict[str, str], Hooks], dict[str, Any]]


def write_silver(
    ctx: JobContext,
    hooks: Hooks,
    merge_and_commit: MergeAndCommit | None = None,
) -> dict[str, Any]:
    """The silver step: resume, no-op or order check, then the engine's merge and commit
    (`merge_and_commit`, the Arrow engine's when None)."""
    record = manifest.read_run(ctx.s3, ctx.bucket, ctx.names, ctx.args.run_id)
    last = manifest.read_last_success(ctx.s3, ctx.bucket, ctx.names)
    if manifest.step_status(record, "silver") == manifest.COMMITTING:
        # An attempt of this run was killed while switching partitions: finish what it
        # started instead of merging the run twice.
        return commit.resume_commit(ctx, _recorded_silver(record), last)
    if last is not None and last.get("run_id") == ctx.args.run_id:
        # The pointer names this run but its record does not say so (a record written
        # by an earlier ppdw): applied all the same.
        return {**_recorded_silver(record), "noop": True}
    _check_order(ctx, last)
    return (merge_and_commit or arrow_merge_and_commit)(ctx, silver_locations(ctx), hooks)


def arrow_merge_and_commit(
    ctx: JobContext, locations: dict[str, str], hooks: Hooks
) -> dict[str, Any]:
    """The Arrow engine's silver: `apply_run` in this process, its output written here."""
    written: list[storage.Written] = []

    def write_rejects(rejected: pa.Table) -> None:
        prefix = ctx.names.rejects_prefix(ctx.args.run_id)
        rows = storage.decoded(rejected)  # as bronze holds them
        written.append(storage.replace_folder(ctx.s3, ctx.bucket, prefix, rows))

    current = CurrentSilver(ctx, locations)
    run = apply_run(
        current.read,
        read_bronze_partition(ctx),  # not held here: released once the snapshot exists
        ctx.dataset,
        ctx.args.run_time,
        run_id=ctx.args.run_id,
        force=ctx.args.force,
        upgrade_hashes=hashes_may_be_old(ctx),
        rejected=write_rejects,
    )
    stats, targets = run.stats, run.targets
    current.keep_only(targets)
    stats["changes"] = change_counts(stats)
    schemas: list[pa.Schema] = []
    counts: dict[str, Counts] = {}
    for ym, table in run.partitions(current.previous):
        schema, done = _write_version(ctx, ym, table)
        counts[ym] = Counts(table.num_rows, storage.current_rows(table))
        del table  # one partition at a time
        schemas.append(schema)
        written.append(done)
    files, size = sum(w.files for w in written), sum(w.bytes for w in written)
    stats.update(partitions=targets, files_written=files, bytes_written=size)
    schema = pa.unify_schemas(schemas) if schemas else None
    return commit.commit_run(ctx, stats, targets, schema, hooks, counts)


def hashes_may_be_old(ctx: JobContext) -> bool:
    """False once a run recording the current record_hash form was applied (`hash_upgrade`):
    then no current version can hold an old-form hash and the merge need not look."""
    last = manifest.read_last_success(ctx.s3, ctx.bucket, ctx.names)
    if last is None:
        return may_hold_old_hashes(None)
    record = manifest.read_run(ctx.s3, ctx.bucket, ctx.names, str(last["run_id"])) or {}
    return may_hold_old_hashes((record.get("steps", {}).get("silver") or {}).get("stats"))


def change_counts(stats: dict[str, Any]) -> dict[str, int]:
    """The merge's counts under the names users read (status, summaries)."""
    merged = ("inserts", "updates", "deletes", "unchanged")  # in CHANGE_KEYS' order
    return {key: int(stats.get(name, 0)) for key, name in zip(CHANGE_KEYS, merged, strict=True)}


def _write_version(ctx: JobContext, ym: str, table: pa.Table) -> tuple[pa.Schema, storage.Written]:
    """Partition `ym` with this run applied, written to its new version folder."""
    if SILVER_KEY in table.schema.names:
        table = table.drop_columns([SILVER_KEY])  # it is the partition key, not a column
    table = storage.decoded(table)  # files hold plain values (`ENCODED`)
    written = storage.replace_folder(ctx.s3, ctx.bucket, commit.version_folder(ctx, ym), table)
    return table.schema, written
