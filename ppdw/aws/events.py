"""EventBridge wrapper: the pipelines' schedule rules and their single target."""

from __future__ import annotations

from typing import Any

from botocore.exceptions import ClientError

from ppdw.aws._common import aws_action, is_code, tag_dict, tag_list
from ppdw.aws.session import AwsSession


class Events:
    def __init__(self, aws: AwsSession) -> None:
        self._aws = aws

    @property
    def _c(self) -> Any:
        return self._aws.client("events")

    def rule(self, name: str) -> dict[str, Any] | None:
        """The rule plus `Targets` (list) and `Tags` (dict), or None."""
        try:
            rule = dict(self._c.describe_rule(Name=name))
        except ClientError as exc:
            if is_code(exc, "ResourceNotFoundException"):
                return None
            with aws_action(f"describe rule {name}"):
                raise
        with aws_action(f"read targets and tags of rule {name}"):
            rule["Targets"] = list(self._c.list_targets_by_rule(Rule=name).get("Targets", []))
            rule["Tags"] = tag_dict(
                self._c.list_tags_for_resource(ResourceARN=rule["Arn"]).get("Tags")
            )
        return rule

    def put_rule(
        self, name: str, schedule: str, enabled: bool, description: str, tags: dict[str, str]
    ) -> str:
        with aws_action(f"put rule {name}"):
            answer = self._c.put_rule(
                Name=name,
                ScheduleExpression=schedule,
                State="ENABLED" if enabled else "DISABLED",
                Description=description,
                Tags=tag_list(tags),
            )
        return str(answer["RuleArn"])

    def put_target(self, rule: str, target: dict[str, Any]) -> None:
        with aws_action(f"put target of rule {rule}"):
            answer = self._c.put_targets(Rule=rule, Targets=[target])
        if answer.get("FailedEntryCount"):
            entry = answer["FailedEntries"][0]
            with aws_action(f"put target of rule {rule}"):
                raise ClientError(
                    {
                        "Error": {
                            "Code": entry.get("ErrorCode", ""),
                            "Message": entry.get("ErrorMessage", ""),
                        }
                    },
                    "PutTargets",
                )

    def tag(self, arn: str, tags: dict[str, str]) -> None:
        with aws_action(f"tag rule {arn}"):
            self._c.tag_resource(ResourceARN=arn, Tags=tag_list(tags))

    def delete_rule(self, name: str) -> None:
        """Remove every target, then the rule (AWS refuses a rule that still has targets)."""
        with aws_action(f"delete rule {name}"):
            targets = self._c.list_targets_by_rule(Rule=name).get("Targets", [])
            if targets:
                self._c.remove_targets(Rule=name, Ids=[t["Id"] for t in targets])
            self._c.delete_rule(Name=name)
