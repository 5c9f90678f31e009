"""Fetch: source -> `raw/{dataset}/run_id={run_id}/` (data.md, Raw).

Rule: standard library, boto3/botocore (through `ppdw.aws.objects`), `ppdw.naming`,
`ppdw.errors` and the runtime's `manifest`, `redact`, `download`, `archive` only: this
module is the fetch Lambda.

Order of a run: clear the run folder (manifest first, so it reads as incomplete), stream
the download, compare its sha256 with the last successful run, check the archive, extract
the wanted members, write `_manifest.json` LAST. A run is complete only when its manifest
exists.

"Unchanged": the download is written (it must be, to hash it while streaming) and removed
again, nothing else is written to raw, and no raw manifest appears; the run record
(`silver/_runs/...`) keeps the fetch details. Raw therefore holds only distinct
downloads.

Raw is immutable (data.md, Run): a run id whose fetch succeeded never fetches again
(`guard_raw`, before anything is written, the run record included). A retry of a run
whose raw is complete (the manifest exists) but whose later steps failed or were killed
hashes its source without writing it and resumes only when the sha256 and the run time
match what raw holds; a retry of a fetch that never completed fetches normally.

Order of runs: before anything is written, a run whose run time is not later than the
last successful run's is refused (silver applies runs in time order), so it leaves raw and
bronze untouched. The last successful run itself may run again (a retry of a run whose
last steps were interrupted): silver then changes nothing (data.md rule 6), and its fetch
is never "unchanged".

The Lambda takes the dataset's lease for its execution (`ppdw.runtime.lease`) before
anything else and keeps it for the execution's Glue jobs; it releases it when the run
ends here (unchanged, failed). A run already applied is not fetched again: the handler
answers `applied` and writes nothing. The raw manifest, the write that commits a fetch,
is fenced by the lease.

Secrets (`auth_kind` secretsmanager|ssm) are read by name, added as a query parameter of
the request only, and redacted from every log line, error, manifest and result.
"""

from __future__ import annotations

import functools
import json
import logging
import os
import sys
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import datetime
from pathlib import Path
from typing import Any
from urllib.parse import parse_qsl, urlencode, urlsplit, urlunsplit

from ppdw.aws import objects
from ppdw.aws.errors import AWS_OR_SHAPE_ERRORS
from ppdw.contracts import lambda_env
from ppdw.contracts.lambda_env import LambdaEnv
from ppdw.errors import ConfigError, DataQualityError, LeaseLostError, PpdwError, UsageError
from ppdw.naming import CoreNames, DatasetNames, is_valid_run_id
from ppdw.runtime import archive, download, holders, manifest
from ppdw.runtime.lease import EXECUTION_LEASE_SECONDS, Lease, acquire, release_after
from ppdw.runtime.redact import redact_text

log = logging.getLogger(__name__)


@dataclass(frozen=True)
class FetchConfig:
    dataset: str
    bucket: str
    prefix: str
    source_url: str
    compression: str  # "none" | "zip"
    members: tuple[str, ...]
    auth_kind: str | None = None
    auth_name: str | None = None
    auth_query_parameter: str = "apiKey"
    max_uncompressed_bytes: int = 20 * 1024**3
    max_compression_ratio: int = 200

    @classmethod
    def from_dataset_json(
        cls, data: dict[str, Any], *, bucket: str, prefix: str, **limits: int
    ) -> FetchConfig:
        """From a parsed `fda/{dataset}/config/dataset.json` (a plain dict)."""
        source = data["source"]
        auth = source.get("auth") or {}
        return cls(
            dataset=data["name"],
            bucket=bucket,
            prefix=prefix,
            source_url=source["url"],
            compression=source.get("compression", "none"),
            members=tuple(source.get("members", ())),
            auth_kind=auth.get("kind"),
            auth_name=auth.get("name"),
            auth_query_parameter=auth.get("query_parameter", "apiKey"),
            **limits,
        )

    @property
    def names(self) -> DatasetNames:
        return CoreNames(prefix=self.prefix).dataset(self.dataset)

    @property
    def limits(self) -> archive.Limits:
        return archive.Limits(self.max_uncompressed_bytes, self.max_compression_ratio)


@dataclass
class FetchResult:
    status: str  # "fetched" | "unchanged"
    run_id: str
    run_time: str
    manifest: dict[str, Any]
    members: list[str] = field(default_factory=list)  # S3 keys of extracted members


def read_secret(config: FetchConfig, secrets: Any | None, ssm: Any | None) -> str | None:
    """The source's secret, read by name; None when the source needs none."""
    if not config.auth_kind:
        return None
    name = config.auth_name or ""
    try:
        if config.auth_kind == "secretsmanager":
            if secrets is None:
                raise ConfigError("a Secrets Manager client is needed to read the source's secret")
            text = str(secrets.get_secret_value(SecretId=name)["SecretString"])
            return _secret_from_text(text, config.auth_query_parameter)
        if config.auth_kind == "ssm":
            if ssm is None:
                raise ConfigError("an SSM client is needed to read the source's secret")
            response = ssm.get_parameter(Name=name, WithDecryption=True)
            return str(response["Parameter"]["Value"])
    except AWS_OR_SHAPE_ERRORS as error:
        raise PpdwError(
            f"cannot read the source secret {name!r} from {config.auth_kind} "
            f"({type(error).__name__})",
            "create it, or let the role read it",
        ) from None
    raise ConfigError(f"unknown auth kind {config.auth_kind!r}")


def _secret_from_text(text: str, parameter: str) -> str:
    """A plain secret string, or a JSON object holding it under `parameter` or alone."""
    try:
        document = json.loads(text)
    except ValueError:
        return text
    if isinstance(document, dict):
        if parameter in document:
            return str(document[parameter])
        if len(document) == 1:
            return str(next(iter(document.values())))
    return text


def with_query_parameter(url: str, name: str, value: str) -> str:
    parts = urlsplit(url)
    pairs = [(k, v) for k, v in parse_qsl(parts.query, keep_blank_values=True) if k != name]
    return urlunsplit(parts._replace(query=urlencode([*pairs, (name, value)])))


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
    secret = read_secret(config, secrets, ssm)
    request_url = origin
    if secret is not None:
        request_url = with_query_parameter(origin, config.auth_query_parameter, secret)
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
    if _unchanged(last, got.sha256, run_id) and not force:
        assert last is not None
        objects.delete_keys(s3, bucket, [got.key])
        document.update(status="unchanged", unchanged_since=last.get("run_id"), members=[])
        log.info("source unchanged since run %s (sha256 %s)", last.get("run_id"), got.sha256)
        return FetchResult("unchanged", run_id, document["run_time"], document, [])
    members = _members(s3, config, got, run_prefix, extract_progress)
    document["members"] = [m.as_dict() for m in members]
    fence()
    manifest.write_raw_manifest(s3, bucket, names, run_id, document)
    log.info("fetched %d bytes, %d member(s)", got.bytes, len(members))
    return FetchResult("fetched", run_id, document["run_time"], document, [m.key for m in members])


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


def _unchanged(last: dict[str, Any] | None, sha256: str, run_id: str) -> bool:
    if last is None:
        return False
    return last.get("source_sha256") == sha256 and last.get("run_id") != run_id


def check_run_order(
    last: dict[str, Any] | None, dataset: str, run_id: str, run_time: datetime
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
) -> list[archive.ExtractedMember]:
    if config.compression != "zip":
        return [archive.ExtractedMember(got.name, got.key, got.bytes, got.sha256)]
    reader = objects.RangeReader(s3, config.bucket, got.key)
    with archive.open_zip(reader, got.name) as zipped:  # type: ignore[arg-type]
        wanted = archive.select_members(
            zipped,
            config.members or ("*",),
            archive_name=got.name,
            reserved=(got.name, *download.RESERVED_NAMES),
            limits=config.limits,
        )
        return archive.extract_members(
            zipped, wanted, s3, config.bucket, run_prefix, archive_name=got.name, progress=progress
        )


# ---------------------------------------------------------------------------- Lambda


def _truthy(value: Any) -> bool:
    return value is True or str(value).strip().lower() in ("true", "1", "yes")


def find_dataset_json(caller_file: str | None) -> Path:
    """`PPDW_DATASET_CONFIG`, `$LAMBDA_TASK_ROOT/dataset.json`, then beside the caller."""
    candidates: list[Path] = []
    if os.environ.get(lambda_env.DATASET_CONFIG):
        candidates.append(Path(os.environ[lambda_env.DATASET_CONFIG]))
    if os.environ.get("LAMBDA_TASK_ROOT"):
        candidates.append(Path(os.environ["LAMBDA_TASK_ROOT"]) / "dataset.json")
    if caller_file:
        folder = Path(caller_file).resolve().parent
        candidates += [folder / "dataset.json", folder.parent.parent / "config" / "dataset.json"]
    for candidate in candidates:
        if candidate.is_file():
            return candidate
    tried = ", ".join(str(c) for c in candidates) or "nothing"
    raise ConfigError(f"fetch handler cannot find dataset.json (tried {tried})")


def config_from_env(data: dict[str, Any], env: LambdaEnv) -> FetchConfig:
    """The FetchConfig of a dataset.json under the function's environment."""
    env.check_dataset(data.get("name"))
    return FetchConfig.from_dataset_json(data, bucket=env.bucket, prefix=env.prefix, **env.limits())


def lambda_handler(
    event: dict[str, Any], context: Any, *, session: Any | None = None
) -> dict[str, Any]:
    """The fetch Lambda: run the fetch step and keep the run record.

    `session` (anything with `.client(service)`) lets an in-process runner pass its
    target's clients; in Lambda, boto3's default chain is used.
    """
    caller = sys._getframe(1).f_globals.get("__file__")
    data = json.loads(find_dataset_json(caller).read_text(encoding="utf-8"))
    config = config_from_env(data, LambdaEnv.from_env(os.environ))
    client = session.client if session is not None else _lambda_clients()
    force = _truthy(event.get("force", False))
    source = event.get("source") or None
    run_id = str(event["run_id"])
    if not is_valid_run_id(run_id):
        raise UsageError(f"invalid run id {run_id!r}")
    s3, names = client("s3"), config.names
    lease = acquire(
        s3,
        config.bucket,
        names,
        holders.execution(run_id, names.state_machine),
        seconds=EXECUTION_LEASE_SECONDS,
        executions=holders.execution_status_from_sts(client),
        say=log.info,
    )
    try:
        with lease.heartbeat():
            result = _fetch_unless_applied(client, config, event, run_id, source, force, lease)
    except BaseException:
        release_after(lease, failed=True)
        raise
    if result is None or result.status != "unchanged":
        lease.leave()  # the execution's Glue jobs take it up
    else:
        lease.release()  # the execution ends here
    return {
        "status": "applied" if result is None else result.status,
        "run_id": run_id,
        "run_time": manifest.format_time(manifest.parse_time(str(event["run_time"]))),
        "force": "true" if force else "false",
        "source": download.describe(source or config.source_url),
        "members": [] if result is None else result.members,
        "bytes": 0 if result is None else result.manifest["bytes"],
    }


def _fetch_unless_applied(
    client: Callable[[str], Any],
    config: FetchConfig,
    event: dict[str, Any],
    run_id: str,
    source: str | None,
    force: bool,
    lease: Lease,
) -> FetchResult | None:
    """The fetch step, or None (nothing written) when the run was applied already."""
    if manifest.is_applied(manifest.read_run(client("s3"), config.bucket, config.names, run_id)):
        log.info("run %s of %s was applied already: nothing to do", run_id, config.dataset)
        return None
    return run_fetch_step(
        client,
        config,
        run_id=run_id,
        run_time=manifest.parse_time(str(event["run_time"])),
        source=source,
        force=force,
        fence=lease.check,
    )


def _lambda_clients() -> Callable[[str], Any]:
    """Clients in the Lambda's own region: Lambda sets AWS_REGION in every function."""
    region = os.environ.get("AWS_REGION")
    if not region:
        raise ConfigError(
            "environment variable AWS_REGION is not set",
            "the Lambda runtime sets it; elsewhere set it to the warehouse's region",
        )
    return functools.partial(objects.make_client, region=region)


def run_fetch_step(
    client: Callable[[str], Any],
    config: FetchConfig,
    *,
    run_id: str,
    run_time: datetime,
    source: str | None = None,
    force: bool = False,
    progress: Callable[[int, int | None], None] | None = None,
    extract_progress: Callable[[int, int | None], None] | None = None,
    sleep: Callable[[float], None] = time.sleep,
    fence: Callable[[], None] = lambda: None,
) -> FetchResult:
    """`fetch` plus the run record: started, fetch step recorded, finished if unchanged
    or failed. What the Lambda does, and what an in-process runner calls.

    `client(service)` returns a boto3 client (e.g. `AwsSession.client`); `fence` is the
    lease's check, called before the fetch is committed. A run that lost its lease
    records nothing: the record belongs to the run holding the lease now.
    """
    s3, names = client("s3"), config.names
    shown = download.describe(source or config.source_url)
    step = functools.partial(
        fetch,
        s3,
        config,
        run_id=run_id,
        run_time=run_time,
        source=source,
        force=force,
        secrets=client("secretsmanager") if config.auth_kind == "secretsmanager" else None,
        ssm=client("ssm") if config.auth_kind == "ssm" else None,
        progress=progress,
        extract_progress=extract_progress,
        sleep=sleep,
        fence=fence,
    )
    if guard_raw(s3, config, run_id) is not None:
        # Resuming with complete raw: the source is checked before the run record is
        # touched, so a refused retry leaves raw, bronze and silver (records too) as they were.
        started = manifest.format_time(manifest.utc_now())
        result = step()
        manifest.start_run(s3, config.bucket, names, run_id, run_time, source=shown)
        _record_success(s3, config, result, started)
        return result
    manifest.start_run(s3, config.bucket, names, run_id, run_time, source=shown)
    started = manifest.format_time(manifest.utc_now())
    try:
        result = step()
    except LeaseLostError:
        raise
    except Exception as error:
        _record_failure(s3, config, run_id, started, error)
        raise
    _record_success(s3, config, result, started)
    return result


def _record_failure(
    s3: Any, config: FetchConfig, run_id: str, started: str, error: Exception
) -> None:
    message = redact_text(str(error))
    step = {"status": "failed", "started_at": started, "error": message}
    step["finished_at"] = manifest.format_time(manifest.utc_now())
    manifest.update_step(s3, config.bucket, config.names, run_id, "fetch", step)
    manifest.finish_run(
        s3, config.bucket, config.names, run_id, "failed", error=f"fetch: {message}"
    )


def _record_success(s3: Any, config: FetchConfig, result: FetchResult, started: str) -> None:
    doc = result.manifest
    step = {
        "status": result.status,
        "started_at": started,
        "finished_at": manifest.format_time(manifest.utc_now()),
        **{k: doc.get(k) for k in ("source", "file", "bytes", "sha256", "etag", "last_modified")},
        "members": doc.get("members", []),
    }
    if result.status == "unchanged":
        step["unchanged_since"] = doc.get("unchanged_since")
    manifest.update_step(s3, config.bucket, config.names, result.run_id, "fetch", step)
    if result.status == "unchanged":
        manifest.finish_run(s3, config.bucket, config.names, result.run_id, "unchanged")
