"""Zip checks happen on the whole archive before anything is extracted."""

from __future__ import annotations

import io
import zipfile

import pytest

from ppdw.errors import DataQualityError
from ppdw.runtime.archive import Limits, open_zip, select_members, unsafe_reason


def _zip(members: dict[str, bytes], compression: int = zipfile.ZIP_DEFLATED) -> zipfile.ZipFile:
    buffer = io.BytesIO()
    with zipfile.ZipFile(buffer, "w", compression) as archive:
        for name, data in members.items():
            archive.writestr(zipfile.ZipInfo(name), data, compress_type=compression)
    buffer.seek(0)
    return zipfile.ZipFile(buffer)


def _select(archive: zipfile.ZipFile, *patterns: str, limits: Limits = Limits()) -> list[str]:
    infos = select_members(
        archive,
        patterns,
        archive_name="x.zip",
        reserved=("x.zip", "_manifest.json"),
        limits=limits,
    )
    return [i.filename for i in infos]


@pytest.mark.parametrize(
    ("name", "reason"),
    [
        ("../evil.csv", "'..' in path"),
        ("rrf/../../evil.csv", "'..' in path"),
        ("/etc/passwd", "absolute path"),
        ("C:/Windows/x.csv", "drive letter"),
        ("c:evil.csv", "drive letter"),
        ("..\\evil.csv", "backslash in path"),
        ("", "empty or NUL in name"),
    ],
)
def test_unsafe_member_paths(name: str, reason: str) -> None:
    assert unsafe_reason(name) == reason


@pytest.mark.parametrize("name", ["a.csv", "rrf/RXNCONSO.RRF", "dir/", "a..b.csv", "x/y/z.txt"])
def test_safe_member_paths(name: str) -> None:
    assert unsafe_reason(name) is None


def test_selects_matching_members_in_zip_order() -> None:
    archive = _zip({"Readme.txt": b"r", "rrf/": b"", "rrf/RXNCONSO.RRF": b"1|", "rrf/B.RRF": b"2|"})
    assert _select(archive, "rrf/*.RRF") == ["rrf/RXNCONSO.RRF", "rrf/B.RRF"]
    assert _select(archive, "rrf/RXNCONSO.RRF") == ["rrf/RXNCONSO.RRF"]


def test_patterns_are_case_sensitive_and_folder_aware() -> None:
    archive = _zip({"data/File.CSV": b"a"})
    with pytest.raises(DataQualityError) as caught:
        _select(archive, "*.csv")
    assert caught.value.rule == "no_member"
    assert "x.zip" in str(caught.value)
    assert "data/File.CSV" in str(caught.value)


@pytest.mark.parametrize("bad", ["../escape.csv", "/abs.csv", "C:/d.csv"])
def test_unsafe_member_anywhere_fails_the_archive(bad: str) -> None:
    # Even when the bad member is not one we would extract: the archive is hostile.
    archive = _zip({"good.csv": b"a", bad: b"b"})
    with pytest.raises(DataQualityError) as caught:
        _select(archive, "good.csv")
    assert caught.value.rule == "archive_unsafe"
    assert "x.zip" in caught.value.message


def test_reserved_name_is_unsafe() -> None:
    archive = _zip({"_manifest.json": b"{}", "a.csv": b"a"})
    with pytest.raises(DataQualityError, match="archive_unsafe"):
        _select(archive, "*.csv")


def test_bomb_by_ratio() -> None:
    archive = _zip({"bomb.csv": b"0" * (8 * 1024 * 1024)})
    with pytest.raises(DataQualityError, match=r"archive_unsafe: x\.zip: member .bomb\.csv"):
        _select(archive, "*.csv")


def test_ratio_ignored_for_tiny_members() -> None:
    archive = _zip({"blank.csv": b" " * 100_000})
    assert _select(archive, "*.csv") == ["blank.csv"]


def test_total_uncompressed_size_is_bounded() -> None:
    archive = _zip({"a.csv": b"abc" * 1000, "b.csv": b"xyz" * 1000}, zipfile.ZIP_STORED)
    assert _select(archive, "*.csv", limits=Limits(max_uncompressed_bytes=6000)) == [
        "a.csv",
        "b.csv",
    ]
    with pytest.raises(DataQualityError, match="5999"):
        _select(archive, "*.csv", limits=Limits(max_uncompressed_bytes=5999))


def test_truncated_archive_is_corrupt() -> None:
    buffer = io.BytesIO()
    with zipfile.ZipFile(buffer, "w", zipfile.ZIP_DEFLATED) as archive:
        archive.writestr("a.csv", b"x" * 10_000)
    truncated = io.BytesIO(buffer.getvalue()[:-30])
    with pytest.raises(DataQualityError) as caught:
        open_zip(truncated, "cut.zip")
    assert caught.value.rule == "archive_corrupt"
    assert "cut.zip" in caught.value.message


def test_not_a_zip_is_named_as_such_not_as_a_truncated_download() -> None:
    with pytest.raises(DataQualityError) as caught:
        open_zip(io.BytesIO(b"<html>rate limited</html>"), "page.html")
    assert caught.value.message == (
        "archive_corrupt: page.html is not a zip archive (it starts with b'<htm')"
    )
    assert caught.value.hint is not None
    assert "truncated" not in caught.value.hint
    assert "give the zip file itself" in caught.value.hint


def test_encrypted_member_is_refused() -> None:
    archive = _zip({"a.csv": b"a"})
    archive.infolist()[0].flag_bits |= 0x1
    with pytest.raises(DataQualityError, match=r"archive_corrupt: .*encrypted"):
        _select(archive, "*.csv")
