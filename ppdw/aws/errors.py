"""botocore's errors, named once: the classes to catch and the code an error carries.

Code outside `ppdw/aws/` that must tell AWS failures apart (the runtime's retries, the
lease's question to Step Functions) imports them from here, never from botocore.
"""

from __future__ import annotations

from botocore.exceptions import BotoCoreError, ClientError

#: Every error a boto3 call raises: AWS's answer (ClientError) or no answer (BotoCoreError).
AWS_ERRORS: tuple[type[Exception], ...] = (ClientError, BotoCoreError)

#: The same, plus the KeyError of an answer without the expected field.
AWS_OR_SHAPE_ERRORS: tuple[type[Exception], ...] = (*AWS_ERRORS, KeyError)

#: What to do about a refusal.
DENIED_HINT = (
    "the credentials lack a permission this command needs: "
    "`ppdw deployer-policy` prints every permission ppdw needs"
)

__all__ = [
    "AWS_ERRORS",
    "AWS_OR_SHAPE_ERRORS",
    "DENIED_HINT",
    "BotoCoreError",
    "ClientError",
    "error_code",
    "is_code",
]


def error_code(exc: BaseException) -> str:
    """AWS's error code (`NoSuchKey`, `AccessDenied`, `404`, ...); "" when there was no
    answer (a BotoCoreError) or the error is not AWS's."""
    if not isinstance(exc, ClientError):
        return ""
    return str(exc.response.get("Error", {}).get("Code", ""))


def is_code(exc: BaseException, *codes: str) -> bool:
    return error_code(exc) in codes if isinstance(exc, ClientError) else False
