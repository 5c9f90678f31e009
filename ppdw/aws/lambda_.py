"""Lambda wrapper: the fetch functions.

A freshly created IAM role takes seconds to become assumable by Lambda; `create_function`
retries that one error with backoff (sleep is injected so tests run instantly). After a
create or an update the function is waited for, because AWS refuses a second update
while the first is in progress.
"""

from __future__ import annotations

import time
from collections.abc import Callable
from typing import Any

from botocore.exceptions import ClientError

from ppdw.aws._common import aws_action, error_code, is_code
from ppdw.aws.session import AwsSession

_ROLE_NOT_READY = "cannot be assumed by Lambda"
_ROLE_RETRIES = 8


class Lambda:
    def __init__(self, aws: AwsSession, sleep: Callable[[float], None] = time.sleep) -> None:
        self._aws = aws
        self._sleep = sleep

    @property
    def _c(self) -> Any:
        return self._aws.client("lambda")

    def function(self, name: str) -> dict[str, Any] | None:
        """`{"Configuration": {...}, "Tags": {...}}` or None."""
        try:
            answer = self._c.get_function(FunctionName=name)
        except ClientError as exc:
            if is_code(exc, "ResourceNotFoundException"):
                return None
            with aws_action(f"get function {name}"):
                raise
        return {
            "Configuration": dict(answer["Configuration"]),
            "Tags": dict(answer.get("Tags", {})),
        }

    def _wait(self, name: str, waiter: str) -> None:
        with aws_action(f"wait for function {name}"):
            self._c.get_waiter(waiter).wait(
                FunctionName=name, WaiterConfig={"Delay": 2, "MaxAttempts": 150}
            )

    def create_function(
        self, configuration: dict[str, Any], zip_bytes: bytes, tags: dict[str, str]
    ) -> None:
        name = configuration["FunctionName"]
        for attempt in range(_ROLE_RETRIES + 1):
            try:
                self._c.create_function(
                    **configuration, Code={"ZipFile": zip_bytes}, Tags=tags, Publish=False
                )
                break
            except ClientError as exc:
                message = str(exc.response.get("Error", {}).get("Message", ""))
                if (
                    error_code(exc) == "InvalidParameterValueException"
                    and _ROLE_NOT_READY in message
                    and attempt < _ROLE_RETRIES
                ):
                    self._sleep(min(2.0 * 2**attempt, 20.0))
                    continue
                with aws_action(f"create function {name}"):
                    raise
        self._wait(name, "function_active_v2")

    def update_code(self, name: str, zip_bytes: bytes) -> None:
        with aws_action(f"update code of function {name}"):
            self._c.update_function_code(FunctionName=name, ZipFile=zip_bytes, Publish=False)
        self._wait(name, "function_updated_v2")

    def update_configuration(self, configuration: dict[str, Any]) -> None:
        name = configuration["FunctionName"]
        with aws_action(f"update configuration of function {name}"):
            self._c.update_function_configuration(**configuration)
        self._wait(name, "function_updated_v2")

    def tag(self, arn: str, tags: dict[str, str]) -> None:
        with aws_action(f"tag function {arn}"):
            self._c.tag_resource(Resource=arn, Tags=tags)

    def delete_function(self, name: str) -> None:
        with aws_action(f"delete function {name}"):
            self._c.delete_function(FunctionName=name)
