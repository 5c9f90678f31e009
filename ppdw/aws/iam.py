"""IAM wrapper: the shared roles and their inline policies.

Policy documents are returned parsed (dicts); IAM's URL-encoding is undone by boto3.
"""

from __future__ import annotations

import json
from typing import Any
from urllib.parse import unquote

from botocore.exceptions import ClientError

from ppdw.aws._common import aws_action, is_code, tag_dict, tag_list
from ppdw.aws.session import AwsSession

_NOT_FOUND = ("NoSuchEntity",)


def _document(value: Any) -> dict[str, Any]:
    """boto3 decodes policy documents to dicts; some endpoints return URL-encoded text."""
    if isinstance(value, dict):
        return value
    return dict(json.loads(unquote(str(value))))


class Iam:
    def __init__(self, aws: AwsSession) -> None:
        self._aws = aws

    @property
    def _c(self) -> Any:
        return self._aws.client("iam")

    def role(self, name: str) -> dict[str, Any] | None:
        """The role with its trust policy parsed, or None."""
        try:
            role = dict(self._c.get_role(RoleName=name)["Role"])
        except ClientError as exc:
            if is_code(exc, *_NOT_FOUND):
                return None
            with aws_action(f"get role {name}"):
                raise
        role["AssumeRolePolicyDocument"] = _document(role.get("AssumeRolePolicyDocument", "{}"))
        return role

    def role_tags(self, name: str) -> dict[str, str]:
        with aws_action(f"list tags of role {name}"):
            return tag_dict(self._c.list_role_tags(RoleName=name).get("Tags"))

    def inline_policies(self, name: str) -> dict[str, dict[str, Any]]:
        policies: dict[str, dict[str, Any]] = {}
        with aws_action(f"list policies of role {name}"):
            paginator = self._c.get_paginator("list_role_policies")
            for page in paginator.paginate(RoleName=name):
                for policy in page.get("PolicyNames", []):
                    answer = self._c.get_role_policy(RoleName=name, PolicyName=policy)
                    policies[policy] = _document(answer["PolicyDocument"])
        return policies

    def create_role(
        self, name: str, trust: dict[str, Any], description: str, tags: dict[str, str]
    ) -> str:
        with aws_action(f"create role {name}"):
            answer = self._c.create_role(
                RoleName=name,
                AssumeRolePolicyDocument=json.dumps(trust),
                Description=description,
                Tags=tag_list(tags),
            )
        return str(answer["Role"]["Arn"])

    def update_trust(self, name: str, trust: dict[str, Any]) -> None:
        with aws_action(f"update trust policy of role {name}"):
            self._c.update_assume_role_policy(RoleName=name, PolicyDocument=json.dumps(trust))

    def update_description(self, name: str, description: str) -> None:
        with aws_action(f"update description of role {name}"):
            self._c.update_role(RoleName=name, Description=description)

    def put_policy(self, name: str, policy: str, document: dict[str, Any]) -> None:
        with aws_action(f"put policy {policy} on role {name}"):
            self._c.put_role_policy(
                RoleName=name, PolicyName=policy, PolicyDocument=json.dumps(document)
            )

    def delete_policy(self, name: str, policy: str) -> None:
        with aws_action(f"delete policy {policy} of role {name}"):
            self._c.delete_role_policy(RoleName=name, PolicyName=policy)

    def tag_role(self, name: str, tags: dict[str, str]) -> None:
        with aws_action(f"tag role {name}"):
            self._c.tag_role(RoleName=name, Tags=tag_list(tags))

    def delete_role(self, name: str) -> None:
        """Delete a role after its inline policies and any attached managed policies."""
        for policy in self.inline_policies(name):
            self.delete_policy(name, policy)
        with aws_action(f"delete role {name}"):
            attached = self._c.list_attached_role_policies(RoleName=name)
            for item in attached.get("AttachedPolicies", []):
                self._c.detach_role_policy(RoleName=name, PolicyArn=item["PolicyArn"])
            self._c.delete_role(RoleName=name)
