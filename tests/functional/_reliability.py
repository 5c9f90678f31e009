"""Shared helpers of the reliability tests: a booted warehouse under moto, CLI calls, and
the two views a failed run must leave unchanged.

Rule: everything goes through the real CLI (`ppdw.cli.app.app` with `--target aws`), and
results are read back the way a user would: S3 objects, the Glue catalog, `status --json`.
"""

from __future__ import annotations

import hashlib
import io
import json
import threading
from collections.abc import Iterator
from dataclasses import dataclass, field
from functools import cached_property
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from typing import Any
from urllib.parse import parse_qs, urlsplit

import boto3
import pyarrow.parquet as pq
from typer.testing import CliRunner, Result

from ppdw.cli.app import app
from ppdw.config.loader import load_project
from tests.data.bad import make_bad
from tests.functional.pipeline_support import aws_target, make_core

#: moto's default account.
ACCOUNT = "123456789012"
#: Run records and rejects may change on a failed run; nothing else under silver/ may.
VOLATILE_SILVER = ("silver/_runs/", "silver/_rejects/")


@dataclass
class Warehouse:
    """A project copy deployed into moto, driven through the CLI."""

    root: Path
    runs: list[Result] = field(default_factory=list)

    # Loaded lazily: some tests break the config on purpose and only call the CLI.
    @cached_property
    def bucket(self) -> str:
        return load_project(self.root).warehouse.names.bucket(ACCOUNT)

    @cached_property
    def silver_db(self) -> str:
        return load_project(self.root).warehouse.database("silver")

    @cached_property
    def bronze_db(self) -> str:
        return load_project(self.root).warehouse.database("bronze")

    @cached_property
    def s3(self) -> Any:
        return boto3.client("s3", region_name="us-east-1")

    @cached_property
    def glue(self) -> Any:
        return boto3.client("glue", region_name="us-east-1")

    # CLI -------------------------------------------------------------------------------

    def cli(self, *args: str) -> Result:
        result = CliRunner().invoke(
            app, ["--project", str(self.root), "--target", "aws", *args], catch_exceptions=True
        )
        self.runs.append(result)
        return result

    def boot(self, *datasets: str) -> None:
        """`bootstrap-core` + `deploy DATASET...` when the CLI has them, else the minimal
        core the local runner needs (bucket, databases, uploaded dataset.json)."""
        probe = self.cli("bootstrap-core", "--help")
        if probe.exit_code != 0:
            make_core(aws_target(), load_project(self.root), list(datasets))
            return
        for args in (("bootstrap-core", "--yes"), ("deploy", "--yes", *datasets)):
            result = self.cli(*args)
            assert result.exit_code == 0, describe(result)

    def run(self, dataset: str, source: Path | str, as_of: str, run_id: str, *extra: str) -> Result:
        return self.cli(
            "run",
            dataset,
            "--runner",
            "local",
            "--source",
            str(source),
            "--as-of",
            as_of,
            "--run-id",
            run_id,
            *extra,
        )

    def status(self, dataset: str) -> dict[str, Any]:
        result = self.cli("status", dataset, "--json")
        assert result.exit_code == 0, describe(result)
        document = json.loads(result.stdout)
        (entry,) = [d for d in document["datasets"] if d["dataset"] == dataset]
        return dict(entry)

    # S3 and catalog views --------------------------------------------------------------

    def keys(self, prefix: str) -> list[str]:
        keys: list[str] = []
        paginator = self.s3.get_paginator("list_objects_v2")
        for page in paginator.paginate(Bucket=self.bucket, Prefix=prefix):
            keys.extend(item["Key"] for item in page.get("Contents", []))
        return sorted(keys)

    def body(self, key: str) -> bytes:
        data: bytes = self.s3.get_object(Bucket=self.bucket, Key=key)["Body"].read()
        return data

    def partitions(self, database: str, table: str) -> dict[tuple[str, ...], str]:
        """Partition values -> location, or {} when the table does not exist."""
        try:
            self.glue.get_table(DatabaseName=database, Name=table)
        except self.glue.exceptions.EntityNotFoundException:
            return {}
        found: dict[tuple[str, ...], str] = {}
        paginator = self.glue.get_paginator("get_partitions")
        for page in paginator.paginate(DatabaseName=database, TableName=table):
            for part in page["Partitions"]:
                found[tuple(part["Values"])] = part["StorageDescriptor"]["Location"]
        return found

    def table_columns(self, database: str, table: str) -> list[tuple[str, str]]:
        try:
            described = self.glue.get_table(DatabaseName=database, Name=table)["Table"]
        except self.glue.exceptions.EntityNotFoundException:
            return []
        return [(c["Name"], c["Type"]) for c in described["StorageDescriptor"]["Columns"]]

    def silver_snapshot(self, dataset: str) -> dict[str, Any]:
        """Every silver byte (bar run records and rejects) plus the silver catalog entry."""
        objects = {
            key: hashlib.sha256(self.body(key)).hexdigest()
            for key in self.keys("silver/")
            if not key.startswith(VOLATILE_SILVER)
        }
        return {
            "objects": objects,
            "partitions": self.partitions(self.silver_db, dataset),
            "columns": self.table_columns(self.silver_db, dataset),
        }

    def reader_rows(self, database: str, table: str) -> list[dict[str, Any]]:
        """What Athena would read: the files directly in each registered partition's
        location (Hive rules: names starting with `_` or `.` are hidden)."""
        rows: list[dict[str, Any]] = []
        for values, location in self.partitions(database, table).items():
            prefix = location.removeprefix(f"s3://{self.bucket}/").rstrip("/") + "/"
            for key in self.keys(prefix):
                name = key[len(prefix) :]
                if "/" in name or name.startswith(("_", ".")) or not name:
                    continue
                part = pq.read_table(io.BytesIO(self.body(key)))
                for row in part.to_pylist():
                    row["__partition__"] = values
                    rows.append(row)
        return sorted(rows, key=lambda r: json.dumps(r, sort_keys=True, default=str))

    def current(self, dataset: str) -> dict[str, dict[str, Any]]:
        """Current silver rows by their first business-key column."""
        key = load_project(self.root).dataset(dataset).business_key[0]
        rows = [r for r in self.reader_rows(self.silver_db, dataset) if r["is_current"]]
        by_key = {r[key]: r for r in rows}
        assert len(by_key) == len(rows), "more than one current version of a key"
        return by_key


class SourceServer:
    """Serves one file over loopback HTTP; records the query of every request.

    `status` other than 200 answers with that error; `truncate` > 0 makes that many next
    answers announce the whole length but close the connection half-way.
    """

    def __init__(self, body: bytes, status: int = 200, truncate: int = 0) -> None:
        self.body, self.status, self.truncate = body, status, truncate
        self.queries: list[dict[str, list[str]]] = []
        server = self

        class Handler(BaseHTTPRequestHandler):
            def do_GET(self) -> None:
                server.queries.append(parse_qs(urlsplit(self.path).query))
                self.send_response(server.status)
                payload = server.body if server.status == 200 else b"denied"
                self.send_header("Content-Length", str(len(payload)))
                self.end_headers()
                if server.status == 200 and server.truncate > 0:
                    server.truncate -= 1
                    payload = payload[: len(payload) // 2]
                    self.close_connection = True
                self.wfile.write(payload)

            def log_message(self, format: str, *args: object) -> None:
                del format, args

        self.httpd = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self.thread = threading.Thread(target=self.httpd.serve_forever, daemon=True)

    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self.httpd.server_address[1]}/RxNorm_full_prescribe.zip"

    def __enter__(self) -> SourceServer:
        self.thread.start()
        return self

    def __exit__(self, *exc: object) -> None:
        self.httpd.shutdown()
        self.httpd.server_close()


def describe(result: Result) -> str:
    """Everything a failing assertion should show about a CLI call."""
    text = f"exit {result.exit_code}\nstdout:\n{result.stdout}\nstderr:\n{result.stderr}"
    if result.exception is not None and not isinstance(result.exception, SystemExit):
        text += f"\nexception: {result.exception!r}"
    return text


def error_text(result: Result) -> str:
    """The `Error: ...` line (and the hint after it) a failed command printed on stderr."""
    lines = result.stderr.splitlines()
    starts = [i for i, line in enumerate(lines) if line.startswith("Error: ")]
    assert starts, f"no 'Error: ' line on stderr\n{describe(result)}"
    assert "Traceback" not in result.stderr, describe(result)
    return "\n".join(lines[starts[0] :])


def assert_mentions(message: str, groups: tuple[tuple[str, ...], ...]) -> None:
    lowered = message.lower()
    for group in groups:
        assert any(option.lower() in lowered for option in group), (
            f"message should name one of {group}:\n{message}"
        )


def set_silver_options(root: Path, dataset: str, **options: Any) -> None:
    path = root / "fda" / dataset / "config" / "dataset.json"
    config = json.loads(path.read_text())
    config["silver"].update(options)
    path.write_text(json.dumps(config, indent=2))


def set_quality(root: Path, dataset: str, **options: Any) -> None:
    path = root / "fda" / dataset / "config" / "dataset.json"
    config = json.loads(path.read_text())
    config["quality"].update(options)
    path.write_text(json.dumps(config, indent=2))


def base_source(tmp_path: Path, dataset: make_bad.Dataset) -> Path:
    return make_bad.build_base(dataset, tmp_path / "sources")


def next_source(tmp_path: Path, dataset: make_bad.Dataset) -> Path:
    """A good later snapshot: the base with exactly one record changed (1 UPDATE)."""
    folder = tmp_path / "sources" / dataset / "next"
    folder.mkdir(parents=True, exist_ok=True)
    path = folder / make_bad.BASE_FILE_NAMES[dataset]
    path.write_bytes(make_bad.NEXT[dataset]())
    return path


def find_values(document: Any, name: str) -> Iterator[Any]:
    """Every value stored under key `name` anywhere in a JSON document."""
    if isinstance(document, dict):
        for key, value in document.items():
            if key == name:
                yield value
            yield from find_values(value, name)
    elif isinstance(document, list):
        for item in document:
            yield from find_values(item, name)
