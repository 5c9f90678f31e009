"""Shared helpers of the AWS wrappers: error codes become domain answers or `AwsError`.

A wrapper catches botocore errors where it knows what it was doing, so the message names
the action and the resource; nothing outside `ppdw/aws/` ever sees a botocore exception.
"""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager

from ppdw.aws.errors import DENIED_HINT, BotoCoreError, ClientError, error_code, is_code
from ppdw.errors import AwsError

#: The refusals that get the hint (a head call's bare "403" is worded by its caller).
_DENIED = ("AccessDenied", "AccessDeniedException", "UnauthorizedOperation")

__all__ = ["aws_action", "error_code", "is_code", "tag_dict", "tag_list"]


@contextmanager
def aws_action(action: str) -> Iterator[None]:
    """Turn any botocore error inside the block into `AwsError("{action}: ...")`."""
    try:
        yield
    except ClientError as exc:
        code = error_code(exc)
        message = exc.response.get("Error", {}).get("Message", str(exc))
        hint = DENIED_HINT if code in _DENIED else None
        raise AwsError(f"{action}: {code}: {message}", hint) from exc
    except BotoCoreError as exc:
        raise AwsError(
            f"{action}: {exc}", "check the network, AWS_REGION and AWS_ENDPOINT_URL"
        ) from exc


def tag_list(tags: dict[str, str], key: str = "Key", value: str = "Value") -> list[dict[str, str]]:
    return [{key: k, value: v} for k, v in sorted(tags.items())]


def tag_dict(
    items: list[dict[str, str]] | None, key: str = "Key", value: str = "Value"
) -> dict[str, str]:
    return {item[key]: item[value] for item in items or []}
