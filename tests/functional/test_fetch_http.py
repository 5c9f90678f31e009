"""Fetch over HTTP from a local server: retries, failures, partial bodies, secrets."""

from __future__ import annotations

import base64
import json
import logging
import socket
import threading
import time
import urllib.error
from collections.abc import Iterator
from datetime import UTC, datetime
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from typing import Any
from urllib.parse import parse_qs, urlsplit

import boto3
import pytest

from ppdw.aws import objects
from ppdw.errors import PpdwError
from ppdw.runtime import download, manifest
from ppdw.runtime.fetch import FetchConfig, fetch, lambda_handler

REPO = Path(__file__).resolve().parents[2]
BUCKET = "pp-dw-123456789012"
T1 = datetime(2026, 11, 1, 6, 0, tzinfo=UTC)
SAMPLE = REPO / "fda/nsde/sample/2026-11-01/Comprehensive_NDC_SPL_Data_Elements_File.zip"
FAKE_KEY = "FAKE-UMLS-KEY-7c9e6679"


class Server(ThreadingHTTPServer):
    daemon_threads = True
    plan: list[str]
    payload: bytes
    requests: list[dict[str, Any]]
    extra_headers: dict[str, str]
    errors: list[str]

    def handle_error(self, request: Any, client_address: Any) -> None:
        # A client that timed out closes its socket; the late write fails here. Recorded,
        # not printed.
        self.errors.append(str(client_address))


class Handler(BaseHTTPRequestHandler):
    server: Server

    def log_message(self, format: str, *args: Any) -> None:
        """Keep the test output for assertions on what ppdw itself prints."""

    def do_GET(self) -> None:
        server = self.server
        server.requests.append({"path": self.path, "headers": dict(self.headers)})
        step = server.plan.pop(0) if server.plan else "ok"
        if step == "timeout":
            time.sleep(1.0)
            return
        if step.isdigit():
            self.send_response(int(step))
            self.send_header("Retry-After", "3") if step == "429" else None
            self.send_header("Content-Length", "0")
            self.end_headers()
            return
        self.send_response(200)
        for name, value in server.extra_headers.items():
            self.send_header(name, value)
        self.send_header("Content-Length", str(len(server.payload)))
        self.end_headers()
        if step == "partial":
            self.wfile.write(server.payload[: len(server.payload) // 2])
            self.wfile.flush()
            self.close_connection = True
            return
        self.wfile.write(server.payload)


@pytest.fixture
def server(monkeypatch: pytest.MonkeyPatch) -> Iterator[Server]:
    monkeypatch.setattr(download, "TIMEOUT_SECONDS", 0.3)
    httpd = Server(("127.0.0.1", 0), Handler)
    httpd.plan, httpd.requests, httpd.errors = [], [], []
    httpd.payload = SAMPLE.read_bytes()
    httpd.extra_headers = {"ETag": '"abc-123"', "Last-Modified": "Sun, 01 Nov 2026 05:00:00 GMT"}
    thread = threading.Thread(target=httpd.serve_forever, daemon=True)
    thread.start()
    yield httpd
    httpd.shutdown()
    httpd.server_close()
    thread.join(timeout=5)


@pytest.fixture
def s3(moto_aws: None) -> Any:
    client = boto3.client("s3", region_name="us-east-1")
    client.create_bucket(Bucket=BUCKET)
    return client


def _url(server: Server, path: str = "/Comprehensive_NDC_SPL_Data_Elements_File.zip") -> str:
    return f"http://127.0.0.1:{server.server_address[1]}{path}"


def _config(**changes: Any) -> FetchConfig:
    data = json.loads((REPO / "fda/nsde/config/dataset.json").read_text())
    config = FetchConfig.from_dataset_json(data, bucket=BUCKET, prefix="pp-dw")
    return FetchConfig(**{**config.__dict__, **changes})


def _everything(s3: Any) -> list[str]:
    keys = objects.list_keys(s3, BUCKET, "")
    uploads = s3.list_multipart_uploads(Bucket=BUCKET).get("Uploads", [])
    return keys + [f"upload:{u['Key']}" for u in uploads]


def test_http_fetch_records_etag_and_last_modified(s3: Any, server: Server) -> None:
    result = fetch(s3, _config(), run_id="r1", run_time=T1, source=_url(server))
    assert result.status == "fetched"
    assert result.manifest["etag"] == '"abc-123"'
    assert result.manifest["last_modified"] == "Sun, 01 Nov 2026 05:00:00 GMT"
    assert result.manifest["file"] == "Comprehensive_NDC_SPL_Data_Elements_File.zip"
    assert result.manifest["source"] == _url(server)


def test_retries_5xx_and_timeouts_with_exponential_backoff(s3: Any, server: Server) -> None:
    server.plan = ["500", "timeout", "503", "partial"]
    slept: list[float] = []
    result = fetch(s3, _config(), run_id="r1", run_time=T1, source=_url(server), sleep=slept.append)
    assert result.status == "fetched"
    assert slept == [1.0, 2.0, 4.0, 8.0]
    assert len(server.requests) == 5
    assert manifest.read_raw_manifest(s3, BUCKET, _config().names, "r1") is not None


def test_429_honours_retry_after(s3: Any, server: Server) -> None:
    server.plan = ["429"]
    slept: list[float] = []
    fetch(s3, _config(), run_id="r1", run_time=T1, source=_url(server), sleep=slept.append)
    assert slept == [3.0]


def test_404_fails_at_once(s3: Any, server: Server) -> None:
    server.plan = ["404"]
    slept: list[float] = []
    with pytest.raises(PpdwError, match="HTTP 404") as caught:
        fetch(s3, _config(), run_id="r1", run_time=T1, source=_url(server), sleep=slept.append)
    assert _url(server) in caught.value.message
    assert slept == []
    assert len(server.requests) == 1
    assert _everything(s3) == []


def _failing_dns(errno: int) -> Any:
    def opener(request: Any, timeout: float) -> Any:
        raise urllib.error.URLError(socket.gaierror(errno, "resolver says no"))

    return opener


def test_an_unknown_host_fails_at_once_naming_it(s3: Any) -> None:
    slept: list[float] = []
    with pytest.raises(PpdwError) as caught:
        fetch(
            s3,
            _config(),
            run_id="r1",
            run_time=T1,
            source="https://downloads.example.invalid/x.zip",
            opener=_failing_dns(socket.EAI_NONAME),
            sleep=slept.append,
        )
    assert "cannot resolve the host 'downloads.example.invalid'" in caught.value.message
    assert caught.value.hint == "check the host name in the source URL (and this machine's DNS)"
    assert slept == []
    assert _everything(s3) == []


def test_a_temporary_dns_failure_is_retried(s3: Any) -> None:
    slept: list[float] = []
    with pytest.raises(PpdwError, match="after 5 attempts"):
        fetch(
            s3,
            _config(),
            run_id="r1",
            run_time=T1,
            source="https://downloads.example.org/x.zip",
            opener=_failing_dns(socket.EAI_AGAIN),
            sleep=slept.append,
        )
    assert slept == [1.0, 2.0, 4.0, 8.0]


def test_partial_downloads_never_complete(s3: Any, server: Server) -> None:
    server.plan = ["partial"] * 5
    with pytest.raises(PpdwError, match="after 5 attempts") as caught:
        fetch(s3, _config(), run_id="r1", run_time=T1, source=_url(server), sleep=lambda _: None)
    assert "closed after" in caught.value.message
    assert _everything(s3) == []


def test_content_disposition_names_the_download(s3: Any, server: Server) -> None:
    server.extra_headers = {"Content-Disposition": 'attachment; filename="orange_book.zip"'}
    server.payload = b"a~b\n1~2\n"
    result = fetch(s3, _config(compression="none"), run_id="r1", run_time=T1,
                   source=_url(server, "/media/76860/download"))  # fmt: skip
    assert result.members == ["raw/nsde/run_id=r1/orange_book.zip"]


def test_url_credentials_are_sent_as_basic_auth_and_never_recorded(s3: Any, server: Server) -> None:
    url = _url(server).replace("http://", "http://alice:s3cretpw@")
    result = fetch(s3, _config(), run_id="r1", run_time=T1, source=url)
    sent = server.requests[0]["headers"]["Authorization"]
    assert base64.b64decode(sent.split()[1]) == b"alice:s3cretpw"
    stored = objects.get_bytes(s3, BUCKET, "raw/nsde/run_id=r1/_manifest.json")
    assert stored is not None
    assert b"s3cretpw" not in stored
    assert "s3cretpw" not in json.dumps(result.manifest)
    assert result.manifest["source"] == _url(server)


@pytest.fixture
def secret(s3: Any) -> Any:
    client = boto3.client("secretsmanager", region_name="us-east-1")
    client.create_secret(Name="ppdw/umls", SecretString=FAKE_KEY)
    return client


def _auth_config() -> FetchConfig:
    return _config(auth_kind="secretsmanager", auth_name="ppdw/umls")


def test_secret_is_sent_but_never_written_or_shown(
    s3: Any,
    server: Server,
    secret: Any,
    caplog: pytest.LogCaptureFixture,
    capsys: pytest.CaptureFixture[str],
) -> None:
    # botocore's own DEBUG log prints response bodies (the secret among them): that level
    # is never on in Lambda or without -v; everything ppdw logs is captured at DEBUG.
    caplog.set_level(logging.INFO)
    caplog.set_level(logging.DEBUG, logger="ppdw")
    server.plan = ["500"]
    result = fetch(s3, _auth_config(), run_id="r1", run_time=T1, source=_url(server),
                   secrets=secret, sleep=lambda _: None)  # fmt: skip
    sent = parse_qs(urlsplit(server.requests[-1]["path"]).query)
    assert sent["apiKey"] == [FAKE_KEY]
    written = b"".join(
        objects.get_bytes(s3, BUCKET, key) or b"" for key in objects.list_keys(s3, BUCKET, "")
    )
    assert FAKE_KEY.encode() not in written
    assert FAKE_KEY not in json.dumps(result.manifest)
    assert FAKE_KEY not in repr(result)
    captured = capsys.readouterr()
    assert FAKE_KEY not in caplog.text + captured.out + captured.err
    assert "retrying" in caplog.text, "the retry was logged (without the key)"


@pytest.mark.parametrize("plan", [["403"], ["500"] * 5, ["partial"] * 5])
def test_secret_never_in_errors(
    s3: Any,
    server: Server,
    secret: Any,
    plan: list[str],
    caplog: pytest.LogCaptureFixture,
) -> None:
    caplog.set_level(logging.INFO)
    caplog.set_level(logging.DEBUG, logger="ppdw")
    server.plan = list(plan)
    with pytest.raises(PpdwError) as caught:
        fetch(s3, _auth_config(), run_id="r1", run_time=T1, source=_url(server),
              secrets=secret, sleep=lambda _: None)  # fmt: skip
    error = caught.value
    chained = [error.__cause__, error.__context__]
    texts = [str(error), error.hint or "", caplog.text, *(repr(c) for c in chained if c)]
    assert all(FAKE_KEY not in text for text in texts)


def test_secret_from_ssm(s3: Any, server: Server) -> None:
    ssm = boto3.client("ssm", region_name="us-east-1")
    ssm.put_parameter(Name="/ppdw/umls", Value=FAKE_KEY, Type="SecureString")
    config = _config(auth_kind="ssm", auth_name="/ppdw/umls", auth_query_parameter="key")
    result = fetch(s3, config, run_id="r1", run_time=T1, source=_url(server), ssm=ssm)
    sent = parse_qs(urlsplit(server.requests[-1]["path"]).query)
    assert sent["key"] == [FAKE_KEY]
    assert FAKE_KEY not in json.dumps(result.manifest)


def test_missing_secret_fails_clearly(s3: Any, server: Server) -> None:
    client = boto3.client("secretsmanager", region_name="us-east-1")
    with pytest.raises(PpdwError, match="cannot read the source secret 'ppdw/umls'"):
        fetch(s3, _auth_config(), run_id="r1", run_time=T1, source=_url(server), secrets=client)
    assert server.requests == []


def test_lambda_handler_keeps_secret_out_of_result_and_run_record(
    s3: Any, server: Server, secret: Any, monkeypatch: pytest.MonkeyPatch, tmp_path: Path
) -> None:
    data = json.loads((REPO / "fda/nsde/config/dataset.json").read_text())
    data["source"]["auth"] = {"kind": "secretsmanager", "name": "ppdw/umls"}
    (tmp_path / "dataset.json").write_text(json.dumps(data))
    monkeypatch.setenv("PPDW_BUCKET", BUCKET)
    monkeypatch.setenv("LAMBDA_TASK_ROOT", str(tmp_path))
    monkeypatch.delenv("PPDW_DATASET_CONFIG", raising=False)
    event = {"run_id": "r1", "run_time": "2026-11-01T06:00:00Z", "source": _url(server),
             "force": "false"}  # fmt: skip
    result = lambda_handler(event, None)
    assert result["status"] == "fetched"
    assert FAKE_KEY not in json.dumps(result)
    record = objects.get_bytes(s3, BUCKET, "silver/_runs/nsde/r1.json")
    assert record is not None
    assert FAKE_KEY.encode() not in record
