"""Secrets Manager and SSM Parameter Store: a secret read by name (data plane).

Rule: standard library and boto3/botocore only (the fetch Lambda imports it). Module-level
functions taking the client; a failure is an `AwsError` naming the action and the secret's
name, never its value. An answer without the expected field raises KeyError.
"""

from __future__ import annotations

from typing import Any

from ppdw.aws._common import aws_action


def secret_string(secrets: Any, name: str) -> str:
    """The SecretString of Secrets Manager secret `name`."""
    with aws_action(f"read secret {name}"):
        return str(secrets.get_secret_value(SecretId=name)["SecretString"])


def parameter_value(ssm: Any, name: str) -> str:
    """The (decrypted) value of SSM parameter `name`."""
    with aws_action(f"read parameter {name}"):
        return str(ssm.get_parameter(Name=name, WithDecryption=True)["Parameter"]["Value"])
