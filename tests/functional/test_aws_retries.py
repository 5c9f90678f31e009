"""AWS calls ride out throttling: botocore's adaptive retry mode, configured on purpose.

A loopback endpoint answers STS with `Throttling` twice, then with the identity; the real
botocore stack (not a stub) must retry and succeed, and give up with a clear error when
the endpoint never recovers.
"""

from __future__ import annotations

import threading
from collections.abc import Iterator
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

import pytest

from ppdw.aws.session import make_session
from ppdw.aws.sts import caller_account
from ppdw.errors import TargetError

THROTTLED = b"""<ErrorResponse xmlns="https://sts.amazonaws.com/doc/2011-06-15/">
<Error><Type>Sender</Type><Code>Throttling</Code><Message>Rate exceeded</Message></Error>
<RequestId>1</RequestId></ErrorResponse>"""
IDENTITY = b"""<GetCallerIdentityResponse xmlns="https://sts.amazonaws.com/doc/2011-06-15/">
<GetCallerIdentityResult><Arn>arn:aws:iam::210987654321:user/ci</Arn>
<UserId>AIDA</UserId><Account>210987654321</Account></GetCallerIdentityResult>
<ResponseMetadata><RequestId>2</RequestId></ResponseMetadata></GetCallerIdentityResponse>"""


class Endpoint:
    def __init__(self, throttle: int) -> None:
        self.throttle = throttle
        self.requests = 0


@pytest.fixture
def sleeps(monkeypatch: pytest.MonkeyPatch) -> list[float]:
    """botocore's backoff waits, recorded instead of slept (the test stays fast)."""
    import botocore.endpoint

    waited: list[float] = []
    monkeypatch.setattr(botocore.endpoint.time, "sleep", waited.append)
    return waited


@pytest.fixture
def endpoint(request: pytest.FixtureRequest) -> Iterator[tuple[str, Endpoint]]:
    state = Endpoint(throttle=request.param)

    class Handler(BaseHTTPRequestHandler):
        def do_POST(self) -> None:
            self.rfile.read(int(self.headers.get("Content-Length", 0)))
            state.requests += 1
            throttled = state.requests <= state.throttle
            body = THROTTLED if throttled else IDENTITY
            self.send_response(400 if throttled else 200)
            self.send_header("Content-Type", "text/xml")
            self.send_header("Content-Length", str(len(body)))
            self.end_headers()
            self.wfile.write(body)

        def log_message(self, *args: object) -> None:
            pass

    server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    try:
        yield f"http://127.0.0.1:{server.server_port}", state
    finally:
        server.shutdown()
        server.server_close()


@pytest.mark.parametrize("endpoint", [2], indirect=True)
def test_throttled_calls_are_retried_until_they_succeed(
    endpoint: tuple[str, Endpoint], sleeps: list[float]
) -> None:
    url, state = endpoint
    aws = make_session(region="us-east-1", endpoint_url=url)
    assert caller_account(aws) == "210987654321"
    assert state.requests == 3
    assert len(sleeps) >= 2  # backed off before each retry
    assert all(wait > 0 for wait in sleeps[:2])
    retries = aws.client("sts").meta.config.retries
    assert retries["mode"] == "adaptive"


@pytest.mark.parametrize("endpoint", [1000], indirect=True)
def test_a_call_throttled_for_good_gives_up_with_a_clear_error(
    endpoint: tuple[str, Endpoint], sleeps: list[float]
) -> None:
    url, state = endpoint
    aws = make_session(region="us-east-1", endpoint_url=url)
    with pytest.raises(TargetError, match=r"cannot identify the AWS account: .*Throttling"):
        caller_account(aws)
    assert state.requests == aws.client("sts").meta.config.retries["total_max_attempts"]
