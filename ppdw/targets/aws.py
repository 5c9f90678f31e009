"""The `aws` target and named AWS targets: boto3's default chain plus an account guard."""

from __future__ import annotations

import os

from ppdw.aws.session import make_session
from ppdw.aws.sts import caller_account
from ppdw.config.models import TargetConfig, Warehouse
from ppdw.errors import TargetError
from ppdw.targets.context import TargetContext


def resolve_region(config: TargetConfig, warehouse: Warehouse) -> str:
    return (
        config.region
        or os.environ.get("AWS_REGION")
        or os.environ.get("AWS_DEFAULT_REGION")
        or warehouse.region
    )


def open_aws_target(name: str, config: TargetConfig, warehouse: Warehouse) -> TargetContext:
    region = resolve_region(config, warehouse)
    endpoint = config.endpoint_url or os.environ.get("AWS_ENDPOINT_URL")
    profile = config.profile or None
    aws = make_session(profile=profile, region=region, endpoint_url=endpoint)
    account = caller_account(aws)
    if config.account_id and account != config.account_id:
        raise TargetError(
            f"target {name!r} expects account {config.account_id}, "
            f"but the credentials answer for account {account}",
            "switch credentials (AWS_PROFILE) or fix 'account_id' in config/warehouse.json",
        )
    return TargetContext(
        name=name,
        kind="aws",
        aws=aws,
        account_id=account,
        region=region,
        athena=config.athena,
    )
