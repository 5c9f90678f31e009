"""CloudWatch Logs wrapper: the log groups ppdw manages (the fetch Lambdas')."""

from __future__ import annotations

from typing import Any

from ppdw.aws._common import aws_action
from ppdw.aws.session import AwsSession


class Logs:
    def __init__(self, aws: AwsSession) -> None:
        self._aws = aws

    @property
    def _c(self) -> Any:
        return self._aws.client("logs")

    def log_group(self, name: str) -> dict[str, Any] | None:
        """The group plus `tags` (dict), or None."""
        with aws_action(f"describe log group {name}"):
            groups = self._c.describe_log_groups(logGroupNamePrefix=name).get("logGroups", [])
            for group in groups:
                if group["logGroupName"] == name:
                    found = dict(group)
                    found["tags"] = dict(
                        self._c.list_tags_log_group(logGroupName=name).get("tags", {})
                    )
                    return found
        return None

    def create(self, name: str, tags: dict[str, str]) -> None:
        with aws_action(f"create log group {name}"):
            self._c.create_log_group(logGroupName=name, tags=tags)

    def put_retention(self, name: str, days: int) -> None:
        with aws_action(f"set retention of log group {name}"):
            self._c.put_retention_policy(logGroupName=name, retentionInDays=days)

    def tag(self, name: str, tags: dict[str, str]) -> None:
        with aws_action(f"tag log group {name}"):
            self._c.tag_log_group(logGroupName=name, tags=tags)

    def delete(self, name: str) -> None:
        with aws_action(f"delete log group {name}"):
            self._c.delete_log_group(logGroupName=name)
