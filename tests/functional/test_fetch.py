"""Fetch from local paths and S3 into raw: members, manifest, unchanged, archive safety."""

from __future__ import annotations

import hashlib
import io
import json
import zipfile
import zlib
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import boto3
import pytest

from ppdw.aws import objects
from ppdw.errors import DataQualityError
from ppdw.naming import CoreNames
from ppdw.runtime import manifest
from ppdw.runtime.fetch import FetchConfig, fetch, lambda_handler
from tests.data.zips import repack

REPO = Path(__file__).resolve().parents[2]
BUCKET = "pp-dw-123456789012"
NAMES = CoreNames("pp-dw").dataset("nsde")
T1 = datetime(2026, 11, 1, 6, 0, tzinfo=UTC)
T2 = datetime(2026, 11, 2, 6, 0, tzinfo=UTC)
NSDE_SAMPLE = REPO / "fda/nsde/sample/2026-11-01/Comprehensive_NDC_SPL_Data_Elements_File.zip"
RXNORM_SAMPLE = REPO / "fda/rxnorm/sample/2026-09-08/RxNorm_full_prescribe_09082026.zip"


@pytest.fixture
def s3(moto_aws: None) -> Any:
    client = boto3.client("s3", region_name="us-east-1")
    client.create_bucket(Bucket=BUCKET)
    return client


def _config(dataset: str = "nsde", **changes: Any) -> FetchConfig:
    data = json.loads((REPO / f"fda/{dataset}/config/dataset.json").read_text())
    config = FetchConfig.from_dataset_json(data, bucket=BUCKET, prefix="pp-dw")
    return FetchConfig(**{**config.__dict__, **changes})


def _sha(data: bytes) -> str:
    return hashlib.sha256(data).hexdigest()


def _raw_keys(s3: Any, run_id: str, dataset: str = "nsde") -> list[str]:
    prefix = CoreNames("pp-dw").dataset(dataset).raw_run_prefix(run_id)
    return [k[len(prefix) :] for k in objects.list_keys(s3, BUCKET, prefix)]


def _zip_file(
    tmp_path: Path,
    members: dict[str, bytes],
    name: str = "src.zip",
    *,
    level: int | None = None,
    date_time: tuple[int, int, int, int, int, int] = (1980, 1, 1, 0, 0, 0),
) -> Path:
    buffer = io.BytesIO()
    with zipfile.ZipFile(buffer, "w", zipfile.ZIP_DEFLATED) as archive:
        for member, data in members.items():
            archive.writestr(zipfile.ZipInfo(member, date_time), data,
                             compress_type=zipfile.ZIP_DEFLATED, compresslevel=level)  # fmt: skip
    path = tmp_path / name
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_bytes(buffer.getvalue())
    return path


def _compressed_bytes(path: Path, member: str) -> bytes:
    """A member's data as stored: after its local header, `compress_size` bytes."""
    data = path.read_bytes()
    with zipfile.ZipFile(path) as archive:
        info = archive.getinfo(member)
    at = info.header_offset
    name_length = int.from_bytes(data[at + 26 : at + 28], "little")
    extra_length = int.from_bytes(data[at + 28 : at + 30], "little")
    start = at + 30 + name_length + extra_length
    return data[start : start + info.compress_size]


def _written(s3: Any) -> list[str]:
    """The keys of every object written through `s3` from now on (single or multipart)."""
    keys: list[str] = []
    for operation in ("PutObject", "CreateMultipartUpload"):
        s3.meta.events.register(
            f"before-parameter-build.s3.{operation}",
            lambda params, **_: keys.append(params["Key"]),
        )
    return keys


def test_fetch_local_zip_writes_download_member_and_manifest_last(s3: Any) -> None:
    puts: list[str] = []
    s3.meta.events.register(
        "before-parameter-build.s3.PutObject", lambda params, **_: puts.append(params["Key"])
    )
    result = fetch(s3, _config(), run_id="nsde-20261101-060000", run_time=T1,
                   source=str(NSDE_SAMPLE))  # fmt: skip
    prefix = NAMES.raw_run_prefix("nsde-20261101-060000")
    member = "Comprehensive_NDC_SPL_Data_Elements_File.csv"
    assert result.status == "fetched"
    assert result.members == [prefix + member]
    assert sorted(_raw_keys(s3, "nsde-20261101-060000")) == sorted(
        ["Comprehensive_NDC_SPL_Data_Elements_File.zip", member, "_manifest.json"]
    )
    assert puts[-1] == NAMES.raw_manifest_key("nsde-20261101-060000")
    data = NSDE_SAMPLE.read_bytes()
    with zipfile.ZipFile(NSDE_SAMPLE) as archive:
        csv_bytes = archive.read(member)
    assert objects.get_bytes(s3, BUCKET, prefix + member) == csv_bytes
    stored = manifest.read_raw_manifest(s3, BUCKET, NAMES, "nsde-20261101-060000")
    assert stored == result.manifest
    assert stored is not None
    assert stored["run_id"] == "nsde-20261101-060000"
    assert stored["run_time"] == "2026-11-01T06:00:00Z"
    assert stored["bytes"] == len(data)
    assert stored["sha256"] == _sha(data)
    assert stored["source"] == str(NSDE_SAMPLE)
    packed = _compressed_bytes(NSDE_SAMPLE, member)
    assert zlib.decompressobj(-15).decompress(packed) == csv_bytes, "exactly the deflate stream"
    assert stored["members"] == [
        {
            "name": member,
            "key": prefix + member,
            "bytes": len(csv_bytes),
            "sha256": _sha(csv_bytes),
            "compression": zipfile.ZIP_DEFLATED,
            "packed_sha256": _sha(packed),
        }
    ]


def test_fetch_rxnorm_extracts_only_configured_members_keeping_their_folder(s3: Any) -> None:
    result = fetch(s3, _config("rxnorm"), run_id="rx-1", run_time=T1,
                   source=f"file://{RXNORM_SAMPLE}")  # fmt: skip
    keys = _raw_keys(s3, "rx-1", "rxnorm")
    assert sorted(keys) == ["RxNorm_full_prescribe_09082026.zip", "_manifest.json",
                            "rrf/RXNCONSO.RRF"]  # fmt: skip
    assert result.members == ["raw/rxnorm/run_id=rx-1/rrf/RXNCONSO.RRF"]
    assert result.manifest["source"] == f"file://{RXNORM_SAMPLE}"


def test_fetch_uncompressed_file_is_its_own_member(s3: Any, tmp_path: Path) -> None:
    source = tmp_path / "data.csv"
    source.write_bytes(b"a,b\n1,2\n")
    result = fetch(s3, _config(compression="none", members=()), run_id="r1", run_time=T1,
                   source=str(source))  # fmt: skip
    assert result.members == ["raw/nsde/run_id=r1/data.csv"]
    assert sorted(_raw_keys(s3, "r1")) == ["_manifest.json", "data.csv"]
    assert result.manifest["members"][0]["sha256"] == _sha(b"a,b\n1,2\n")


def test_fetch_from_s3_source(s3: Any) -> None:
    s3.put_object(Bucket=BUCKET, Key="incoming/x.csv", Body=b"h\n1\n")
    result = fetch(s3, _config(compression="none"), run_id="r1", run_time=T1,
                   source=f"s3://{BUCKET}/incoming/x.csv")  # fmt: skip
    assert result.members == ["raw/nsde/run_id=r1/x.csv"]
    assert result.manifest["etag"]


def test_missing_local_path_names_the_path(s3: Any, tmp_path: Path) -> None:
    missing = tmp_path / "nope" / "file.zip"
    with pytest.raises(DataQualityError) as caught:
        fetch(s3, _config(), run_id="r1", run_time=T1, source=str(missing))
    assert caught.value.rule == "source_missing"
    assert str(missing) in caught.value.message
    assert _raw_keys(s3, "r1") == []


def test_unchanged_source_stops_after_raw_and_leaves_nothing(s3: Any) -> None:
    first = fetch(s3, _config(), run_id="r1", run_time=T1, source=str(NSDE_SAMPLE))
    manifest.write_last_success(s3, BUCKET, NAMES, "r1", T1, first.manifest["sha256"])
    again = fetch(s3, _config(), run_id="r2", run_time=T2, source=str(NSDE_SAMPLE))
    assert again.status == "unchanged"
    assert again.members == []
    assert again.manifest["unchanged_since"] == "r1"
    assert again.manifest["unchanged_by"] == "download"
    assert _raw_keys(s3, "r2") == []
    assert len(_raw_keys(s3, "r1")) == 3, "the earlier run is untouched"


def test_a_new_archive_of_the_same_files_is_unchanged_and_leaves_nothing(
    s3: Any, tmp_path: Path
) -> None:
    first = fetch(s3, _config(), run_id="r1", run_time=T1, source=str(NSDE_SAMPLE))
    manifest.write_last_success(s3, BUCKET, NAMES, "r1", T1, first.manifest["sha256"])
    repacked = repack(NSDE_SAMPLE, tmp_path / NSDE_SAMPLE.name, (2026, 11, 2, 5, 0, 0))
    again = fetch(s3, _config(), run_id="r2", run_time=T2, source=str(repacked))
    assert again.status == "unchanged"
    assert again.members == []
    assert again.manifest["unchanged_since"] == "r1"
    assert again.manifest["unchanged_by"] == "files"
    assert again.manifest["sha256"] == _sha(repacked.read_bytes())
    assert _raw_keys(s3, "r2") == [], "neither the download nor its files stay in raw"
    assert len(_raw_keys(s3, "r1")) == 3, "the earlier run is untouched"


def test_a_new_archive_with_one_changed_file_is_fetched(s3: Any, tmp_path: Path) -> None:
    first = fetch(s3, _config("rxnorm"), run_id="rx-1", run_time=T1, source=str(RXNORM_SAMPLE))
    rx_names = CoreNames("pp-dw").dataset("rxnorm")
    manifest.write_last_success(s3, BUCKET, rx_names, "rx-1", T1, first.manifest["sha256"])
    with zipfile.ZipFile(RXNORM_SAMPLE) as old:
        files = {info.filename: old.read(info) for info in old.infolist() if not info.is_dir()}
    wanted = next(name for name in files if name.endswith("RXNCONSO.RRF"))
    files[wanted] += files[wanted].splitlines(keepends=True)[-1].replace(b"|", b"|x", 1)
    changed = _zip_file(tmp_path, files, RXNORM_SAMPLE.name)
    result = fetch(s3, _config("rxnorm"), run_id="rx-2", run_time=T2, source=str(changed))
    assert result.status == "fetched"
    assert "rrf/RXNCONSO.RRF" in _raw_keys(s3, "rx-2", "rxnorm")


def test_same_files_as_a_run_that_is_not_the_last_applied_are_fetched(
    s3: Any, tmp_path: Path
) -> None:
    first = fetch(s3, _config(), run_id="r1", run_time=T1, source=str(NSDE_SAMPLE))
    second = REPO / "fda/nsde/sample/2026-11-02/Comprehensive_NDC_SPL_Data_Elements_File.zip"
    fetched = fetch(s3, _config(), run_id="r2", run_time=T2, source=str(second))
    manifest.write_last_success(s3, BUCKET, NAMES, "r2", T2, fetched.manifest["sha256"])
    repacked = repack(NSDE_SAMPLE, tmp_path / NSDE_SAMPLE.name, (2026, 11, 3, 5, 0, 0))
    t3 = datetime(2026, 11, 3, 6, 0, tzinfo=UTC)
    assert fetch(s3, _config(), run_id="r3", run_time=t3, source=str(repacked)).status == (
        "fetched"
    ), "the data went back to r1's: a change against the last applied run (r2)"
    assert first.status == "fetched"


CSV = b"PRODUCTNDC,NDC11,PROPRIETARYNAME\n" + b"".join(
    b"0409-%04d,0040966%04d,Drug %d\n" % (n, n, n) for n in range(2000)
)


def _first_run(s3: Any, tmp_path: Path) -> None:
    """Run r1 fetched `CSV` in a zip of level 6 and was applied."""
    first_zip = _zip_file(tmp_path / "1", {"data.csv": CSV}, "src.zip", level=6)
    first = fetch(s3, _config(members=("*.csv",)), run_id="r1", run_time=T1,
                  source=str(first_zip))  # fmt: skip
    manifest.write_last_success(s3, BUCKET, NAMES, "r1", T1, first.manifest["sha256"])


def test_a_member_stored_as_before_is_not_extracted_again(s3: Any, tmp_path: Path) -> None:
    _first_run(s3, tmp_path)
    again = _zip_file(tmp_path / "2", {"data.csv": CSV}, "src.zip", level=6,
                      date_time=(2026, 11, 2, 5, 0, 0))  # fmt: skip
    assert again.read_bytes() != (tmp_path / "1" / "src.zip").read_bytes()
    written = _written(s3)
    result = fetch(s3, _config(members=("*.csv",)), run_id="r2", run_time=T2,
                   source=str(again))  # fmt: skip
    assert result.status == "unchanged"
    assert result.manifest["unchanged_since"] == "r1"
    assert written == [NAMES.raw_run_prefix("r2") + "src.zip"], "only the download, to hash it"
    assert _raw_keys(s3, "r2") == []


def test_the_same_content_packed_otherwise_is_extracted_and_found_unchanged(
    s3: Any, tmp_path: Path
) -> None:
    _first_run(s3, tmp_path)
    again = _zip_file(tmp_path / "2", {"data.csv": CSV}, "src.zip", level=1)
    assert _compressed_bytes(again, "data.csv") != _compressed_bytes(
        tmp_path / "1" / "src.zip", "data.csv"
    )
    written = _written(s3)
    result = fetch(s3, _config(members=("*.csv",)), run_id="r2", run_time=T2,
                   source=str(again))  # fmt: skip
    assert result.status == "unchanged"
    assert NAMES.raw_run_prefix("r2") + "data.csv" in written, "extracted to compare its sha256"
    assert _raw_keys(s3, "r2") == [], "and removed again"


def test_a_member_recorded_with_another_compression_method_is_extracted(
    s3: Any, tmp_path: Path
) -> None:
    _first_run(s3, tmp_path)
    held = manifest.read_raw_manifest(s3, BUCKET, NAMES, "r1")
    assert held is not None
    held["members"][0]["compression"] = zipfile.ZIP_BZIP2  # the same bytes, read otherwise
    manifest.write_raw_manifest(s3, BUCKET, NAMES, "r1", held)
    again = _zip_file(tmp_path / "2", {"data.csv": CSV}, "src.zip", level=6,
                      date_time=(2026, 11, 2, 5, 0, 0))  # fmt: skip
    written = _written(s3)
    result = fetch(s3, _config(members=("*.csv",)), run_id="r2", run_time=T2,
                   source=str(again))  # fmt: skip
    assert NAMES.raw_run_prefix("r2") + "data.csv" in written
    assert result.status == "unchanged", "its content, compared after extraction, is the same"


def test_a_changed_member_or_a_new_one_is_fetched(s3: Any, tmp_path: Path) -> None:
    _first_run(s3, tmp_path)
    changed = _zip_file(tmp_path / "2", {"data.csv": CSV.replace(b"Drug 7\n", b"Drug 8\n")})
    config = _config(members=("*.csv",))
    assert fetch(s3, config, run_id="r2", run_time=T2, source=str(changed)).status == "fetched"
    assert sorted(_raw_keys(s3, "r2")) == ["_manifest.json", "data.csv", "src.zip"]
    added = _zip_file(tmp_path / "3", {"data.csv": CSV, "more.csv": b"a\n"}, level=6)
    t3 = datetime(2026, 11, 3, 6, 0, tzinfo=UTC)
    assert fetch(s3, config, run_id="r3", run_time=t3, source=str(added)).status == "fetched"


def test_force_fetches_a_new_archive_of_the_same_files(s3: Any, tmp_path: Path) -> None:
    first = fetch(s3, _config(), run_id="r1", run_time=T1, source=str(NSDE_SAMPLE))
    manifest.write_last_success(s3, BUCKET, NAMES, "r1", T1, first.manifest["sha256"])
    repacked = repack(NSDE_SAMPLE, tmp_path / NSDE_SAMPLE.name, (2026, 11, 2, 5, 0, 0))
    forced = fetch(s3, _config(), run_id="r2", run_time=T2, source=str(repacked), force=True)
    assert forced.status == "fetched"
    assert len(_raw_keys(s3, "r2")) == 3


def test_force_fetches_an_unchanged_source(s3: Any) -> None:
    first = fetch(s3, _config(), run_id="r1", run_time=T1, source=str(NSDE_SAMPLE))
    manifest.write_last_success(s3, BUCKET, NAMES, "r1", T1, first.manifest["sha256"])
    forced = fetch(s3, _config(), run_id="r2", run_time=T2, source=str(NSDE_SAMPLE), force=True)
    assert forced.status == "fetched"
    assert len(_raw_keys(s3, "r2")) == 3
    assert forced.manifest["force"] is True


def test_refetching_the_last_successful_run_is_not_unchanged(s3: Any) -> None:
    first = fetch(s3, _config(), run_id="r1", run_time=T1, source=str(NSDE_SAMPLE))
    manifest.write_last_success(s3, BUCKET, NAMES, "r1", T1, first.manifest["sha256"])
    again = fetch(s3, _config(), run_id="r1", run_time=T1, source=str(NSDE_SAMPLE))
    assert again.status == "fetched"
    assert len(_raw_keys(s3, "r1")) == 3


def test_a_run_not_later_than_the_last_success_is_refused_before_writing(s3: Any) -> None:
    first = fetch(s3, _config(), run_id="r2", run_time=T2, source=str(NSDE_SAMPLE))
    manifest.write_last_success(s3, BUCKET, NAMES, "r2", T2, first.manifest["sha256"])
    for run_time in (T1, T2):
        with pytest.raises(DataQualityError, match="out_of_order"):
            fetch(s3, _config(), run_id="r9", run_time=run_time, source=str(NSDE_SAMPLE))
    assert _raw_keys(s3, "r9") == []


def test_changed_source_is_fetched(s3: Any) -> None:
    manifest.write_last_success(s3, BUCKET, NAMES, "r0", T1, "0" * 64)
    second = REPO / "fda/nsde/sample/2026-11-02/Comprehensive_NDC_SPL_Data_Elements_File.zip"
    assert fetch(s3, _config(), run_id="r2", run_time=T2, source=str(second)).status == "fetched"


def test_refetch_replaces_stale_objects_of_the_same_run(s3: Any, tmp_path: Path) -> None:
    s3.put_object(Bucket=BUCKET, Key="raw/nsde/run_id=r1/stale.csv", Body=b"old")
    fetch(s3, _config(), run_id="r1", run_time=T1, source=str(NSDE_SAMPLE))
    assert "stale.csv" not in _raw_keys(s3, "r1")


@pytest.mark.parametrize(
    ("members", "rule"),
    [
        ({"../evil.csv": b"x", "ok.csv": b"a"}, "archive_unsafe"),
        ({"/abs/evil.csv": b"x", "ok.csv": b"a"}, "archive_unsafe"),
        ({"C:/evil.csv": b"x", "ok.csv": b"a"}, "archive_unsafe"),
        ({"ok.csv": b"0" * (4 * 1024 * 1024)}, "archive_unsafe"),
        ({"readme.txt": b"no csv here"}, "no_member"),
    ],
)
def test_unsafe_archives_write_no_member_and_no_manifest(
    s3: Any, tmp_path: Path, members: dict[str, bytes], rule: str
) -> None:
    source = _zip_file(tmp_path, members)
    config = _config(max_compression_ratio=100)
    with pytest.raises(DataQualityError) as caught:
        fetch(s3, config, run_id="r1", run_time=T1, source=str(source))
    assert caught.value.rule == rule
    assert "src.zip" in caught.value.message
    assert _raw_keys(s3, "r1") == ["src.zip"], "only the download, kept as evidence"


def test_uncompressed_size_limit(s3: Any, tmp_path: Path) -> None:
    source = _zip_file(tmp_path, {"a.csv": b"abc" * 1000})
    with pytest.raises(DataQualityError, match="archive_unsafe"):
        fetch(s3, _config(max_uncompressed_bytes=2999), run_id="r1", run_time=T1,
              source=str(source))  # fmt: skip
    assert _raw_keys(s3, "r1") == ["src.zip"]


def test_truncated_zip_is_corrupt(s3: Any, tmp_path: Path) -> None:
    good = _zip_file(tmp_path, {"a.csv": b"x,y\n" * 5000})
    cut = tmp_path / "cut.zip"
    cut.write_bytes(good.read_bytes()[: good.stat().st_size // 2])
    with pytest.raises(DataQualityError) as caught:
        fetch(s3, _config(), run_id="r1", run_time=T1, source=str(cut))
    assert caught.value.rule == "archive_corrupt"
    assert "cut.zip" in caught.value.message
    assert _raw_keys(s3, "r1") == ["cut.zip"]


def test_damaged_member_removes_members_already_extracted(s3: Any, tmp_path: Path) -> None:
    path = _zip_file(tmp_path, {"a.csv": b"first,file\n" * 100, "b.csv": b"second\n" * 4000})
    data = bytearray(path.read_bytes())
    with zipfile.ZipFile(path) as archive:
        info = archive.getinfo("b.csv")
    start = info.header_offset + 30 + len(info.filename) + 20
    data[start : start + 8] = bytes(8)  # garbage inside b.csv's compressed stream
    path.write_bytes(bytes(data))
    with pytest.raises(DataQualityError) as caught:
        fetch(s3, _config(), run_id="r1", run_time=T1, source=str(path))
    assert caught.value.rule == "archive_corrupt"
    assert _raw_keys(s3, "r1") == ["src.zip"]


def test_a_member_whose_local_header_is_damaged_is_corrupt_and_nothing_is_extracted(
    s3: Any, tmp_path: Path
) -> None:
    path = _zip_file(tmp_path, {"a.csv": b"first,file\n" * 100, "b.csv": b"second\n" * 4000})
    data = bytearray(path.read_bytes())
    with zipfile.ZipFile(path) as archive:
        info = archive.getinfo("b.csv")
    data[info.header_offset : info.header_offset + 4] = b"XXXX"  # no local header signature
    path.write_bytes(bytes(data))
    with pytest.raises(DataQualityError) as caught:
        fetch(s3, _config(), run_id="r1", run_time=T1, source=str(path))
    assert caught.value.rule == "archive_corrupt"
    assert "b.csv" in caught.value.message
    assert "nothing was extracted" in caught.value.message
    assert _raw_keys(s3, "r1") == ["src.zip"]


# ------------------------------------------------------------------------- Lambda


@pytest.fixture
def lambda_env(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("PPDW_BUCKET", BUCKET)
    monkeypatch.setenv("PPDW_PREFIX", "pp-dw")
    monkeypatch.setenv("PPDW_DATASET", "nsde")
    monkeypatch.setenv("PPDW_DATASET_CONFIG", str(REPO / "fda/nsde/config/dataset.json"))


def _event(run_id: str, when: datetime, force: str = "false") -> dict[str, Any]:
    return {"run_id": run_id, "run_time": manifest.format_time(when),
            "source": str(NSDE_SAMPLE), "force": force}  # fmt: skip


@pytest.mark.usefixtures("lambda_env")
def test_lambda_handler_result_and_run_record(s3: Any) -> None:
    result = lambda_handler(_event("nsde-20261101-060000", T1), None)
    assert result == {
        "status": "fetched",
        "run_id": "nsde-20261101-060000",
        "run_time": "2026-11-01T06:00:00Z",
        "force": "false",
        "source": str(NSDE_SAMPLE),
        "members": [
            "raw/nsde/run_id=nsde-20261101-060000/Comprehensive_NDC_SPL_Data_Elements_File.csv"
        ],
        "bytes": NSDE_SAMPLE.stat().st_size,
    }
    record = manifest.read_run(s3, BUCKET, NAMES, "nsde-20261101-060000")
    assert record is not None
    assert record["status"] == "running"
    assert record["steps"]["fetch"]["status"] == "fetched"
    assert record["steps"]["fetch"]["sha256"] == _sha(NSDE_SAMPLE.read_bytes())


@pytest.mark.usefixtures("lambda_env")
def test_lambda_handler_unchanged_finishes_the_run(s3: Any) -> None:
    manifest.write_last_success(s3, BUCKET, NAMES, "r1", T1, _sha(NSDE_SAMPLE.read_bytes()))
    result = lambda_handler(_event("r2", T2), None)
    assert result["status"] == "unchanged"
    record = manifest.read_run(s3, BUCKET, NAMES, "r2")
    assert record is not None
    assert record["status"] == "unchanged"
    assert record["finished_at"]
    assert lambda_handler(_event("r3", T2, force="true"), None)["status"] == "fetched"


@pytest.mark.usefixtures("lambda_env")
def test_lambda_handler_failure_marks_the_run_failed(s3: Any, tmp_path: Path) -> None:
    event = {**_event("r1", T1), "source": str(tmp_path / "missing.zip")}
    with pytest.raises(DataQualityError, match="source_missing"):
        lambda_handler(event, None)
    record = manifest.read_run(s3, BUCKET, NAMES, "r1")
    assert record is not None
    assert record["status"] == "failed"
    assert "missing.zip" in record["error"]
    assert record["steps"]["fetch"]["status"] == "failed"


def test_dataset_app_finds_its_dataset_json_beside_the_caller(
    s3: Any, monkeypatch: pytest.MonkeyPatch
) -> None:
    import runpy

    monkeypatch.setenv("PPDW_BUCKET", BUCKET)
    monkeypatch.delenv("PPDW_DATASET_CONFIG", raising=False)
    monkeypatch.delenv("LAMBDA_TASK_ROOT", raising=False)
    app = runpy.run_path(str(REPO / "fda/rxnorm/lambdas/fetch/app.py"))
    event = {"run_id": "rx-1", "run_time": "2026-09-08T06:00:00Z",
             "source": str(RXNORM_SAMPLE), "force": False}  # fmt: skip
    result = app["handler"](event, None)
    assert result["members"] == ["raw/rxnorm/run_id=rx-1/rrf/RXNCONSO.RRF"]
