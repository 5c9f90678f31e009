"""Config -> the core's resources (bucket, databases, roles, Athena workgroup), pure."""

from __future__ import annotations

import re
from collections.abc import Iterable
from typing import Any

from ppdw.config.models import Dataset, Warehouse
from ppdw.deploy.fields import bucket_fields, role_fields, workgroup_fields
from ppdw.deploy.policies import role_documents, source_secrets
from ppdw.deploy.resources import ResourceSpec
from ppdw.errors import ConfigError
from ppdw.naming import Arns, core_tags

#: Athena query results are copies of warehouse rows kept for re-download only: a week is
#: enough to fetch them again, and nothing else reads them.
ATHENA_RESULTS_DAYS = 7
ATHENA_ENGINE = "Athena engine version 3"  # reads ZSTD parquet and ms timestamps right
_BUCKET_RE = re.compile(r"^[a-z0-9][a-z0-9.-]{1,61}[a-z0-9]$")


def check_bucket_name(name: str) -> None:
    """S3's naming rules (moto accepts any name; AWS refuses these)."""
    if (
        not _BUCKET_RE.match(name)
        or ".." in name
        or re.fullmatch(r"\d+\.\d+\.\d+\.\d+", name)
        or name.startswith(("xn--", "sthree-"))
        or name.endswith(("-s3alias", "--ol-s3"))
    ):
        raise ConfigError(
            f"config/warehouse.json: bucket: {name!r} is not a valid S3 bucket name",
            "3-63 characters: lower-case letters, digits, '.', '-', starting and ending "
            "with a letter or digit",
        )


def bucket_spec(warehouse: Warehouse, account_id: str, region: str) -> ResourceSpec:
    name = warehouse.names.bucket(account_id)
    check_bucket_name(name)
    encryption = {"Rules": [{"ApplyServerSideEncryptionByDefault": {"SSEAlgorithm": "AES256"}}]}
    flags = ("BlockPublicAcls", "IgnorePublicAcls", "BlockPublicPolicy", "RestrictPublicBuckets")
    public_access_block = dict.fromkeys(flags, True)
    policy = _bucket_policy(Arns(region, account_id).bucket(name))
    lifecycle = _lifecycle_rules(warehouse)
    # Versioning stays off on purpose: raw runs are immutable (one folder per run_id),
    # silver keeps its own SCD2 history, and versions of every rewritten partition would
    # only grow the bill. `destroy --core --delete-data` removes any versions anyway.
    return ResourceSpec(
        "bucket",
        name,
        bucket_fields(region, encryption, public_access_block, policy, lifecycle, "Disabled"),
        core_tags(),
        payload={
            "region": region,
            "encryption": encryption,
            "public_access_block": public_access_block,
            "policy": policy,
            "lifecycle": lifecycle,
            "versioning": "Suspended",
        },
    )


def _bucket_policy(arn: str) -> dict[str, Any]:
    """TLS only."""
    return {
        "Version": "2012-10-17",
        "Statement": [
            {
                "Sid": "DenyInsecureTransport",
                "Effect": "Deny",
                "Principal": "*",
                # IAM action names are case-insensitive on AWS ("The prefix and the action
                # name are case insensitive", IAM JSON policy reference), so "S3:*" is
                # "s3:*". The capital keeps moto usable: moto 5.2.5 ignores the Condition
                # of a bucket-policy Deny and would refuse every object call.
                "Action": "S3:*",
                "Resource": [arn, f"{arn}/*"],
                "Condition": {"Bool": {"aws:SecureTransport": "false"}},
            }
        ],
    }


def _lifecycle_rules(warehouse: Warehouse) -> list[dict[str, Any]]:
    """Abort stale multipart uploads, expire Athena results, and raw runs if configured."""
    lifecycle: list[dict[str, Any]] = [
        {
            "ID": "abort-incomplete-multipart-uploads",
            "Status": "Enabled",
            "Filter": {"Prefix": ""},
            "AbortIncompleteMultipartUpload": {
                "DaysAfterInitiation": warehouse.lifecycle.abort_incomplete_multipart_days
            },
        },
        {
            "ID": "expire-athena-results",
            "Status": "Enabled",
            "Filter": {"Prefix": warehouse.names.athena_results_prefix},
            "Expiration": {"Days": ATHENA_RESULTS_DAYS},
        },
    ]
    if warehouse.lifecycle.raw_expiration_days is not None:
        lifecycle.append(
            {
                "ID": "expire-raw",
                "Status": "Enabled",
                "Filter": {"Prefix": "raw/"},
                "Expiration": {"Days": warehouse.lifecycle.raw_expiration_days},
            }
        )
    return lifecycle


def workgroup_spec(warehouse: Warehouse, account_id: str) -> ResourceSpec:
    """Athena workgroup `{prefix}`: its settings are enforced (a query cannot send results
    elsewhere or unencrypted), results go to the bucket's expiring `athena-results/`."""
    names = warehouse.names
    description = f"ppdw: queries over the {warehouse.prefix} warehouse"
    configuration: dict[str, Any] = {
        "ResultConfiguration": {
            "OutputLocation": f"s3://{names.bucket(account_id)}/{names.athena_results_prefix}",
            "EncryptionConfiguration": {"EncryptionOption": "SSE_S3"},
        },
        "EnforceWorkGroupConfiguration": True,
        "PublishCloudWatchMetricsEnabled": True,
        "EngineVersion": {"SelectedEngineVersion": ATHENA_ENGINE},
    }
    updates = {
        "ResultConfigurationUpdates": configuration["ResultConfiguration"],
        "EnforceWorkGroupConfiguration": True,
        "PublishCloudWatchMetricsEnabled": True,
        "EngineVersion": configuration["EngineVersion"],
    }
    return ResourceSpec(
        "workgroup",
        names.workgroup,
        workgroup_fields(description, configuration),
        core_tags(),
        payload={"description": description, "configuration": configuration, "updates": updates},
    )


def core_specs(
    warehouse: Warehouse,
    account_id: str,
    region: str,
    datasets: Iterable[Dataset] = (),
    *,
    athena: bool = True,
) -> list[ResourceSpec]:
    """Bucket, databases, roles (the fetch role may read the `datasets`' source secrets),
    and the Athena workgroup; `athena=False` leaves the workgroup out (the local target
    runs no Athena: its queries run on DuckDB, and moto cannot serve the Athena API boto3
    speaks)."""
    specs = [bucket_spec(warehouse, account_id, region)]
    if athena:
        specs.append(workgroup_spec(warehouse, account_id))
    for layer in ("bronze", "silver", "gold"):
        description = f"ppdw {layer} layer of the {warehouse.prefix} warehouse"
        specs.append(
            ResourceSpec(
                "database",
                warehouse.database(layer),
                {"Description": description},
                core_tags(),
                payload={"Description": description},
            )
        )
    for role in role_documents(warehouse, account_id, region, source_secrets(datasets)):
        specs.append(
            ResourceSpec(
                "role",
                role.name,
                role_fields(role.trust, role.description, role.policies),
                core_tags(),
                exact_prefixes=("policy.",),
                payload={
                    "trust": role.trust,
                    "description": role.description,
                    "policies": role.policies,
                },
            )
        )
    return specs
