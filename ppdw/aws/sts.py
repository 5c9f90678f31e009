"""STS: who are we."""

from __future__ import annotations

from botocore.exceptions import BotoCoreError, ClientError, NoCredentialsError

from ppdw.aws.session import AwsSession
from ppdw.errors import TargetError


def caller_account(aws: AwsSession) -> str:
    try:
        return str(aws.client("sts").get_caller_identity()["Account"])
    except NoCredentialsError as exc:
        raise TargetError(
            "no AWS credentials found",
            "set AWS_PROFILE or AWS_ACCESS_KEY_ID/AWS_SECRET_ACCESS_KEY, or use --target local",
        ) from exc
    except (ClientError, BotoCoreError) as exc:
        raise TargetError(
            f"cannot identify the AWS account: {exc}",
            "check your credentials and AWS_REGION / AWS_ENDPOINT_URL",
        ) from exc
