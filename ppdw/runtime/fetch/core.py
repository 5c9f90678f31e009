"""Fetch: source -> `raw/{dataset}/run_id={run_id}/` (data.md, Raw).

Rule: standard library, boto3 through `ppdw.aws.objects` and `streams`, `ppdw.naming`, `ppdw.errors`
and the runtime's `manifest`, `download`, `archive` only (the fetch Lambda imports it).

Order of a run: clear the run folder (manifest first, so it reads as incomplete), stream
the download, compare its sha256 with the last successful run, check the archive, compare
the wanted members with the last successful run's as stored, extract them, compare them
as extracted, write `_manifest.json` LAST. A run is complete only when its manifest
exists.

"Unchanged": the download's sha256 equals the last applied run's, or (a zip) the files
extracted from it, names and sha256, equal the files the last applied run extracted (a
source re-packed with new dates but the same data). A wanted member stored exactly as
then (compression method and compressed bytes, `archive.Packed`) holds the same content,
so when every one is, nothing is extracted at all. What the run wrote to raw (the
download, which must be written to hash it while streaming, and any extracted file) is
removed again and no raw manifest appears; the run record (`silver/_runs/...`) keeps the
fetch details. Raw therefore holds only distinct data.

Raw is immutable (data.md, Run): a run id whose fetch succeeded never fetches again
(`guard_raw`, before anything is written, the run record included). A retry of a run
whose raw is complete (the manifest exists) but whose later steps failed or were killed
hashes its source without writing it and resumes only when the sha256 and the run time
match what raw holds; a retry of a fetch that never completed fetches normally.

Order of runs: before anything is written, a run whose run time is not later than the
last successful run's is refused (silver applies runs in time order), so it leaves raw and
bronze untouched. The last successful run itself may run again (a retry of a run whose
last steps were interrupted): silver then changes nothing (data.md rule 6), and its fetch
is never "unchanged". The raw manifest, the write that commits a fetch, is fenced by the
caller's `fence` (the lease's check).
"""

from __future__ import annotations

import logging
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import datetime
from typing import Any

from ppdw.aws import objects, streams
from ppdw.contracts.run_record import LastSuccess
from ppdw.errors import DataQualityError, UsageError
from ppdw.naming import DatasetNames, is_valid_run_id
from ppdw.runtime import archive, download, manifest
from ppdw.runtime.fetch.config import FetchConfig
from ppdw.runtime.fetch.secret import read_secret, with_query_parameter

log = logging.getLogger(__package__)  # one logger for the whole Lambda: ppdw.runtime.fetch


@dataclass
class FetchResult:
    status: str  # "fetched" | "unchanged"
    run_id: str
    run_time: str
    manifest: dict[str, Any]
    members: list[str] = field(default_factory=list)  # S3 keys of extracted members


def fetch(
    s3: Any,
    config: FetchConfig,
    *,
    run_id: str,
    run_time: datetime,
    source: str | None = None,
    force: bool = False,
    secrets: Any | None = None,
    ssm: Any | None = None,
    opener: Callable[..., Any] | None = None,
    sleep: Callable[[float], None] = time.sleep,
    progress: Callable[[int, int | None], None] | None = None,
    extract_progress: Callable[[int, int | None], None] | None = None,
    fence: Callable[[], None] = lambda: None,
) -> FetchResult:
    """Fetch one run's source into raw. See the module docstring for the order.

    `progress` counts the downloaded (compressed) bytes, `extract_progress` the extracted
    (uncompressed) ones: two phases, two meanings. `fence` is called right before the raw
    manifest is written (the lease's check)."""
    if not is_valid_run_id(run_id):
        raise UsageError(f"invalid run id {run_id!r}")
    names, bucket = config.names, config.bucket
    held = guard_raw(s3, config, run_id)
    last = manifest.read_last_success(s3, bucket, names)
    check_run_order(last, names.dataset, run_id, run_time)
    origin = source or config.source_url
    secret, request_url = _authorized(config, origin, read_secret(config, secrets, ssm))
    shown = download.describe(origin)
    if held is not None:
        _check_held(s3, config, held, run_time, request_url, secret, opener, sleep, progress)
        log.info("run %s resumes with the raw it holds (sha256 %s)", run_id, held["sha256"])
        keys = [str(m["key"]) for m in held.get("members") or []]
        return FetchResult("fetched", run_id, str(held["run_time"]), held, keys)
    run_prefix = names.raw_run_prefix(run_id)
    _clear_run_folder(s3, bucket, names, run_id)
    log.info("fetching %s into s3://%s/%s", shown, bucket, run_prefix)
    got = download.download_to_s3(
        request_url,
        s3,
        bucket,
        run_prefix,
        secrets=(secret,) if secret else (),
        opener=opener,
        sleep=sleep,
        progress=progress,
    )
    document = _manifest(config, run_id, run_time, shown, got, force)
    since = None if force else _unchanged_since(last, got.sha256, run_id)
    if since is not None:
        log.info("source unchanged since run %s (sha256 %s)", since, got.sha256)
        return _unchanged(s3, config, document, (since, "download"), [got.key])
    earlier = None if force else _last_members(s3, config, last, run_id)
    members = _members(s3, config, got, run_prefix, extract_progress, earlier)
    if earlier is not None and (members is None or _same_files(members, earlier.members)):
        log.info("source unchanged since run %s: a new archive of the same files", earlier.run_id)
        written = [got.key, *(m.key for m in members or [])]
        return _unchanged(s3, config, document, (earlier.run_id, "files"), written)
    assert members is not None  # None only when every member is stored as in `earlier`
    document["members"] = [m.as_dict() for m in members]
    fence()
    manifest.write_raw_manifest(s3, bucket, names, run_id, document)
    log.info("fetched %d bytes, %d member(s)", got.bytes, len(members))
    return FetchResult("fetched", run_id, document["run_time"], document, [m.key for m in members])


def _authorized(config: FetchConfig, origin: str, secret: str | None) -> tuple[str | None, str]:
    """The secret and the URL to request (the secret in its query parameter, if any)."""
    if secret is None:
        return None, origin
    return secret, with_query_parameter(origin, config.auth_query_parameter, secret)


def guard_raw(s3: Any, config: FetchConfig, run_id: str) -> dict[str, Any] | None:
    """Refuse a run id whose fetch succeeded; reads only, so a refusal changes nothing.

    Returns raw's manifest when the run holds complete raw but did not finish (a retry
    resumes with it), None when the run has no complete raw (it fetches).
    """
    names, bucket, dataset = config.names, config.bucket, config.dataset
    record = manifest.read_run(s3, bucket, names, run_id) or {}
    fetch_step = (record.get("steps") or {}).get("fetch") or {}
    if record.get("status") == "unchanged" or fetch_step.get("status") == "unchanged":
        raise UsageError(
            f"run {run_id} of {dataset} already fetched its source (unchanged since run "
            f"{fetch_step.get('unchanged_since')}); a run id fetches once",
            f"start a new run: ppdw run {dataset} --run-id NEW_ID (add --force to process "
            "an unchanged source)",
        )
    held = manifest.read_raw_manifest(s3, bucket, names, run_id)
    if held is None:
        return None
    if record.get("status") == "succeeded":
        raise UsageError(
            f"run {run_id} of {dataset} already fetched its source (raw is immutable)",
            f"re-process it: ppdw run {dataset} --from bronze --run-id {run_id}; "
            f"or fetch anew under a new run id: ppdw run {dataset} --run-id NEW_ID",
        )
    return held


def _check_held(
    s3: Any,
    config: FetchConfig,
    held: dict[str, Any],
    run_time: datetime,
    request_url: str,
    secret: str | None,
    opener: Callable[..., Any] | None,
    sleep: Callable[[float], None],
    progress: Callable[[int, int | None], None] | None,
) -> None:
    """A retry resumes only with the run time and the source bytes raw already holds."""
    run_id, dataset = str(held["run_id"]), config.dataset
    way_out = (
        f"retry with the source it holds ({held.get('source')}), re-process it with "
        f"`ppdw run {dataset} --from bronze --run-id {run_id}`, or use a new --run-id"
    )
    held_time = manifest.parse_time(str(held["run_time"]))
    if held_time != run_time:
        raise UsageError(
            f"run {run_id} of {dataset} holds raw fetched for run time "
            f"{manifest.format_time(held_time)}, not {manifest.format_time(run_time)}",
            way_out,
        )
    got = download.download_to_s3(
        request_url,
        s3,
        config.bucket,
        config.names.raw_run_prefix(run_id),
        secrets=(secret,) if secret else (),
        opener=opener,
        sleep=sleep,
        progress=progress,
        store=False,
    )
    if got.sha256 != held.get("sha256"):
        raise UsageError(
            f"run {run_id} of {dataset} already holds raw of another source (sha256 "
            f"{str(held.get('sha256'))[:12]}..., this source {got.sha256[:12]}...); "
            "raw is immutable",
            way_out,
        )


def _clear_run_folder(s3: Any, bucket: str, names: DatasetNames, run_id: str) -> None:
    """A re-fetch of a run starts from an empty folder; the manifest goes first."""
    objects.delete_keys(s3, bucket, [names.raw_manifest_key(run_id)])
    objects.delete_prefix(s3, bucket, names.raw_run_prefix(run_id))


def _unchanged_since(last: LastSuccess | None, sha256: str, run_id: str) -> str | None:
    """The last applied run, when it fetched these same bytes (and is not this run)."""
    if last is None or last.get("source_sha256") != sha256 or last.get("run_id") == run_id:
        return None
    return last.get("run_id")


@dataclass(frozen=True)
class Earlier:
    """The last applied run and the members it extracted, as its raw manifest records them."""

    run_id: str
    members: list[dict[str, Any]]


def _last_members(
    s3: Any, config: FetchConfig, last: LastSuccess | None, run_id: str
) -> Earlier | None:
    """What the last applied run (not this one) extracted from its zip; None when there is
    nothing to compare with."""
    if last is None or last.get("run_id") == run_id or config.compression != "zip":
        return None
    held = manifest.read_raw_manifest(s3, config.bucket, config.names, last["run_id"])
    members = (held or {}).get("members")
    return Earlier(last["run_id"], list(members)) if members else None


def _same_files(members: list[archive.ExtractedMember], earlier: list[dict[str, Any]]) -> bool:
    """These files (names and content sha256) are the ones extracted before: a source
    re-packed without a change in its data (an archive's dates change its bytes)."""
    now = sorted((m.name, m.sha256) for m in members)
    then = sorted((str(m.get("name")), str(m.get("sha256"))) for m in earlier)
    return now == then


def _same_packing(packed: dict[str, archive.Packed], earlier: list[dict[str, Any]]) -> bool:
    """Every wanted member is stored exactly as a member of the same name the last applied
    run extracted (method and compressed bytes), and no other was extracted then: the
    content is that run's without decompressing it."""
    recorded = {str(m.get("name")): m for m in earlier}
    return set(recorded) == set(packed) and all(
        how.matches(recorded[name]) for name, how in packed.items()
    )


def _unchanged(
    s3: Any,
    config: FetchConfig,
    document: dict[str, Any],
    since: tuple[str, str],
    written: list[str],
) -> FetchResult:
    """Remove what this run wrote to raw and report the source unchanged `since` (the last
    applied run, and by what: "download", the same bytes, or "files", the same files in
    another archive)."""
    objects.delete_keys(s3, config.bucket, written)
    run_id, by = since
    document.update(status="unchanged", unchanged_since=run_id, unchanged_by=by, members=[])
    return FetchResult("unchanged", str(document["run_id"]), document["run_time"], document, [])


def check_run_order(
    last: LastSuccess | None, dataset: str, run_id: str, run_time: datetime
) -> None:
    """Refuse a run that precedes the last successful run of the dataset (not its retry)."""
    last_time = manifest.out_of_order(last, run_id, run_time)
    if last is not None and last_time is not None:
        raise DataQualityError(
            "out_of_order",
            f"run time {manifest.format_time(run_time)} is not later than the last applied "
            f"run {last.get('run_id')} ({manifest.format_time(last_time)})",
            "runs apply in time order; use a later --as-of",
        )


def _manifest(
    config: FetchConfig,
    run_id: str,
    run_time: datetime,
    shown: str,
    got: download.Downloaded,
    force: bool,
) -> dict[str, Any]:
    return {
        "dataset": config.dataset,
        "run_id": run_id,
        "run_time": manifest.format_time(run_time),
        "status": "fetched",
        "source": shown,
        "file": got.name,
        "key": got.key,
        "bytes": got.bytes,
        "sha256": got.sha256,
        "etag": got.etag,
        "last_modified": got.last_modified,
        "compression": config.compression,
        "force": force,
        "members": [],
    }


def _members(
    s3: Any,
    config: FetchConfig,
    got: download.Downloaded,
    run_prefix: str,
    progress: Callable[[int, int | None], None] | None,
    earlier: Earlier | None = None,
) -> list[archive.ExtractedMember] | None:
    """The extracted members; None (nothing extracted) when every wanted member is stored
    exactly as one the last applied run (`earlier`) extracted."""
    if config.compression != "zip":
        return [archive.ExtractedMember(got.name, got.key, got.bytes, got.sha256)]
    reader = streams.RangeReader(s3, config.bucket, got.key)
    with archive.open_zip(reader, got.name) as zipped:  # type: ignore[arg-type]
        wanted = archive.select_members(
            zipped,
            config.members or ("*",),
            archive_name=got.name,
            reserved=(got.name, *download.RESERVED_NAMES),
            limits=config.limits,
        )
        packed = archive.packed_members(reader, wanted, archive_name=got.name)  # type: ignore[arg-type]
        if earlier is not None and _same_packing(packed, earlier.members):
            return None
        return archive.extract_members(
            zipped,
            wanted,
            s3,
            config.bucket,
            run_prefix,
            archive_name=got.name,
            progress=progress,
            packed=packed,
        )
