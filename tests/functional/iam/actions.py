"""Which IAM authorizations each AWS API call of ppdw needs: an explicit table.

Written from AWS's Service Authorization Reference and the services' IAM pages, not from
ppdw's code, so it is an independent check of ppdw's policies. Every (service, operation)
ppdw calls must be listed: an operation missing here fails the test that made it, so a
new call cannot slip through unchecked. The simulator refuses an action name that does
not exist or a resource of the wrong type, so mistakes in this table show up too.

Rules worth knowing (each bit ppdw once):
- S3: HeadObject is s3:GetObject; ListObjectsV2 is s3:ListBucket with the `s3:prefix`
  context key; multipart parts are s3:PutObject; DeleteObjects is s3:DeleteObject per key;
  bucket encryption and lifecycle are `s3:*EncryptionConfiguration` and
  `s3:*LifecycleConfiguration`; HeadBucket is s3:ListBucket.
- Glue catalog calls need the root catalog, the database and (for table calls) the table.
- Creating a resource with tags also needs the service's tagging action (tag-on-create).
- Handing a role to a service (Lambda, Glue, Step Functions, EventBridge) is iam:PassRole
  on that role, with `iam:PassedToService`.
- Lambda's GetFunction returns the function's tags only with lambda:ListTags; ppdw reads
  them to know the function is its own, so both are needed.
- sts:GetCallerIdentity needs no permission.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

from tests.functional.iam.simulator import IamRequest, request

Params = dict[str, Any]


def partition_of(region: str) -> str:
    if region.startswith("us-gov-"):
        return "aws-us-gov"
    if region.startswith("cn-"):
        return "aws-cn"
    return "aws"


@dataclass(frozen=True)
class Arns:
    """ARNs in AWS's formats (Service Authorization Reference, resource types)."""

    region: str
    account: str
    #: Secrets Manager ARNs end with six random characters: the gate looks them up.
    secret_arn: Callable[[str], str] = lambda name: name

    @property
    def partition(self) -> str:
        return partition_of(self.region)

    def _regional(self, service: str, resource: str) -> str:
        return f"arn:{self.partition}:{service}:{self.region}:{self.account}:{resource}"

    def bucket(self, name: str) -> str:
        return f"arn:{self.partition}:s3:::{name}"

    def object(self, bucket: str, key: str) -> str:
        return f"arn:{self.partition}:s3:::{bucket}/{key}"

    def role(self, name_or_arn: str) -> str:
        if name_or_arn.startswith("arn:"):
            return name_or_arn
        return f"arn:{self.partition}:iam::{self.account}:role/{name_or_arn}"

    def catalog(self) -> str:
        return self._regional("glue", "catalog")

    def database(self, name: str) -> str:
        return self._regional("glue", f"database/{name}")

    def table(self, database: str, name: str) -> str:
        return self._regional("glue", f"table/{database}/{name}")

    def glue(self, kind: str, name: str) -> str:
        return self._regional("glue", f"{kind}/{name}")

    def function(self, name_or_arn: str) -> str:
        if name_or_arn.startswith("arn:"):
            return name_or_arn
        return self._regional("lambda", f"function:{name_or_arn}")

    def state_machine(self, name: str) -> str:
        return self._regional("states", f"stateMachine:{name}")

    def rule(self, name_or_arn: str) -> str:
        if name_or_arn.startswith("arn:"):
            return name_or_arn
        return self._regional("events", f"rule/{name_or_arn}")

    def log_group(self, name: str) -> str:
        return self._regional("logs", f"log-group:{name}")

    def parameter(self, name: str) -> str:
        return self._regional("ssm", f"parameter/{name.lstrip('/')}")


Mapper = Callable[[Params, Arns], list[IamRequest]]

# ------------------------------------------------------------------------------- helpers


def _one(action: str, resource: Callable[[Params, Arns], str]) -> Mapper:
    return lambda p, a: [request(action, resource(p, a))]


def _bucket(action: str) -> Mapper:
    return _one(action, lambda p, a: a.bucket(p["Bucket"]))


def _object(action: str) -> Mapper:
    return _one(action, lambda p, a: a.object(p["Bucket"], p["Key"]))


def _list(action: str) -> Mapper:
    def mapper(p: Params, a: Arns) -> list[IamRequest]:
        context = {"s3:prefix": p.get("Prefix", "")}
        if p.get("Delimiter"):
            context["s3:delimiter"] = p["Delimiter"]
        return [request(action, a.bucket(p["Bucket"]), **context)]

    return mapper


def _delete_objects(p: Params, a: Arns) -> list[IamRequest]:
    out = []
    for item in p["Delete"]["Objects"]:
        action = "s3:DeleteObjectVersion" if item.get("VersionId") else "s3:DeleteObject"
        out.append(request(action, a.object(p["Bucket"], item["Key"])))
    return out


def _catalog(action: str, table: str | None = None, database: str = "DatabaseName") -> Mapper:
    """Catalog + database (+ table, from the parameter named `table`, or `*`)."""

    def mapper(p: Params, a: Arns) -> list[IamRequest]:
        db = p[database] if database in p else p["DatabaseInput"]["Name"]
        out = [request(action, a.catalog()), request(action, a.database(db))]
        if table == "*":
            out.append(request(action, a.table(db, "*")))
        elif table is not None:
            name = p[table] if table in p else p["TableInput"]["Name"]
            out.append(request(action, a.table(db, name)))
        return out

    return mapper


def _tags_on_create(
    service_action: str, resource: Callable[[Params, Arns], str], key: str
) -> Mapper:
    def extra(p: Params, a: Arns) -> list[IamRequest]:
        return [request(service_action, resource(p, a))] if p.get(key) else []

    return extra


def _pass_role(key: str, service: str) -> Mapper:
    def mapper(p: Params, a: Arns) -> list[IamRequest]:
        role = p.get(key)
        if not role:
            return []
        return [request("iam:PassRole", a.role(role), **{"iam:PassedToService": service})]

    return mapper


def _all(*mappers: Mapper) -> Mapper:
    return lambda p, a: [r for m in mappers for r in m(p, a)]


def _nothing(p: Params, a: Arns) -> list[IamRequest]:
    return []


def _glue_tagged(p: Params, a: Arns) -> str:
    return str(p["ResourceArn"])


def _job(p: Params, a: Arns) -> str:
    return a.glue("job", p.get("JobName") or p["Name"])


def _crawler(p: Params, a: Arns) -> str:
    return a.glue("crawler", p["Name"])


def _function(p: Params, a: Arns) -> str:
    return a.function(p.get("FunctionName") or p["Resource"])


def _machine(p: Params, a: Arns) -> str:
    return str(p["stateMachineArn"])


def _rule(p: Params, a: Arns) -> str:
    return a.rule(p.get("Rule") or p.get("Name") or p["ResourceARN"])


def _role(p: Params, a: Arns) -> str:
    return a.role(p["RoleName"])


def _group(p: Params, a: Arns) -> str:
    return a.log_group(p.get("logGroupName") or p["logGroupNamePrefix"])


def _iam(action: str) -> Mapper:
    return _one(action, _role)


# ------------------------------------------------------------------------------- the table

TABLE: dict[tuple[str, str], Mapper] = {
    # S3: the bucket
    ("s3", "HeadBucket"): _bucket("s3:ListBucket"),
    ("s3", "CreateBucket"): _bucket("s3:CreateBucket"),
    ("s3", "DeleteBucket"): _bucket("s3:DeleteBucket"),
    ("s3", "GetBucketLocation"): _bucket("s3:GetBucketLocation"),
    ("s3", "GetBucketEncryption"): _bucket("s3:GetEncryptionConfiguration"),
    ("s3", "PutBucketEncryption"): _bucket("s3:PutEncryptionConfiguration"),
    ("s3", "GetPublicAccessBlock"): _bucket("s3:GetBucketPublicAccessBlock"),
    ("s3", "PutPublicAccessBlock"): _bucket("s3:PutBucketPublicAccessBlock"),
    ("s3", "GetBucketPolicy"): _bucket("s3:GetBucketPolicy"),
    ("s3", "PutBucketPolicy"): _bucket("s3:PutBucketPolicy"),
    ("s3", "GetBucketLifecycleConfiguration"): _bucket("s3:GetLifecycleConfiguration"),
    ("s3", "PutBucketLifecycleConfiguration"): _bucket("s3:PutLifecycleConfiguration"),
    ("s3", "GetBucketVersioning"): _bucket("s3:GetBucketVersioning"),
    ("s3", "PutBucketVersioning"): _bucket("s3:PutBucketVersioning"),
    ("s3", "GetBucketTagging"): _bucket("s3:GetBucketTagging"),
    ("s3", "PutBucketTagging"): _bucket("s3:PutBucketTagging"),
    ("s3", "ListObjectsV2"): _list("s3:ListBucket"),
    ("s3", "ListObjects"): _list("s3:ListBucket"),
    ("s3", "ListObjectVersions"): _list("s3:ListBucketVersions"),
    # S3: objects
    ("s3", "GetObject"): _object("s3:GetObject"),
    ("s3", "HeadObject"): _object("s3:GetObject"),
    ("s3", "PutObject"): _object("s3:PutObject"),
    ("s3", "CreateMultipartUpload"): _object("s3:PutObject"),
    ("s3", "UploadPart"): _object("s3:PutObject"),
    ("s3", "CompleteMultipartUpload"): _object("s3:PutObject"),
    ("s3", "AbortMultipartUpload"): _object("s3:AbortMultipartUpload"),
    ("s3", "ListParts"): _object("s3:ListMultipartUploadParts"),
    ("s3", "DeleteObject"): _object("s3:DeleteObject"),
    ("s3", "DeleteObjects"): _delete_objects,
    # Glue: the catalog
    ("glue", "GetDatabase"): _catalog("glue:GetDatabase", database="Name"),
    ("glue", "CreateDatabase"): _all(
        _catalog("glue:CreateDatabase"),
        _tags_on_create(
            "glue:TagResource", lambda p, a: a.database(p["DatabaseInput"]["Name"]), "Tags"
        ),
    ),
    ("glue", "UpdateDatabase"): _catalog("glue:UpdateDatabase", database="Name"),
    ("glue", "DeleteDatabase"): lambda p, a: [
        *_catalog("glue:DeleteDatabase", table="*", database="Name")(p, a),
        request("glue:DeleteDatabase", a.glue("userDefinedFunction", f"{p['Name']}/*")),
    ],
    ("glue", "GetTables"): _catalog("glue:GetTables", table="*"),
    ("glue", "GetTable"): _catalog("glue:GetTable", table="Name"),
    ("glue", "CreateTable"): _catalog("glue:CreateTable", table="TableInput"),
    ("glue", "UpdateTable"): _catalog("glue:UpdateTable", table="TableInput"),
    ("glue", "DeleteTable"): _catalog("glue:DeleteTable", table="Name"),
    ("glue", "GetPartition"): _catalog("glue:GetPartition", table="TableName"),
    ("glue", "GetPartitions"): _catalog("glue:GetPartitions", table="TableName"),
    ("glue", "BatchGetPartition"): _catalog("glue:BatchGetPartition", table="TableName"),
    ("glue", "CreatePartition"): _catalog("glue:CreatePartition", table="TableName"),
    ("glue", "BatchCreatePartition"): _catalog("glue:BatchCreatePartition", table="TableName"),
    ("glue", "UpdatePartition"): _catalog("glue:UpdatePartition", table="TableName"),
    ("glue", "BatchUpdatePartition"): _catalog("glue:BatchUpdatePartition", table="TableName"),
    ("glue", "DeletePartition"): _catalog("glue:DeletePartition", table="TableName"),
    ("glue", "BatchDeletePartition"): _catalog("glue:BatchDeletePartition", table="TableName"),
    # Glue: jobs, crawlers, tags
    ("glue", "GetTags"): _one("glue:GetTags", _glue_tagged),
    ("glue", "TagResource"): _one("glue:TagResource", _glue_tagged),
    ("glue", "GetJob"): _one("glue:GetJob", _job),
    ("glue", "CreateJob"): _all(
        _one("glue:CreateJob", _job),
        _pass_role("Role", "glue.amazonaws.com"),
        _tags_on_create("glue:TagResource", _job, "Tags"),
    ),
    ("glue", "UpdateJob"): _all(
        _one("glue:UpdateJob", _job),
        lambda p, a: _pass_role("Role", "glue.amazonaws.com")(p["JobUpdate"], a),
    ),
    ("glue", "DeleteJob"): _one("glue:DeleteJob", _job),
    ("glue", "StartJobRun"): _one("glue:StartJobRun", _job),
    ("glue", "GetCrawler"): _one("glue:GetCrawler", _crawler),
    # CreateCrawler has no resource-level permission (Resource "*").
    ("glue", "CreateCrawler"): _all(
        lambda p, a: [request("glue:CreateCrawler", "*")],
        _pass_role("Role", "glue.amazonaws.com"),
        _tags_on_create("glue:TagResource", _crawler, "Tags"),
    ),
    ("glue", "UpdateCrawler"): _all(
        _one("glue:UpdateCrawler", _crawler), _pass_role("Role", "glue.amazonaws.com")
    ),
    ("glue", "DeleteCrawler"): _one("glue:DeleteCrawler", _crawler),
    ("glue", "StartCrawler"): _one("glue:StartCrawler", _crawler),
    ("glue", "ListCrawls"): _one(
        "glue:ListCrawls", lambda p, a: a.glue("crawler", p["CrawlerName"])
    ),
    # IAM
    ("iam", "GetRole"): _iam("iam:GetRole"),
    ("iam", "ListRoleTags"): _iam("iam:ListRoleTags"),
    ("iam", "ListRolePolicies"): _iam("iam:ListRolePolicies"),
    ("iam", "GetRolePolicy"): _iam("iam:GetRolePolicy"),
    ("iam", "CreateRole"): _all(
        _iam("iam:CreateRole"), _tags_on_create("iam:TagRole", _role, "Tags")
    ),
    ("iam", "PutRolePolicy"): _iam("iam:PutRolePolicy"),
    ("iam", "DeleteRolePolicy"): _iam("iam:DeleteRolePolicy"),
    ("iam", "UpdateAssumeRolePolicy"): _iam("iam:UpdateAssumeRolePolicy"),
    ("iam", "UpdateRole"): _iam("iam:UpdateRole"),
    ("iam", "TagRole"): _iam("iam:TagRole"),
    ("iam", "ListAttachedRolePolicies"): _iam("iam:ListAttachedRolePolicies"),
    ("iam", "DetachRolePolicy"): _iam("iam:DetachRolePolicy"),
    ("iam", "DeleteRole"): _iam("iam:DeleteRole"),
    # Lambda
    ("lambda", "GetFunction"): lambda p, a: [
        request("lambda:GetFunction", _function(p, a)),
        request("lambda:ListTags", _function(p, a)),
    ],
    ("lambda", "CreateFunction"): _all(
        _one("lambda:CreateFunction", _function),
        _pass_role("Role", "lambda.amazonaws.com"),
        _tags_on_create("lambda:TagResource", _function, "Tags"),
    ),
    ("lambda", "UpdateFunctionCode"): _one("lambda:UpdateFunctionCode", _function),
    ("lambda", "UpdateFunctionConfiguration"): _all(
        _one("lambda:UpdateFunctionConfiguration", _function),
        _pass_role("Role", "lambda.amazonaws.com"),
    ),
    ("lambda", "TagResource"): _one("lambda:TagResource", _function),
    ("lambda", "DeleteFunction"): _one("lambda:DeleteFunction", _function),
    # Step Functions
    ("stepfunctions", "DescribeStateMachine"): _one("states:DescribeStateMachine", _machine),
    ("stepfunctions", "ListTagsForResource"): _one(
        "states:ListTagsForResource", lambda p, a: str(p["resourceArn"])
    ),
    ("stepfunctions", "CreateStateMachine"): _all(
        _one("states:CreateStateMachine", lambda p, a: a.state_machine(p["name"])),
        _pass_role("roleArn", "states.amazonaws.com"),
        _tags_on_create("states:TagResource", lambda p, a: a.state_machine(p["name"]), "tags"),
    ),
    ("stepfunctions", "UpdateStateMachine"): _all(
        _one("states:UpdateStateMachine", _machine), _pass_role("roleArn", "states.amazonaws.com")
    ),
    ("stepfunctions", "TagResource"): _one(
        "states:TagResource", lambda p, a: str(p["resourceArn"])
    ),
    ("stepfunctions", "DeleteStateMachine"): _one("states:DeleteStateMachine", _machine),
    ("stepfunctions", "StartExecution"): _one("states:StartExecution", _machine),
    ("stepfunctions", "DescribeExecution"): _one(
        "states:DescribeExecution", lambda p, a: str(p["executionArn"])
    ),
    ("stepfunctions", "GetExecutionHistory"): _one(
        "states:GetExecutionHistory", lambda p, a: str(p["executionArn"])
    ),
    ("stepfunctions", "StopExecution"): _one(
        "states:StopExecution", lambda p, a: str(p["executionArn"])
    ),
    # EventBridge
    ("events", "DescribeRule"): _one("events:DescribeRule", _rule),
    ("events", "ListTargetsByRule"): _one("events:ListTargetsByRule", _rule),
    ("events", "ListTagsForResource"): _one("events:ListTagsForResource", _rule),
    ("events", "PutRule"): _all(
        _one("events:PutRule", _rule), _tags_on_create("events:TagResource", _rule, "Tags")
    ),
    ("events", "PutTargets"): lambda p, a: [
        request("events:PutTargets", _rule(p, a)),
        *(
            request(
                "iam:PassRole",
                a.role(t["RoleArn"]),
                **{"iam:PassedToService": "events.amazonaws.com"},
            )
            for t in p["Targets"]
            if t.get("RoleArn")
        ),
    ],
    ("events", "TagResource"): _one("events:TagResource", _rule),
    ("events", "RemoveTargets"): _one("events:RemoveTargets", _rule),
    ("events", "DeleteRule"): _one("events:DeleteRule", _rule),
    # CloudWatch Logs
    ("logs", "DescribeLogGroups"): lambda p, a: [request("logs:DescribeLogGroups", "*")],
    # Listing a service's resources (orphaned stacks) has no resource-level permission.
    ("lambda", "ListFunctions"): lambda p, a: [request("lambda:ListFunctions", "*")],
    ("glue", "GetJobs"): lambda p, a: [request("glue:GetJobs", "*")],
    ("glue", "GetCrawlers"): lambda p, a: [request("glue:GetCrawlers", "*")],
    ("stepfunctions", "ListStateMachines"): lambda p, a: [request("states:ListStateMachines", "*")],
    ("events", "ListRules"): lambda p, a: [request("events:ListRules", "*")],
    ("logs", "ListTagsLogGroup"): _one("logs:ListTagsLogGroup", _group),
    ("logs", "CreateLogGroup"): _all(
        _one("logs:CreateLogGroup", _group), _tags_on_create("logs:TagResource", _group, "tags")
    ),
    ("logs", "PutRetentionPolicy"): _one("logs:PutRetentionPolicy", _group),
    ("logs", "TagLogGroup"): _one("logs:TagLogGroup", _group),
    ("logs", "DeleteLogGroup"): _one("logs:DeleteLogGroup", _group),
    # Secrets
    ("secretsmanager", "GetSecretValue"): _one(
        "secretsmanager:GetSecretValue", lambda p, a: a.secret_arn(p["SecretId"])
    ),
    ("ssm", "GetParameter"): _one("ssm:GetParameter", lambda p, a: a.parameter(p["Name"])),
    # STS
    ("sts", "GetCallerIdentity"): _nothing,
}


def requests_for(
    service: str, operation: str, params: Params, arns: Arns
) -> list[IamRequest] | None:
    """The authorizations a call needs; None when the call is not in the table."""
    mapper = TABLE.get((service, operation))
    return None if mapper is None else mapper(params, arns)
