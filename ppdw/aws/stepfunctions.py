"""Step Functions wrapper: the pipelines' state machines (control plane only)."""

from __future__ import annotations

import json
from typing import Any

from botocore.exceptions import ClientError

from ppdw.aws._common import aws_action, is_code, tag_dict, tag_list
from ppdw.aws.session import AwsSession
from ppdw.naming import Arns


class StepFunctions:
    def __init__(self, aws: AwsSession, account_id: str, region: str) -> None:
        self._aws = aws
        self.account_id = account_id
        self.region = region

    @property
    def _c(self) -> Any:
        return self._aws.client("stepfunctions")

    def arn(self, name: str) -> str:
        return Arns(self.region, self.account_id).state_machine(name)

    def state_machine(self, name: str) -> dict[str, Any] | None:
        """The description with `definition` parsed and `tags` as a dict, or None."""
        arn = self.arn(name)
        try:
            answer = dict(self._c.describe_state_machine(stateMachineArn=arn))
        except ClientError as exc:
            if is_code(exc, "StateMachineDoesNotExist", "ResourceNotFound"):
                return None
            with aws_action(f"describe state machine {name}"):
                raise
        answer["definition"] = json.loads(answer["definition"])
        with aws_action(f"list tags of state machine {name}"):
            tags = self._c.list_tags_for_resource(resourceArn=arn).get("tags")
        answer["tags"] = tag_dict(tags, "key", "value")
        return answer

    def create(
        self, name: str, definition: dict[str, Any], role_arn: str, tags: dict[str, str]
    ) -> str:
        with aws_action(f"create state machine {name}"):
            answer = self._c.create_state_machine(
                name=name,
                definition=json.dumps(definition),
                roleArn=role_arn,
                type="STANDARD",
                tags=tag_list(tags, "key", "value"),
            )
        return str(answer["stateMachineArn"])

    def update(self, name: str, definition: dict[str, Any], role_arn: str) -> None:
        with aws_action(f"update state machine {name}"):
            self._c.update_state_machine(
                stateMachineArn=self.arn(name), definition=json.dumps(definition), roleArn=role_arn
            )

    def tag(self, name: str, tags: dict[str, str]) -> None:
        with aws_action(f"tag state machine {name}"):
            self._c.tag_resource(resourceArn=self.arn(name), tags=tag_list(tags, "key", "value"))

    def delete(self, name: str) -> None:
        with aws_action(f"delete state machine {name}"):
            self._c.delete_state_machine(stateMachineArn=self.arn(name))
