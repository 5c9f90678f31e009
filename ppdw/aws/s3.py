"""S3 wrapper: the warehouse bucket's configuration and objects.

Missing configuration comes back as None (never an exception); failures as `AwsError`.
"""

from __future__ import annotations

import json
from collections.abc import Iterator
from typing import Any

from botocore.exceptions import ClientError

from ppdw.aws import objects
from ppdw.aws._common import aws_action, is_code, tag_dict, tag_list
from ppdw.aws.session import AwsSession
from ppdw.errors import AwsError


class S3:
    def __init__(self, aws: AwsSession) -> None:
        self._aws = aws

    @property
    def _c(self) -> Any:
        return self._aws.client("s3")

    # bucket ---------------------------------------------------------------------------

    def bucket_exists(self, bucket: str) -> bool:
        """True if the bucket exists and is ours; AwsError if it belongs to someone else."""
        state = objects.bucket_state(self._c, bucket)
        if state == "forbidden":
            raise AwsError(
                f"bucket {bucket} exists but this account cannot use it",
                "bucket names are global: it may belong to another account",
            )
        return state == "exists"

    def bucket_region(self, bucket: str) -> str:
        with aws_action(f"get location of bucket {bucket}"):
            location = self._c.get_bucket_location(Bucket=bucket).get("LocationConstraint")
        return str(location or "us-east-1")

    def create_bucket(self, bucket: str, region: str) -> None:
        kwargs: dict[str, Any] = {"Bucket": bucket}
        if region != "us-east-1":  # us-east-1 refuses a LocationConstraint
            kwargs["CreateBucketConfiguration"] = {"LocationConstraint": region}
        with aws_action(f"create bucket {bucket}"):
            self._c.create_bucket(**kwargs)

    def delete_bucket(self, bucket: str) -> None:
        with aws_action(f"delete bucket {bucket}"):
            self._c.delete_bucket(Bucket=bucket)

    def _get_or_none(self, action: str, codes: tuple[str, ...], call: Any, **kwargs: Any) -> Any:
        try:
            return call(**kwargs)
        except ClientError as exc:
            if is_code(exc, *codes):
                return None
            with aws_action(action):
                raise

    def encryption(self, bucket: str) -> dict[str, Any] | None:
        answer = self._get_or_none(
            f"get encryption of {bucket}",
            ("ServerSideEncryptionConfigurationNotFoundError",),
            self._c.get_bucket_encryption,
            Bucket=bucket,
        )
        return None if answer is None else dict(answer["ServerSideEncryptionConfiguration"])

    def put_encryption(self, bucket: str, configuration: dict[str, Any]) -> None:
        with aws_action(f"set encryption of {bucket}"):
            self._c.put_bucket_encryption(
                Bucket=bucket, ServerSideEncryptionConfiguration=configuration
            )

    def public_access_block(self, bucket: str) -> dict[str, bool] | None:
        answer = self._get_or_none(
            f"get public access block of {bucket}",
            ("NoSuchPublicAccessBlockConfiguration",),
            self._c.get_public_access_block,
            Bucket=bucket,
        )
        return None if answer is None else dict(answer["PublicAccessBlockConfiguration"])

    def put_public_access_block(self, bucket: str, configuration: dict[str, bool]) -> None:
        with aws_action(f"set public access block of {bucket}"):
            self._c.put_public_access_block(
                Bucket=bucket, PublicAccessBlockConfiguration=configuration
            )

    def policy(self, bucket: str) -> dict[str, Any] | None:
        answer = self._get_or_none(
            f"get policy of {bucket}",
            ("NoSuchBucketPolicy",),
            self._c.get_bucket_policy,
            Bucket=bucket,
        )
        return None if answer is None else dict(json.loads(answer["Policy"]))

    def put_policy(self, bucket: str, policy: dict[str, Any]) -> None:
        with aws_action(f"set policy of {bucket}"):
            self._c.put_bucket_policy(Bucket=bucket, Policy=json.dumps(policy))

    def lifecycle(self, bucket: str) -> list[dict[str, Any]] | None:
        answer = self._get_or_none(
            f"get lifecycle of {bucket}",
            ("NoSuchLifecycleConfiguration",),
            self._c.get_bucket_lifecycle_configuration,
            Bucket=bucket,
        )
        return None if answer is None else list(answer.get("Rules", []))

    def put_lifecycle(self, bucket: str, rules: list[dict[str, Any]]) -> None:
        with aws_action(f"set lifecycle of {bucket}"):
            self._c.put_bucket_lifecycle_configuration(
                Bucket=bucket, LifecycleConfiguration={"Rules": rules}
            )

    def versioning(self, bucket: str) -> str:
        """`Enabled`, `Suspended` or `Disabled` (never enabled)."""
        with aws_action(f"get versioning of {bucket}"):
            answer = self._c.get_bucket_versioning(Bucket=bucket)
        return str(answer.get("Status") or "Disabled")

    def put_versioning(self, bucket: str, status: str) -> None:
        with aws_action(f"set versioning of {bucket}"):
            self._c.put_bucket_versioning(Bucket=bucket, VersioningConfiguration={"Status": status})

    def tags(self, bucket: str) -> dict[str, str]:
        answer = self._get_or_none(
            f"get tags of {bucket}", ("NoSuchTagSet",), self._c.get_bucket_tagging, Bucket=bucket
        )
        return {} if answer is None else tag_dict(answer["TagSet"])

    def put_tags(self, bucket: str, tags: dict[str, str]) -> None:
        with aws_action(f"tag bucket {bucket}"):
            self._c.put_bucket_tagging(Bucket=bucket, Tagging={"TagSet": tag_list(tags)})

    # objects --------------------------------------------------------------------------

    def object_metadata(self, bucket: str, key: str) -> dict[str, str] | None:
        """User metadata of an object, None when the object (or bucket) is missing."""
        try:
            answer = self._c.head_object(Bucket=bucket, Key=key)
        except ClientError as exc:
            if is_code(exc, "404", "NoSuchKey", "NotFound", "NoSuchBucket"):
                return None
            with aws_action(f"read s3://{bucket}/{key}"):
                raise
        return dict(answer.get("Metadata", {}))

    def put_object(
        self, bucket: str, key: str, body: bytes, metadata: dict[str, str], content_type: str
    ) -> None:
        with aws_action(f"upload s3://{bucket}/{key}"):
            self._c.put_object(
                Bucket=bucket, Key=key, Body=body, Metadata=metadata, ContentType=content_type
            )

    def list_keys(self, bucket: str, prefix: str) -> Iterator[str]:
        paginator = self._c.get_paginator("list_objects_v2")
        with aws_action(f"list s3://{bucket}/{prefix}"):
            for page in paginator.paginate(Bucket=bucket, Prefix=prefix):
                for item in page.get("Contents", []):
                    yield str(item["Key"])

    def delete_keys(self, bucket: str, keys: list[str]) -> int:
        """Delete keys in batches of 1000 (the API limit); every per-key error is raised."""
        for start in range(0, len(keys), 1000):
            batch = [{"Key": key} for key in keys[start : start + 1000]]
            with aws_action(f"delete objects in s3://{bucket}"):
                answer = self._c.delete_objects(
                    Bucket=bucket, Delete={"Objects": batch, "Quiet": True}
                )
            errors = answer.get("Errors", [])
            if errors:
                first = errors[0]
                raise AwsError(
                    f"delete objects in s3://{bucket}: {len(errors)} failed, "
                    f"first {first.get('Key')}: {first.get('Code')} {first.get('Message')}"
                )
        return len(keys)

    def delete_prefix(self, bucket: str, prefix: str) -> int:
        return self.delete_keys(bucket, list(self.list_keys(bucket, prefix)))

    def delete_all_versions(self, bucket: str) -> None:
        """Empty a bucket entirely (objects, versions, delete markers) before deleting it."""
        paginator = self._c.get_paginator("list_object_versions")
        with aws_action(f"list versions in {bucket}"):
            pages = list(paginator.paginate(Bucket=bucket))
        for page in pages:
            items = [*page.get("Versions", []), *page.get("DeleteMarkers", [])]
            for start in range(0, len(items), 1000):
                batch = [
                    {"Key": v["Key"], "VersionId": v["VersionId"]}
                    for v in items[start : start + 1000]
                ]
                with aws_action(f"empty bucket {bucket}"):
                    self._c.delete_objects(Bucket=bucket, Delete={"Objects": batch, "Quiet": True})
