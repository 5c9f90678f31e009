"""What the deployer does to each resource type of `ppdw.deploy.desired`, and where.

Pure data, the one place a resource type's IAM actions are listed: plan (read), deploy
(create, update, tag), status (read) and destroy (delete), with the ARNs of the prefix's
resources of that type. A resource type missing here has no deployer policy: a test fails
until it is listed. Action names: AWS Service Authorization Reference.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass

from ppdw.deploy.policies import Scope
from ppdw.deploy.resources import ResourceType

Resources = Callable[[Scope], list[str]]


@dataclass(frozen=True)
class Grant:
    """Actions on the ARNs of one resource type."""

    actions: tuple[str, ...]
    resources: Resources


def _bucket(scope: Scope) -> list[str]:
    return [scope.bucket_arn]


def _databases(scope: Scope) -> list[str]:
    arns = scope.arns
    return [
        arns.glue_catalog(),
        *(arns.glue_database(p) for p in scope.database_patterns),
        *(arns.glue_table(p, "*") for p in scope.database_patterns),
        # DeleteDatabase also acts on the database's functions
        *(arns.glue_user_defined_function(p, "*") for p in scope.database_patterns),
    ]


def _roles(scope: Scope) -> list[str]:
    return [scope.arns.role(scope.named())]


def _fetch_logs(scope: Scope) -> list[str]:
    return scope.log_groups(f"/aws/lambda/{scope.named('raw-fetch-')}")


#: What plan, deploy, status and destroy do to each resource type, and where.
RESOURCE_ACCESS: dict[ResourceType, tuple[Grant, ...]] = {
    "bucket": (
        Grant(
            (
                "s3:ListBucket",  # also HeadBucket
                "s3:GetBucketLocation",
                "s3:CreateBucket",
                "s3:DeleteBucket",
                "s3:GetEncryptionConfiguration",
                "s3:PutEncryptionConfiguration",
                "s3:GetBucketPublicAccessBlock",
                "s3:PutBucketPublicAccessBlock",
                "s3:GetBucketPolicy",
                "s3:PutBucketPolicy",
                "s3:GetLifecycleConfiguration",
                "s3:PutLifecycleConfiguration",
                "s3:GetBucketVersioning",
                "s3:PutBucketVersioning",
                "s3:GetBucketTagging",
                "s3:PutBucketTagging",
                "s3:ListBucketVersions",  # emptied before `destroy --core --delete-data`
            ),
            _bucket,
        ),
        Grant(("s3:DeleteObjectVersion",), lambda s: s.objects("")),
    ),
    "database": (
        Grant(
            (
                "glue:GetDatabase",
                "glue:CreateDatabase",
                "glue:UpdateDatabase",
                "glue:DeleteDatabase",
            ),
            _databases,
        ),
        Grant(
            ("glue:GetTags", "glue:TagResource"),
            lambda s: [s.arns.glue_database(p) for p in s.database_patterns],
        ),
    ),
    "workgroup": (
        Grant(
            (
                # Get, Create, Update and DeleteWorkGroup (not ListWorkGroups: no resource)
                "athena:*WorkGroup",
                "athena:ListTagsForResource",
                "athena:TagResource",
                # `ppdw query --engine athena`: Start, Get, Stop (and BatchGet)QueryExecution;
                # the catalog and the layers are read through the runtime statements
                "athena:*QueryExecution",
                "athena:GetQueryResults",
            ),
            lambda s: [s.arns.workgroup(s.warehouse.names.workgroup)],
        ),
        Grant(
            ("s3:GetObject", "s3:PutObject", "s3:AbortMultipartUpload"),
            lambda s: s.objects(s.warehouse.names.athena_results_prefix),
        ),
    ),
    "role": (
        Grant(
            (
                "iam:GetRole",
                "iam:ListRoleTags",
                "iam:ListRolePolicies",
                "iam:GetRolePolicy",
                "iam:CreateRole",
                "iam:TagRole",
                "iam:PutRolePolicy",
                "iam:DeleteRolePolicy",
                "iam:UpdateAssumeRolePolicy",
                "iam:UpdateRole",
                "iam:ListAttachedRolePolicies",
                "iam:DetachRolePolicy",
                "iam:DeleteRole",
            ),
            _roles,
        ),
    ),
    "prefix": (
        Grant(("s3:DeleteObject",), lambda s: s.objects("raw/", "bronze/", "silver/", "gold/")),
    ),
    "table": (Grant(("glue:GetTable", "glue:DeleteTable"), lambda s: s.catalog),),
    "object": (
        Grant(("s3:GetObject", "s3:PutObject", "s3:DeleteObject"), lambda s: s.objects("scripts/")),
    ),
    "log_group": (
        Grant(
            (
                "logs:ListTagsLogGroup",
                "logs:CreateLogGroup",
                "logs:TagResource",  # tags given at creation
                "logs:TagLogGroup",
                "logs:PutRetentionPolicy",
                "logs:DeleteLogGroup",
            ),
            _fetch_logs,
        ),
    ),
    "function": (
        Grant(
            (
                "lambda:GetFunction",
                # without it GetFunction returns no tags, and ppdw would not know its own
                "lambda:ListTags",
                "lambda:CreateFunction",
                "lambda:TagResource",
                "lambda:UpdateFunctionCode",
                "lambda:UpdateFunctionConfiguration",
                "lambda:DeleteFunction",
            ),
            lambda s: [s.arns.function(s.named("raw-fetch-"))],
        ),
    ),
    "job": (
        Grant(
            (
                "glue:GetJob",
                "glue:CreateJob",
                "glue:UpdateJob",
                "glue:DeleteJob",
                "glue:GetTags",
                "glue:TagResource",
            ),
            lambda s: [s.arns.glue_job(s.named())],
        ),
    ),
    "crawler": (
        Grant(
            (
                "glue:GetCrawler",
                "glue:UpdateCrawler",
                "glue:DeleteCrawler",
                "glue:GetTags",
                "glue:TagResource",
            ),
            lambda s: [s.arns.glue_crawler(s.named())],
        ),
    ),
    "state_machine": (
        Grant(
            (
                "states:DescribeStateMachine",
                "states:ListTagsForResource",
                "states:CreateStateMachine",
                "states:TagResource",
                "states:UpdateStateMachine",
                "states:DeleteStateMachine",
                "states:StartExecution",  # `ppdw run` on Step Functions
            ),
            lambda s: [s.arns.state_machine(s.named("pipeline-"))],
        ),
        Grant(
            ("states:DescribeExecution", "states:GetExecutionHistory"),
            lambda s: [s.arns.execution(s.named("pipeline-"), "*")],
        ),
    ),
    "rule": (
        Grant(
            (
                "events:DescribeRule",
                "events:ListTargetsByRule",
                "events:ListTagsForResource",
                "events:PutRule",
                "events:TagResource",
                "events:PutTargets",
                "events:RemoveTargets",
                "events:DeleteRule",
            ),
            lambda s: [s.arns.rule(s.named("schedule-"))],
        ),
    ),
}
