"""What the silver step reads: each partition file once.

The merge reads the files holding live versions whole; the partition the run rewrites is
one of them, and its content is handed to the rewrite from that read instead of being
fetched and decoded a second time (at 1M rows that second read was ~1 s and a second copy
of the partition in memory).
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pytest

from ppdw.runtime import storage
from tests.functional._reliability import Warehouse
from tests.functional.test_silver_edges import T1, T2, changes, nsde_file, ran, silver_rows

pytestmark = pytest.mark.usefixtures("moto_aws")


def test_the_rewritten_partition_is_read_once(
    project: Path, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    wh = Warehouse(project)
    wh.boot("nsde")
    ran(wh, nsde_file(tmp_path, "day1"), T1, "reads-1")
    before = silver_rows(wh)

    whole_reads: list[str] = []
    read = storage.read_parquet

    def counting(s3: Any, bucket: str, key: str, columns: Any = None, dictionary: Any = ()) -> Any:
        if columns is None and "/silver/" in f"/{key}":
            whole_reads.append(key)
        return read(s3, bucket, key, columns, dictionary)

    monkeypatch.setattr(storage, "read_parquet", counting)
    ran(wh, nsde_file(tmp_path, "day2", names={1: "RENAMED PRODUCT"}), T2, "reads-2")

    assert changes(wh)["UPDATE"] == 1
    assert whole_reads == []  # the silver file was read once, by the merge's own read
    after = silver_rows(wh)
    assert len(after) == len(before) + 1  # the old version closed, the new one added
