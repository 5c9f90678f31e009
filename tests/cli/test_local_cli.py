"""`ppdw local reset|serve|export` through the CLI, as a user types them."""

from __future__ import annotations

import io
import json
from pathlib import Path

import pandas as pd
import pytest
from typer.testing import CliRunner

from ppdw.cli.app import app
from ppdw.config.loader import load_project
from ppdw.targets import open_target
from ppdw.targets.state import STATE_FILE, state_dir

BUCKET = "pp-dw-123456789012"


def invoke(project: Path, *args: str) -> tuple[int, str, str]:
    result = CliRunner().invoke(app, ["--project", str(project), *args])
    return result.exit_code, result.stdout, result.stderr


def seed(project: Path) -> bytes:
    """A warehouse with a parquet file and a manifest; returns the parquet bytes."""
    frame = pd.DataFrame({"ndc11": ["00002-1433-80", "00002-1434-80"], "rows": [1, 2]})
    buffer = io.BytesIO()
    frame.to_parquet(buffer, index=False)
    loaded = load_project(project)
    target = open_target(loaded.warehouse, "local", loaded.root)
    s3 = target.aws.client("s3")
    s3.create_bucket(Bucket=BUCKET)
    key = "bronze/bronze_nsde/partition_datetime=2024-01-01-000000/part-0.parquet"
    s3.put_object(Bucket=BUCKET, Key=key, Body=buffer.getvalue())
    s3.put_object(Bucket=BUCKET, Key="raw/nsde/run_id=r1/_manifest.json", Body=b'{"a": 1}')
    target.close(True)
    return buffer.getvalue()


def test_export_all_objects_writes_every_object_as_a_file(project: Path, tmp_path: Path) -> None:
    parquet = seed(project)
    out = tmp_path / "export"
    code, _, stderr = invoke(project, "local", "export", str(out), "--all-objects")
    assert code == 0, stderr
    part = out / "bronze/bronze_nsde/partition_datetime=2024-01-01-000000/part-0.parquet"
    assert part.read_bytes() == parquet
    assert pd.read_parquet(part)["ndc11"].tolist() == ["00002-1433-80", "00002-1434-80"]
    assert json.loads((out / "raw/nsde/run_id=r1/_manifest.json").read_text()) == {"a": 1}
    total = len(parquet) + len(b'{"a": 1}')
    assert "Exported 2 objects" in stderr
    assert f"{total:,} bytes" in stderr
    assert f"s3://{BUCKET}" in stderr


def test_export_without_a_bucket_says_how_to_create_it(project: Path, tmp_path: Path) -> None:
    code, _, stderr = invoke(project, "local", "export", str(tmp_path / "out"))
    assert code == 1
    assert f"Error: the local warehouse has no bucket {BUCKET} yet" in stderr
    assert "ppdw bootstrap-core" in stderr


def test_reset_deletes_the_state(project: Path) -> None:
    seed(project)
    assert (state_dir(project) / STATE_FILE).exists()
    code, _, stderr = invoke(project, "local", "reset", "--yes")
    assert code == 0, stderr
    assert "deleted" in stderr
    assert not (state_dir(project) / STATE_FILE).exists()
    assert [p for p in (state_dir(project) / "blobs").rglob("*") if p.is_file()] == []
    code, _, stderr = invoke(project, "local", "export", str(project / "out"))
    assert code == 1  # the bucket is gone with the state
    assert "has no bucket" in stderr


def test_reset_without_yes_when_not_interactive_is_a_usage_error(project: Path) -> None:
    seed(project)
    code, _, stderr = invoke(project, "local", "reset")
    assert code == 2
    assert "without --yes" in stderr
    assert (state_dir(project) / STATE_FILE).exists()


def test_incompatible_state_exits_2_with_the_reset_hint(project: Path, tmp_path: Path) -> None:
    seed(project)
    path = state_dir(project) / STATE_FILE
    magic, header, rest = path.read_bytes().split(b"\n", 2)
    stamp = json.loads(header)
    stamp["ppdw"] = "0.0.0-old"
    path.write_bytes(magic + b"\n" + json.dumps(stamp).encode() + b"\n" + rest)
    code, _, stderr = invoke(project, "local", "export", str(tmp_path / "out"))
    assert code == 2
    assert "written by ppdw 0.0.0-old" in stderr
    assert "Hint: run `ppdw local reset`" in stderr
    code, _, _ = invoke(project, "local", "reset", "--yes")
    assert code == 0
    assert not path.exists()


@pytest.mark.parametrize("command", [[], ["reset"], ["serve"], ["export"]])
def test_help_has_a_summary_and_an_example(project: Path, command: list[str]) -> None:
    code, stdout, _ = invoke(project, "local", *command, "--help")
    assert code == 0
    assert "Example: ppdw local" in stdout
