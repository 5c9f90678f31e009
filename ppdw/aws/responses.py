"""An S3 answer built in-process, as botocore would have received it off the wire.

Rule: botocore only, no I/O and no moto. The embedded local target
(`ppdw.targets.s3_direct`) answers some S3 calls before they are sent; it hands the
status, headers and raw body here, and this module wraps them in botocore's response type
and has botocore parse them with the operation's own model, so the caller gets exactly
what a response from the network would have given.
"""

from __future__ import annotations

from typing import Any

from botocore.awsrequest import AWSResponse
from botocore.endpoint import convert_to_response_dict
from botocore.parsers import create_parser

#: What a `before-call` handler returns to answer a call: the HTTP response and its parse.
Answer = tuple[AWSResponse, dict[str, Any]]


def rest_xml_answer(url: str, status: int, headers: dict[str, str], raw: Any, model: Any) -> Answer:
    """The HTTP response of `status`, `headers` and `raw` (a stream with `stream()` and
    `read()`), and botocore's parse of it for the REST-XML operation `model`."""
    # AWSResponse wraps the plain dict in its own case-insensitive HTTPHeaders.
    http = AWSResponse(url, status, headers, raw)  # type: ignore[arg-type]
    response = convert_to_response_dict(http, model)
    parsed: dict[str, Any] = create_parser("rest-xml").parse(response, model.output_shape)
    parsed.setdefault("ResponseMetadata", {})["RetryAttempts"] = 0
    return http, parsed
