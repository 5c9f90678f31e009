"""Secrets never leave fetch: URL credentials and secret parameters are redacted."""

from __future__ import annotations

import pytest

from ppdw.runtime.redact import REDACTED, is_secret_param, redact_text, redact_url


@pytest.mark.parametrize(
    ("url", "expected"),
    [
        ("https://user:pw@host.example/f.zip", "https://host.example/f.zip"),
        ("https://host/f.zip?apiKey=abc123&x=1", "https://host/f.zip?apiKey=***&x=1"),
        (
            "https://uts-ws.nlm.nih.gov/download?url=https://x/y.zip&apiKey=K",
            "https://uts-ws.nlm.nih.gov/download?url=https://x/y.zip&apiKey=***",
        ),
        ("https://h/p?token=t&password=p", "https://h/p?token=***&password=***"),
        ("https://h/p?X-Amz-Signature=s&X-Amz-Credential=c", None),
        ("https://h/f.zip", "https://h/f.zip"),
        ("/tmp/local/file.zip", "/tmp/local/file.zip"),
    ],
)
def test_redact_url(url: str, expected: str | None) -> None:
    redacted = redact_url(url)
    if expected is not None:
        assert redacted == expected
    for secret in ("pw", "abc123", "=K", "=t&", "=p", "=s&", "=c"):
        if secret in url and secret not in (expected or ""):
            assert secret not in redacted


def test_redact_url_extra_parameter_names() -> None:
    assert (
        redact_url("https://h/f?licence=L1", extra_params=["licence"]) == "https://h/f?licence=***"
    )


@pytest.mark.parametrize("name", ["apiKey", "api_key", "APIKEY", "token", "client-secret", "sig"])
def test_secret_parameter_names(name: str) -> None:
    assert is_secret_param(name)


@pytest.mark.parametrize("name", ["url", "format", "date", "page"])
def test_plain_parameter_names(name: str) -> None:
    assert not is_secret_param(name)


def test_redact_text_removes_known_secret_and_its_url_encoding() -> None:
    secret = "s3cr3t/+=value"
    text = (
        f"failed with key {secret} at https://h/d?k2=1&apiKey=s3cr3t%2F%2B%3Dvalue "
        f"and again s3cr3t%2F%2B%3Dvalue and https://bob:hunter2@h/x"
    )
    out = redact_text(text, [secret, None])
    assert "s3cr3t" not in out
    assert "hunter2" not in out
    assert REDACTED in out
    assert "https://h/x" in out
