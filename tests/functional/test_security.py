"""Secrets never show, credentials in URLs are redacted, names and paths cannot escape
their folders, config files are size-limited and parsed safely.

The secret tests feed a fake UMLS key through Secrets Manager, serve the source from a
loopback HTTP server (which checks that the key really was sent), and then search every
byte a user or a reader could see for it: stdout and stderr of each command (`run`,
`run -v`, `status --json`), log records, and every object in the bucket (raw manifests,
run records, rejects, parquet).
"""

from __future__ import annotations

import json
import logging
from collections.abc import Iterator
from pathlib import Path

import boto3
import pytest

from ppdw.config.loader import MAX_CONFIG_BYTES
from tests.data.bad import make_bad
from tests.functional._reliability import SourceServer, Warehouse, describe, error_text

pytestmark = pytest.mark.usefixtures("moto_aws")

SECRET = "FAKE-umls-key-7f3a9c0e55"
SECRET_NAME = "pp-dw/umls-api-key"
PASSWORD = "pw-in-url-91b2"
AS_OF = "2026-11-01T06:00:00Z"


def _configure_rxnorm(root: Path, url: str) -> None:
    path = root / "fda" / "rxnorm" / "config" / "dataset.json"
    config = json.loads(path.read_text())
    config["source"]["url"] = url
    config["source"]["auth"] = {"kind": "secretsmanager", "name": SECRET_NAME}
    path.write_text(json.dumps(config, indent=2))


@pytest.fixture
def secret_warehouse(project: Path) -> Iterator[tuple[Warehouse, SourceServer]]:
    boto3.client("secretsmanager", region_name="us-east-1").create_secret(
        Name=SECRET_NAME, SecretString=SECRET
    )
    with SourceServer(make_bad.rxnorm_base()) as server:
        _configure_rxnorm(project, server.url)
        wh = Warehouse(project)
        wh.boot("rxnorm")
        yield wh, server


def _everything_visible(wh: Warehouse, caplog: pytest.LogCaptureFixture) -> dict[str, bytes]:
    seen = {f"output of call {i}": (r.stdout + r.stderr).encode() for i, r in enumerate(wh.runs)}
    seen["log records"] = caplog.text.encode()
    for key in wh.keys(""):
        seen[f"s3://{wh.bucket}/{key}"] = wh.body(key)
    return seen


def _leaks(seen: dict[str, bytes], *values: str) -> list[str]:
    """Where a value shows, with a little context around it."""
    found = []
    for where, data in seen.items():
        for value in values:
            at = data.find(value.encode())
            if at >= 0:
                found.append(f"{where}: ...{data[max(0, at - 120) : at + 40]!r}...")
    return found


def test_a_secret_is_used_but_never_shown(
    secret_warehouse: tuple[Warehouse, SourceServer], caplog: pytest.LogCaptureFixture
) -> None:
    wh, server = secret_warehouse
    caplog.set_level(logging.DEBUG, logger="ppdw")
    result = wh.cli("-v", "run", "rxnorm", "--runner", "local", "--as-of", AS_OF)
    assert result.exit_code == 0, describe(result)
    assert any(SECRET in values for q in server.queries for values in q.values()), (
        "the source was not asked with the key"
    )
    wh.status("rxnorm")
    wh.cli("status", "--json")
    assert _leaks(_everything_visible(wh, caplog), SECRET) == []


@pytest.mark.parametrize("status", [401, 500])
def test_a_failed_download_does_not_show_the_secret(
    secret_warehouse: tuple[Warehouse, SourceServer],
    caplog: pytest.LogCaptureFixture,
    monkeypatch: pytest.MonkeyPatch,
    status: int,
) -> None:
    wh, server = secret_warehouse
    server.status = status
    monkeypatch.setattr("ppdw.runtime.download.BACKOFF_BASE_SECONDS", 0)  # no waiting
    caplog.set_level(logging.DEBUG, logger="ppdw")
    result = wh.cli("-v", "run", "rxnorm", "--runner", "local", "--as-of", AS_OF)
    assert result.exit_code == 1, describe(result)
    assert str(status) in result.stderr, describe(result)
    assert server.queries, "the source was never asked"
    assert _leaks(_everything_visible(wh, caplog), SECRET) == []


def test_credentials_in_a_source_url_are_redacted_everywhere(
    project: Path, caplog: pytest.LogCaptureFixture
) -> None:
    caplog.set_level(logging.DEBUG, logger="ppdw")
    with SourceServer(make_bad.nsde_base()) as server:
        wh = Warehouse(project)
        wh.boot("nsde")
        url = server.url.replace("http://", f"http://someone:{PASSWORD}@")
        url += f"?token={PASSWORD}-t&apiKey={PASSWORD}-k"
        result = wh.cli("-v", "run", "nsde", "--runner", "local", "--source", url, "--as-of", AS_OF)
        assert result.exit_code == 0, describe(result)
        server.status = 500
        failed = wh.cli(
            "run", "nsde", "--runner", "local", "--source", url, "--as-of", "2026-11-02T06:00:00Z"
        )
        assert failed.exit_code == 1, describe(failed)
    wh.status("nsde")
    manifests = [k for k in wh.keys("raw/nsde/") if k.endswith("_manifest.json")]
    assert manifests, "no raw manifest written"
    assert _leaks(_everything_visible(wh, caplog), PASSWORD) == []


# ------------------------------------------------------------------- names and paths


def test_a_dataset_name_cannot_leave_its_folder(project: Path) -> None:
    wh = Warehouse(project)
    for name in ("../nsde", "nsde/../../config", "/etc", "NSDE"):
        result = wh.cli("run", name, "--runner", "local")
        assert result.exit_code == 2, describe(result)
        assert error_text(result), describe(result)


def test_a_run_id_cannot_leave_its_folder(project: Path, tmp_path: Path) -> None:
    wh = Warehouse(project)
    wh.boot("nsde")
    source = make_bad.build_base("nsde", tmp_path)
    for run_id in ("../../silver/x", "a/b", "..", "x y"):
        result = wh.run("nsde", source, AS_OF, run_id)
        assert result.exit_code == 2, describe(result)
    for layer in ("raw/", "bronze/", "silver/"):
        assert wh.keys(layer) == [], layer


def test_a_source_file_name_cannot_place_objects_outside_the_run_folder(
    project: Path, tmp_path: Path
) -> None:
    wh = Warehouse(project)
    wh.boot("nsde")
    folder = tmp_path / "weird name; $(rm -rf) ..%2F"
    folder.mkdir()
    source = folder / "..%2F..%2Fbronze%2Fx $name.zip"
    source.write_bytes(make_bad.nsde_base())
    result = wh.run("nsde", source, AS_OF, "nsde-weird")
    assert result.exit_code == 0, describe(result)
    raw = [k for k in wh.keys("") if k.startswith("raw/")]
    assert raw, "nothing written to raw"
    assert all(k.startswith("raw/nsde/run_id=nsde-weird/") for k in raw), raw
    assert all(".." not in k.split("/") for k in wh.keys("")), wh.keys("")


def test_a_sample_outside_the_dataset_folder_is_refused(project: Path) -> None:
    path = project / "fda" / "nsde" / "config" / "dataset.json"
    config = json.loads(path.read_text())
    config["source"]["samples"] = ["../../config/warehouse.json"]
    path.write_text(json.dumps(config))
    result = Warehouse(project).cli("validate")
    assert result.exit_code == 2, describe(result)
    assert "fda/nsde/config/dataset.json" in result.stderr
    assert "outside the dataset folder" in result.stderr


# ------------------------------------------------------------------------ config files


def test_an_oversized_config_file_is_refused_before_parsing(project: Path) -> None:
    path = project / "fda" / "nsde" / "config" / "dataset.json"
    config = json.loads(path.read_text())
    config["description"] = "x"
    text = json.dumps(config)
    path.write_text(text[:-1] + " " * (MAX_CONFIG_BYTES + 1) + "}")
    for args in (("validate",), ("run", "nsde", "--runner", "local")):
        result = Warehouse(project).cli(*args)
        assert result.exit_code == 2, describe(result)
        assert "fda/nsde/config/dataset.json" in result.stderr, describe(result)
        assert str(MAX_CONFIG_BYTES) in result.stderr, describe(result)


def test_a_config_file_with_a_duplicate_key_is_refused(project: Path) -> None:
    path = project / "config" / "warehouse.json"
    text = path.read_text()
    path.write_text(text.replace('"prefix": "pp-dw",', '"prefix": "pp-dw",\n  "prefix": "evil",'))
    result = Warehouse(project).cli("validate")
    assert result.exit_code == 2, describe(result)
    assert "config/warehouse.json: prefix" in result.stderr, describe(result)
    assert "duplicate" in result.stderr


def test_a_secret_value_in_config_is_refused(project: Path) -> None:
    path = project / "fda" / "rxnorm" / "config" / "dataset.json"
    config = json.loads(path.read_text())
    config["source"]["url"] += f"?apiKey={SECRET}"
    path.write_text(json.dumps(config))
    result = Warehouse(project).cli("validate")
    assert result.exit_code == 2, describe(result)
    assert "fda/rxnorm/config/dataset.json: source.url" in result.stderr, describe(result)
    assert SECRET not in result.stderr + result.stdout
