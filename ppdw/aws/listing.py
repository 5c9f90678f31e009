"""Names of every resource of one kind in the account and region, page by page.

Rule: read-only list calls; a failure is an `AwsError` naming what was being listed.
"""

from __future__ import annotations

from collections.abc import Iterator

from ppdw.aws._common import aws_action
from ppdw.aws.session import AwsSession


def names(aws: AwsSession, service: str, operation: str, key: str, field: str) -> Iterator[str]:
    """`item[field]` of every item under `key` of every page of `service.operation`."""
    with aws_action(f"{service} {operation.replace('_', ' ')}"):
        for page in aws.client(service).get_paginator(operation).paginate():
            for item in page.get(key, []):
                yield str(item[field])
