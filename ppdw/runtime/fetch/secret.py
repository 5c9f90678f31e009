"""The source's secret: read by name, sent as a query parameter of the request only.

Rule: standard library and the clients given (the fetch Lambda imports it). Secrets
(`auth_kind` secretsmanager|ssm) are redacted from every log line, error, manifest and
result by the callers (`ppdw.runtime.redact`); nothing here logs them.
"""

from __future__ import annotations

import json
from typing import Any
from urllib.parse import parse_qsl, urlencode, urlsplit, urlunsplit

from ppdw.aws import secrets as aws_secrets
from ppdw.errors import AwsError, ConfigError, PpdwError
from ppdw.runtime.fetch.config import FetchConfig


def read_secret(config: FetchConfig, secrets: Any | None, ssm: Any | None) -> str | None:
    """The source's secret, read by name; None when the source needs none."""
    if not config.auth_kind:
        return None
    name = config.auth_name or ""
    try:
        if config.auth_kind == "secretsmanager":
            if secrets is None:
                raise ConfigError("a Secrets Manager client is needed to read the source's secret")
            text = aws_secrets.secret_string(secrets, name)
            return _secret_from_text(text, config.auth_query_parameter)
        if config.auth_kind == "ssm":
            if ssm is None:
                raise ConfigError("an SSM client is needed to read the source's secret")
            return aws_secrets.parameter_value(ssm, name)
    except (AwsError, KeyError) as error:
        # Named by the AWS failure's own kind (ClientError, ...), never by its message.
        raise PpdwError(
            f"cannot read the source secret {name!r} from {config.auth_kind} "
            f"({type(error.__cause__ or error).__name__})",
            "create it, or let the role read it",
        ) from None
    raise ConfigError(f"unknown auth kind {config.auth_kind!r}")


def _secret_from_text(text: str, parameter: str) -> str:
    """A plain secret string, or a JSON object holding it under `parameter` or alone."""
    try:
        document = json.loads(text)
    except ValueError:
        return text
    if isinstance(document, dict):
        if parameter in document:
            return str(document[parameter])
        if len(document) == 1:
            return str(next(iter(document.values())))
    return text


def with_query_parameter(url: str, name: str, value: str) -> str:
    parts = urlsplit(url)
    pairs = [(k, v) for k, v in parse_qsl(parts.query, keep_blank_values=True) if k != name]
    return urlunsplit(parts._replace(query=urlencode([*pairs, (name, value)])))
