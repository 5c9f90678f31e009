"""Data-plane S3 object I/O against moto."""

from __future__ import annotations

import hashlib
import io
import zipfile
from typing import Any

import boto3
import pyarrow as pa
import pytest
from botocore.exceptions import EndpointConnectionError
from botocore.stub import Stubber

from ppdw.aws import objects, streams
from ppdw.errors import AwsError
from ppdw.runtime import storage

BUCKET = "pp-dw-123456789012"
MIB = 1024 * 1024


@pytest.fixture
def s3(moto_aws: None) -> Any:
    client = boto3.client("s3", region_name="us-east-1")
    client.create_bucket(Bucket=BUCKET)
    return client


def _uploads(s3: Any) -> list[dict[str, Any]]:
    return list(s3.list_multipart_uploads(Bucket=BUCKET).get("Uploads", []))


def test_json_round_trip_and_missing_is_none(s3: Any) -> None:
    assert objects.get_json(s3, BUCKET, "a/b.json") is None
    assert objects.get_bytes(s3, BUCKET, "a/b.json") is None
    assert not objects.exists(s3, BUCKET, "a/b.json")
    objects.put_json(s3, BUCKET, "a/b.json", {"z": 1, "a": [1, "é"]})
    assert objects.get_json(s3, BUCKET, "a/b.json") == {"z": 1, "a": [1, "é"]}
    assert objects.exists(s3, BUCKET, "a/b.json")


def test_missing_bucket_is_an_aws_error_naming_the_key(s3: Any) -> None:
    with pytest.raises(AwsError, match="s3://no-such-bucket-x/k"):
        objects.get_bytes(s3, "no-such-bucket-x", "k")


def test_put_if_absent_is_a_lock(s3: Any) -> None:
    assert objects.put_if_absent(s3, BUCKET, "locks/nsde", b"one")
    assert not objects.put_if_absent(s3, BUCKET, "locks/nsde", b"two")
    assert objects.get_bytes(s3, BUCKET, "locks/nsde") == b"one"


def test_list_and_delete_in_batches_of_1000(s3: Any) -> None:
    keys = [f"raw/x/run_id=r/{i:05d}.csv" for i in range(1203)]
    for key in keys:
        s3.put_object(Bucket=BUCKET, Key=key, Body=b"")
    s3.put_object(Bucket=BUCKET, Key="raw/y/other.csv", Body=b"12")
    assert objects.list_keys(s3, BUCKET, "raw/x/") == keys
    assert objects.list_prefixes(s3, BUCKET, "raw/") == ["raw/x/", "raw/y/"]
    calls: list[int] = []
    s3.meta.events.register(
        "before-parameter-build.s3.DeleteObjects",
        lambda params, **_: calls.append(len(params["Delete"]["Objects"])),
    )
    assert objects.delete_keys(s3, BUCKET, iter(keys)) == 1203
    assert calls == [1000, 203]
    assert objects.list_objects(s3, BUCKET, "raw/") == [objects.ObjectInfo("raw/y/other.csv", 2)]


def test_small_object_is_one_put(s3: Any) -> None:
    with streams.MultipartWriter(s3, BUCKET, "raw/small.bin") as writer:
        writer.write(b"hello ")
        writer.write(b"world")
    assert writer.sha256 == hashlib.sha256(b"hello world").hexdigest()
    assert writer.bytes_written == 11
    assert objects.get_bytes(s3, BUCKET, "raw/small.bin") == b"hello world"
    assert _uploads(s3) == []


def test_large_object_is_uploaded_in_parts(s3: Any) -> None:
    sizes: list[int] = []
    s3.meta.events.register(
        "before-parameter-build.s3.UploadPart",
        lambda params, **_: sizes.append(len(params["Body"])),
    )
    data = bytes(range(256)) * (20 * MIB // 256 + 17)
    with streams.MultipartWriter(s3, BUCKET, "raw/big.bin", part_size=8 * MIB) as writer:
        for start in range(0, len(data), 3 * MIB + 5):
            writer.write(data[start : start + 3 * MIB + 5])
    assert sizes == [8 * MIB, 8 * MIB, len(data) - 16 * MIB]
    body = objects.get_bytes(s3, BUCKET, "raw/big.bin")
    assert body == data
    assert writer.sha256 == hashlib.sha256(data).hexdigest()
    assert _uploads(s3) == []


def test_error_inside_writer_leaves_no_object_and_no_upload(s3: Any) -> None:
    def interrupted_upload() -> None:
        with streams.MultipartWriter(s3, BUCKET, "raw/p.bin") as writer:
            writer.write(b"x" * (9 * MIB))
            raise RuntimeError("connection reset")

    with pytest.raises(RuntimeError):
        interrupted_upload()
    assert not objects.exists(s3, BUCKET, "raw/p.bin")
    assert _uploads(s3) == []


def test_range_reader_serves_zipfile(s3: Any) -> None:
    buffer = io.BytesIO()
    with zipfile.ZipFile(buffer, "w", zipfile.ZIP_DEFLATED) as archive:
        archive.writestr("a.txt", b"alpha" * 100_000)
        archive.writestr("b/c.txt", b"charlie")
    s3.put_object(Bucket=BUCKET, Key="raw/z.zip", Body=buffer.getvalue())
    gets: list[str] = []
    s3.meta.events.register(
        "before-parameter-build.s3.GetObject",
        lambda params, **_: gets.append(params.get("Range", "")),
    )
    reader = streams.RangeReader(s3, BUCKET, "raw/z.zip", block_size=1024)
    with zipfile.ZipFile(reader) as archive:
        assert archive.namelist() == ["a.txt", "b/c.txt"]
        assert archive.read("b/c.txt") == b"charlie"
        assert archive.read("a.txt") == b"alpha" * 100_000
    assert gets
    assert all(g.startswith("bytes=") for g in gets)
    assert reader.seek(0, io.SEEK_END) == len(buffer.getvalue())


def test_bucket_state_is_exists_missing_or_forbidden_else_an_error(s3: Any) -> None:
    assert objects.bucket_state(s3, BUCKET) == "exists"
    assert objects.bucket_state(s3, "no-such-bucket-x") == "missing"
    # HeadBucket has no body: a bucket of another account answers a bare 403.
    with Stubber(s3) as stub:
        stub.add_client_error("head_bucket", "403", "Forbidden", 403)
        assert objects.bucket_state(s3, "someone-elses") == "forbidden"
    with Stubber(s3) as stub:
        stub.add_client_error("head_bucket", "400", "Bad Request", 400)
        with pytest.raises(AwsError, match="S3 head bucket odd failed: 400"):
            objects.bucket_state(s3, "odd")


def test_a_refused_write_names_the_action_the_key_and_the_permission_hint(s3: Any) -> None:
    with Stubber(s3) as stub:
        stub.add_client_error("put_object", "AccessDenied", "Access Denied", 403)
        with pytest.raises(AwsError) as caught:
            storage.write_parquet(s3, BUCKET, "silver/x.parquet", pa.table({"a": [1]}))
    assert str(caught.value).startswith(
        f"S3 put s3://{BUCKET}/silver/x.parquet failed: AccessDenied"
    )
    assert caught.value.hint is not None
    assert "deployer-policy" in caught.value.hint


def test_a_part_failing_in_the_background_aborts_the_upload_and_is_raised(s3: Any) -> None:
    numbers: list[int] = []

    def fail_second_part(params: dict[str, Any], **_: Any) -> None:
        numbers.append(params["PartNumber"])
        if params["PartNumber"] == 2:
            raise EndpointConnectionError(endpoint_url="https://s3.example")

    s3.meta.events.register("before-parameter-build.s3.UploadPart", fail_second_part)

    def upload() -> None:
        with streams.MultipartWriter(s3, BUCKET, "raw/failing.bin") as writer:
            for _ in range(8):  # 8 parts' worth: the failure surfaces at a later write
                writer.write(b"y" * streams.PART_SIZE)

    with pytest.raises(AwsError, match="multipart upload"):
        upload()
    assert numbers == [1, 2]  # no part is sent after the failed one
    assert not objects.exists(s3, BUCKET, "raw/failing.bin")
    assert _uploads(s3) == []


def test_a_large_table_is_written_in_parts_with_part_00000_last(
    s3: Any, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setattr(storage, "PART_MIN_ROWS", 4)
    puts: list[str] = []
    s3.meta.events.register(
        "before-parameter-build.s3.PutObject", lambda params, **_: puts.append(params["Key"])
    )
    table = pa.table({"k": [f"{i:03d}" for i in range(13)], "v": list(range(13))})
    written = storage.replace_folder(s3, BUCKET, "bronze/t/p=1/", table)
    assert written.files == 3
    assert written.rows == 13
    # part-00000 is the folder's "complete" marker (commit.resume_commit): uploaded last
    assert puts == [f"bronze/t/p=1/part-0000{i}.parquet" for i in (1, 2, 0)]
    assert storage.read_parquet_prefix(s3, BUCKET, "bronze/t/p=1/").equals(table)
    assert written.bytes == sum(
        s3.head_object(Bucket=BUCKET, Key=key)["ContentLength"] for key in puts
    )
    # a re-run with fewer rows replaces the folder: no stale part is left to be read
    smaller = table.slice(0, 5)
    assert storage.replace_folder(s3, BUCKET, "bronze/t/p=1/", smaller).files == 1
    assert objects.list_keys(s3, BUCKET, "bronze/t/p=1/") == ["bronze/t/p=1/part-00000.parquet"]
    assert storage.read_parquet_prefix(s3, BUCKET, "bronze/t/p=1/").equals(smaller)


def test_a_small_or_empty_table_is_one_part(s3: Any) -> None:
    assert len(storage.split_parts(pa.table({"a": list(range(10))}))) == 1
    empty = pa.table({"a": pa.array([], pa.int64())})
    written = storage.replace_folder(s3, BUCKET, "silver/rejects/", empty)
    assert written.files == 1
    assert written.rows == 0
    assert storage.read_parquet_prefix(s3, BUCKET, "silver/rejects/").num_rows == 0
