"""Keep secrets out of logs, manifests, errors and results.

Rule: standard library only; every URL or text that may hold a credential passes through
here before it is written or shown anywhere.
"""

from __future__ import annotations

import re
from collections.abc import Iterable
from urllib.parse import parse_qsl, quote, quote_plus, urlencode, urlsplit, urlunsplit

REDACTED = "***"

#: Query parameter names that carry credentials (compared lower case, `-`/`_` ignored).
_SECRET_PARAM = re.compile(
    r"(api_?key|apikey|key|token|access_?token|auth|authorization|password|passwd|pwd|"
    r"secret|client_?secret|signature|sig|credential|session_?token|"
    r"x_?amz_?(signature|credential|security_?token))$"
)


def is_secret_param(name: str) -> bool:
    return bool(_SECRET_PARAM.search(name.lower().replace("-", "_")))


def redact_url(url: str, extra_params: Iterable[str] = ()) -> str:
    """`https://u:p@host/f.zip?apiKey=K&x=1` -> `https://host/f.zip?apiKey=***&x=1`.

    Userinfo is dropped; secret-looking query parameters (and any named in
    `extra_params`) keep their name but lose their value. Non-URLs come back unchanged.
    """
    try:
        parts = urlsplit(url)
    except ValueError:
        return url
    if not parts.scheme or (not parts.netloc and not parts.query):
        return url
    netloc = parts.netloc.rsplit("@", 1)[-1]
    extra = {name.lower() for name in extra_params}
    query = parts.query
    if query:
        pairs = parse_qsl(query, keep_blank_values=True)
        query = urlencode(
            [(k, REDACTED if is_secret_param(k) or k.lower() in extra else v) for k, v in pairs],
            safe="*/:",
        )
    return urlunsplit((parts.scheme, netloc, parts.path, query, parts.fragment))


_URL_IN_TEXT = re.compile(r"[a-zA-Z][a-zA-Z0-9+.-]*://[^\s'\"<>]+")


def redact_text(text: str, secrets: Iterable[str | None] = ()) -> str:
    """Remove every known secret value, then redact any URL found in the text."""
    for secret in secrets:
        if secret:
            # Also its URL-encoded forms: that is how it travels in a query string.
            for form in {secret, quote(secret, safe=""), quote_plus(secret, safe="")}:
                text = text.replace(form, REDACTED)
    return _URL_IN_TEXT.sub(lambda match: redact_url(match.group(0)), text)
