"""The local target's objects: bodies are plain files written once, and the in-process S3
path answers exactly as moto does (only faster)."""

from __future__ import annotations

import hashlib
import io
import json
import os
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
from botocore.exceptions import ClientError

from ppdw.aws.session import lean_client_config, make_session
from ppdw.config.loader import load_project
from ppdw.targets import TargetContext, bodies, open_target
from ppdw.targets import state as state_module
from ppdw.targets.local import local_session
from ppdw.targets.state import STATE_FILE, read_stamp, state_dir

BUCKET = "pp-dw-123456789012"
MIB = 1024 * 1024


def open_local(project: Path) -> TargetContext:
    loaded = load_project(project)
    return open_target(loaded.warehouse, "local", loaded.root)


def object_files(project: Path) -> list[Path]:
    return sorted(p for p in (state_dir(project) / "objects").rglob("*") if p.is_file())


def test_a_save_writes_metadata_only(project: Path) -> None:
    body = os.urandom(8 * MIB)
    target = open_local(project)
    s3 = target.aws.client("s3")
    s3.create_bucket(Bucket=BUCKET)
    s3.put_object(Bucket=BUCKET, Key="bronze/a.parquet", Body=body)
    target.close(True)
    assert [f.read_bytes() == body for f in object_files(project)] == [True]
    assert (state_dir(project) / STATE_FILE).stat().st_size < 512 * 1024
    again = open_local(project)
    try:
        got = again.aws.client("s3").get_object(Bucket=BUCKET, Key="bronze/a.parquet")
        assert got["Body"].read() == body
    finally:
        again.close(True)


def test_a_multipart_object_is_its_parts_written_once(project: Path) -> None:
    parts = [os.urandom(5 * MIB), os.urandom(5 * MIB), b"tail" * 1000]
    target = open_local(project)
    try:
        s3 = target.aws.client("s3")
        s3.create_bucket(Bucket=BUCKET)
        upload = s3.create_multipart_upload(Bucket=BUCKET, Key="raw/x.zip")["UploadId"]
        done = [
            {
                "PartNumber": n,
                "ETag": s3.upload_part(
                    Bucket=BUCKET, Key="raw/x.zip", UploadId=upload, PartNumber=n, Body=part
                )["ETag"],
            }
            for n, part in enumerate(parts, start=1)
        ]
        s3.complete_multipart_upload(
            Bucket=BUCKET, Key="raw/x.zip", UploadId=upload, MultipartUpload={"Parts": done}
        )
        whole = b"".join(parts)
        got = s3.get_object(Bucket=BUCKET, Key="raw/x.zip")
        assert got["Body"].read() == whole
        md5s = b"".join(hashlib.md5(p).digest() for p in parts)
        assert got["ETag"] == f'"{hashlib.md5(md5s).hexdigest()}-3"'
        span = s3.get_object(
            Bucket=BUCKET, Key="raw/x.zip", Range=f"bytes={5 * MIB - 3}-{5 * MIB + 2}"
        )
        assert span["Body"].read() == whole[5 * MIB - 3 : 5 * MIB + 3]
    finally:
        target.close(True)
    # Three part files, no fourth file holding a copy of the whole object.
    assert sorted(f.stat().st_size for f in object_files(project)) == sorted(map(len, parts))


def test_an_interrupted_command_leaves_files_that_the_next_save_removes(project: Path) -> None:
    target = open_local(project)
    target.aws.client("s3").create_bucket(Bucket=BUCKET)
    target.close(True)
    target = open_local(project)
    target.aws.client("s3").put_object(Bucket=BUCKET, Key="raw/half.bin", Body=b"x" * 100)
    try:
        raise KeyboardInterrupt
    except KeyboardInterrupt:
        target.close(False)
    assert len(object_files(project)) == 1  # written, but no saved state names it
    again = open_local(project)
    try:
        listed = again.aws.client("s3").list_objects_v2(Bucket=BUCKET).get("Contents", [])
        assert listed == []
    finally:
        again.close(True)
    assert object_files(project) == []


def test_the_account_is_what_moto_answers(project: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    for account in (None, "111122223333"):
        if account:
            monkeypatch.setenv("MOTO_ACCOUNT_ID", account)
        target = open_local(project)
        try:
            sts = target.aws.client("sts").get_caller_identity()
            assert target.account_id == sts["Account"] == (account or "123456789012")
        finally:
            target.close(True)


def _write_format_1_state(directory: Path, keys: dict[str, bytes]) -> None:
    """A state as the previous release saved it: bodies as content-addressed blobs."""
    from moto.core.base_backend import BackendDict

    from ppdw.targets.local import start_moto

    stop = start_moto()
    try:
        s3 = make_session(region="us-east-1").client("s3")
        s3.create_bucket(Bucket=BUCKET)
        for key, body in keys.items():
            s3.put_object(Bucket=BUCKET, Key=key, Body=body)
        blobs = state_module.BlobStore(directory / state_module.BLOBS_DIR)

        class Format1(state_module._StatePickler):
            def reducer_override(self, obj: Any) -> Any:  # no FakeKey reduction then
                if type(obj) is self._fake_key:
                    return NotImplemented
                return super().reducer_override(obj)

            def persistent_id(self, obj: Any) -> Any:
                if type(obj) is bytes and len(obj) >= state_module.INLINE_LIMIT:
                    return blobs.put(obj)
                return None

        buffer = io.BytesIO()
        stamp = {**state_module.asdict(state_module.Stamp.current()), "format": 1}
        buffer.write(state_module.MAGIC + json.dumps(stamp).encode() + b"\n")
        Format1(buffer, blobs, state_module.BodyStore(directory / "unused")).dump(
            state_module.capture_backends()
        )
        directory.mkdir(parents=True, exist_ok=True)
        (directory / STATE_FILE).write_bytes(buffer.getvalue())
    finally:
        stop()
        BackendDict.reset()


def test_a_state_of_the_previous_format_is_converted(project: Path) -> None:
    big, small = os.urandom(100_000), b"small body"
    directory = state_dir(project)
    _write_format_1_state(directory, {"bronze/big.bin": big, "raw/small.txt": small})
    assert read_stamp(directory).format == 1  # type: ignore[union-attr]
    assert any((directory / "blobs").rglob("*"))
    target = open_local(project)
    try:
        s3 = target.aws.client("s3")
        assert s3.get_object(Bucket=BUCKET, Key="bronze/big.bin")["Body"].read() == big
        assert s3.get_object(Bucket=BUCKET, Key="raw/small.txt")["Body"].read() == small
    finally:
        target.close(True)
    assert read_stamp(directory).format == state_module.FORMAT_VERSION  # type: ignore[union-attr]
    assert not [p for p in (directory / "blobs").rglob("*") if p.is_file()]
    assert sorted(f.read_bytes() for f in object_files(project)) == sorted([big, small])


# -- the in-process S3 path answers as moto does ----------------------------------------


def _comparable(response: dict[str, Any]) -> dict[str, Any]:
    """A response without what differs between any two calls (request ids, times)."""
    out = {k: v for k, v in response.items() if k not in ("ResponseMetadata",)}
    if "Body" in out:
        out["Body"] = out["Body"].read()
    for name in ("LastModified", "VersionId"):
        if name in out:
            out[name] = type(out[name]).__name__
    return out


def _without(value: Any, bucket: str) -> Any:
    """`value` with the bucket's name (in Bucket and Location) replaced by a placeholder."""
    if isinstance(value, str):
        return value.replace(bucket, "BUCKET")
    if isinstance(value, dict):
        return {k: _without(v, bucket) for k, v in value.items()}
    if isinstance(value, list | tuple):
        return type(value)(_without(v, bucket) for v in value)
    return value


def _outcome(call: Any) -> Any:
    try:
        return ("ok", _comparable(call()))
    except ClientError as error:
        return (
            "error",
            error.response["Error"]["Code"],
            error.response["ResponseMetadata"]["HTTPStatusCode"],
        )


@pytest.fixture
def both(moto_aws: None, tmp_path: Path) -> Iterator[tuple[Any, Any]]:
    """Two clients on one moto with the local target's file-backed bodies: one through the
    direct path, one through moto's HTTP handling, with the same client settings."""
    store = bodies.BodyStore(tmp_path / "objects")
    bodies.activate(store)
    try:
        direct = local_session("us-east-1").client("s3")
        plain = make_session(region="us-east-1")
        plain.config = plain.config.merge(lean_client_config())
        yield direct, plain.client("s3")
    finally:
        bodies.activate(None)
        store.close()


def _same_bucket_setup(s3: Any, bucket: str, *, versioned: bool, encrypted: bool) -> None:
    s3.create_bucket(Bucket=bucket)
    if versioned:
        s3.put_bucket_versioning(Bucket=bucket, VersioningConfiguration={"Status": "Enabled"})
    if encrypted:
        s3.put_bucket_encryption(
            Bucket=bucket,
            ServerSideEncryptionConfiguration={
                "Rules": [{"ApplyServerSideEncryptionByDefault": {"SSEAlgorithm": "AES256"}}]
            },
        )


RANGES = (
    "bytes=0-9",
    "bytes=100-",
    "bytes=-7",
    "bytes=0-999999999",
    "bytes=0-",
    "bytes=999999999-",
    "bytes=9-3",
    "bytes=-0",
    "bytes=1-2,4-5",
    "lines=1-2",
)


def _sequence(s3: Any, bucket: str) -> list[Any]:
    """The same object calls on `bucket`, each one's outcome."""
    body = bytes(range(256)) * 400
    seen = [
        _outcome(lambda: s3.put_object(Bucket=bucket, Key="a/b.bin", Body=body)),
        _outcome(
            lambda: s3.put_object(
                Bucket=bucket, Key="t.json", Body=b"{}", ContentType="application/json"
            )
        ),
        _outcome(lambda: s3.put_object(Bucket=bucket, Key="empty", Body=b"")),
        _outcome(lambda: s3.get_object(Bucket=bucket, Key="a/b.bin")),
        _outcome(lambda: s3.get_object(Bucket=bucket, Key="t.json")),
        _outcome(lambda: s3.get_object(Bucket=bucket, Key="empty")),
        _outcome(lambda: s3.head_object(Bucket=bucket, Key="a/b.bin")),
        _outcome(lambda: s3.get_object(Bucket=bucket, Key="missing")),
        _outcome(lambda: s3.get_object(Bucket=bucket + "-gone", Key="a/b.bin")),
        _outcome(lambda: s3.put_object(Bucket=bucket, Key="t.json", Body=b"1", IfNoneMatch="*")),
    ]
    for spec in RANGES:
        seen.append(
            _outcome(lambda spec=spec: s3.get_object(Bucket=bucket, Key="a/b.bin", Range=spec))
        )
    upload = s3.create_multipart_upload(Bucket=bucket, Key="m.bin")["UploadId"]
    part = _outcome(
        lambda: s3.upload_part(Bucket=bucket, Key="m.bin", UploadId=upload, PartNumber=1, Body=body)
    )
    parts = [{"PartNumber": 1, "ETag": part[1]["ETag"]}]
    seen += [
        part,
        _outcome(
            lambda: s3.complete_multipart_upload(
                Bucket=bucket, Key="m.bin", UploadId=upload, MultipartUpload={"Parts": parts}
            )
        ),
        _outcome(lambda: s3.get_object(Bucket=bucket, Key="m.bin")),
    ]
    return seen


@pytest.mark.parametrize(("versioned", "encrypted"), [(False, False), (True, False), (False, True)])
def test_object_calls_answer_as_moto_does(
    both: tuple[Any, Any], versioned: bool, encrypted: bool
) -> None:
    direct, plain = both
    results = []
    for s3, bucket in ((direct, "bucket-direct"), (plain, "bucket-plain")):
        _same_bucket_setup(s3, bucket, versioned=versioned, encrypted=encrypted)
        results.append(_without(_sequence(s3, bucket), bucket))
    assert results[0] == results[1]


def test_the_direct_path_is_the_one_answering(both: tuple[Any, Any]) -> None:
    """The comparison above would pass trivially if every call went to moto."""
    direct, _ = both
    direct.create_bucket(Bucket="bucket-direct")
    direct.put_object(Bucket="bucket-direct", Key="k", Body=b"x" * 10)
    from moto.core.models import botocore_stubber

    calls: list[str] = []
    original = botocore_stubber.process_request

    def spy(request: Any) -> Any:
        calls.append(f"{request.method} {request.url}")
        return original(request)

    botocore_stubber.process_request = spy  # type: ignore[method-assign]
    try:
        assert direct.get_object(Bucket="bucket-direct", Key="k")["Body"].read() == b"x" * 10
        direct.put_object(Bucket="bucket-direct", Key="k2", Body=b"y")
        direct.head_object(Bucket="bucket-direct", Key="k2")
    finally:
        del botocore_stubber.process_request
    assert [c.split()[0] for c in calls] == ["HEAD"]  # only the head went through moto's HTTP layer


def test_a_pickled_state_names_body_files_not_bytes(project: Path) -> None:
    body = os.urandom(200_000)
    target = open_local(project)
    s3 = target.aws.client("s3")
    s3.create_bucket(Bucket=BUCKET)
    s3.put_object(Bucket=BUCKET, Key="k", Body=body)
    target.close(True)
    assert body not in (state_dir(project) / STATE_FILE).read_bytes()
