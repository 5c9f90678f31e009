"""IAM documents of the shared roles.

Pure: no AWS calls. Every statement is scoped to the warehouse's own resources (bucket
prefixes, `{snake}_*` databases and their tables, `{prefix}-*` jobs, crawlers, functions,
state machines, the project's log groups). A `Resource: "*"` appears only where the
service has no resource-level permissions, in a statement whose Sid is listed in
`JUSTIFIED_WILDCARD_SIDS` with the reason. Every role is checked as it is built
(`ppdw.deploy.policy_checks`).
"""

from __future__ import annotations

from collections.abc import Callable, Iterable, Sequence
from dataclasses import dataclass

from ppdw.config.models import Dataset, SourceAuth, Warehouse
from ppdw.deploy.policy_checks import SERVICE_PRINCIPALS, Document, RoleDocuments, check_role
from ppdw.naming import Arns

VERSION = "2012-10-17"


def trust_policy(service: str, account_id: str) -> Document:
    statement: Document = {
        "Effect": "Allow",
        "Principal": {"Service": SERVICE_PRINCIPALS[service]},
        "Action": "sts:AssumeRole",
    }
    if service in ("states", "events"):
        # Confused-deputy guard: only this account's state machines / rules may assume it.
        statement["Condition"] = {"StringEquals": {"aws:SourceAccount": account_id}}
    return {"Version": VERSION, "Statement": [statement]}


@dataclass(frozen=True)
class Scope:
    """ARNs the documents are scoped to, in the region's partition."""

    warehouse: Warehouse
    account_id: str
    region: str

    @property
    def arns(self) -> Arns:
        return Arns(self.region, self.account_id)

    @property
    def bucket(self) -> str:
        return self.warehouse.names.bucket(self.account_id)

    def objects(self, *prefixes: str) -> list[str]:
        return [self.arns.objects(self.bucket, f"{p}*") for p in prefixes]

    @property
    def bucket_arn(self) -> str:
        return self.arns.bucket(self.bucket)

    @property
    def database_patterns(self) -> list[str]:
        snake = self.warehouse.names.snake
        extra = [
            self.warehouse.database(layer)
            for layer in ("bronze", "silver", "gold")
            if not self.warehouse.database(layer).startswith(f"{snake}_")
        ]
        return [f"{snake}_*", *sorted(set(extra))]

    @property
    def catalog(self) -> list[str]:
        patterns = self.database_patterns
        return [
            self.arns.glue_catalog(),
            *(self.arns.glue_database(p) for p in patterns),
            *(self.arns.glue_table(p, "*") for p in patterns),
        ]

    def named(self, middle: str = "") -> str:
        """A name pattern of the prefix's resources: `{prefix}-{middle}*`."""
        return f"{self.warehouse.prefix}-{middle}*"

    def log_groups(self, pattern: str) -> list[str]:
        """A log group pattern and its streams (CreateLogStream/PutLogEvents act on those)."""
        return [self.arns.log_group(pattern), self.arns.log_streams(pattern)]


#: What the bronze and silver jobs do in the catalog: tables and their partitions.
JOB_CATALOG_ACTIONS = (
    "glue:GetDatabase",
    "glue:GetDatabases",
    "glue:GetTable",
    "glue:GetTables",
    "glue:CreateTable",
    "glue:UpdateTable",
    "glue:DeleteTable",
    "glue:GetPartition",
    "glue:GetPartitions",
    "glue:BatchGetPartition",
    "glue:CreatePartition",
    "glue:BatchCreatePartition",
    "glue:UpdatePartition",
    "glue:BatchUpdatePartition",
    "glue:DeletePartition",
    "glue:BatchDeletePartition",
)


def glue_policy(scope: Scope) -> Document:
    return {
        "Version": VERSION,
        "Statement": [
            {
                "Sid": "ListBucket",
                "Effect": "Allow",
                "Action": ["s3:ListBucket", "s3:GetBucketLocation"],
                "Resource": scope.bucket_arn,
            },
            {
                "Sid": "ReadSources",
                "Effect": "Allow",
                "Action": "s3:GetObject",
                "Resource": scope.objects("raw/", "scripts/"),
            },
            {
                "Sid": "WriteLayers",
                "Effect": "Allow",
                "Action": ["s3:GetObject", "s3:PutObject", "s3:DeleteObject"],
                "Resource": scope.objects("bronze/", "silver/", "gold/"),
            },
            {
                "Sid": "Catalog",
                "Effect": "Allow",
                "Action": list(JOB_CATALOG_ACTIONS),
                "Resource": scope.catalog,
            },
            {
                "Sid": "Crawlers",
                "Effect": "Allow",
                "Action": ["glue:StartCrawler", "glue:GetCrawler", "glue:ListCrawls"],
                "Resource": scope.arns.glue_crawler(scope.named()),
            },
            {
                "Sid": "Logs",
                "Effect": "Allow",
                "Action": ["logs:CreateLogGroup", "logs:CreateLogStream", "logs:PutLogEvents"],
                "Resource": scope.log_groups("/aws-glue/*"),
            },
            run_lease_holders(scope),
            {
                "Sid": "GlueJobMetrics",
                "Effect": "Allow",
                "Action": "cloudwatch:PutMetricData",
                "Resource": "*",
                "Condition": {"StringEquals": {"cloudwatch:namespace": "Glue"}},
            },
        ],
    }


def lambda_policy(scope: Scope, secrets: Sequence[SourceAuth] = ()) -> Document:
    """The fetch Lambdas: raw (write, and clear a run folder), the run records.

    Listing is allowed for exactly the prefixes fetch reads: with it S3 answers 404 for a
    missing key (the first run has no `_last_success.json`); without it, 403.
    """
    runs = scope.warehouse.names.dataset("*").runs_prefix  # silver/_runs/*/
    statements: list[Document] = [
        {
            "Sid": "ListFetchPrefixes",
            "Effect": "Allow",
            "Action": "s3:ListBucket",
            "Resource": scope.bucket_arn,
            "Condition": {"StringLike": {"s3:prefix": ["raw/*", f"{runs}*"]}},
        },
        {
            "Sid": "WriteRaw",
            "Effect": "Allow",
            "Action": [
                "s3:GetObject",
                "s3:PutObject",
                "s3:DeleteObject",
                "s3:AbortMultipartUpload",
                "s3:ListMultipartUploadParts",
            ],
            "Resource": scope.objects("raw/"),
        },
        {
            "Sid": "RunRecords",
            "Effect": "Allow",
            "Action": ["s3:GetObject", "s3:PutObject"],
            "Resource": scope.objects(runs),
        },
        {
            # The dataset's run lease (ppdw/runtime/lease.py): the Lambda releases it when
            # the execution ends in the fetch step (unchanged, failed).
            "Sid": "RunLeaseRelease",
            "Effect": "Allow",
            "Action": "s3:DeleteObject",
            "Resource": scope.arns.objects(scope.bucket, f"{runs}_lock"),
        },
        run_lease_holders(scope),
        {
            "Sid": "Logs",
            "Effect": "Allow",
            "Action": ["logs:CreateLogGroup", "logs:CreateLogStream", "logs:PutLogEvents"],
            "Resource": scope.log_groups(f"/aws/lambda/{scope.named('raw-fetch-')}"),
        },
    ]
    statements.extend(secret_statements(scope, secrets))
    return {"Version": VERSION, "Statement": statements}


def run_lease_holders(scope: Scope) -> Document:
    """Whether the Step Functions execution holding a dataset's run lease still runs: the
    Lambda and the jobs ask before taking over a lease another execution left
    (ppdw/runtime/holders.py). Read-only, on the warehouse's own executions."""
    return {
        "Sid": "RunLeaseHolders",
        "Effect": "Allow",
        "Action": "states:DescribeExecution",
        "Resource": scope.arns.execution(scope.named("pipeline-"), "*"),
    }


def secret_statements(scope: Scope, secrets: Sequence[SourceAuth]) -> list[Document]:
    """Read exactly the secrets datasets name in `source.auth`; nothing when none does."""
    arns = scope.arns
    kinds: tuple[tuple[str, str, str, Callable[[str], str]], ...] = (
        ("SourceSecrets", "secretsmanager", "secretsmanager:GetSecretValue", arns.secret),
        ("SourceParameters", "ssm", "ssm:GetParameter", arns.parameter),
    )
    statements: list[Document] = []
    for sid, kind, action, arn in kinds:
        resources = sorted({arn(auth.name) for auth in secrets if auth.kind == kind})
        if resources:
            statements.append(
                {"Sid": sid, "Effect": "Allow", "Action": action, "Resource": resources}
            )
    return statements


def states_policy(scope: Scope) -> Document:
    function = scope.arns.function(scope.named("raw-fetch-"))
    return {
        "Version": VERSION,
        "Statement": [
            {
                "Sid": "InvokeFetch",
                "Effect": "Allow",
                "Action": "lambda:InvokeFunction",
                "Resource": [function, f"{function}:*"],
            },
            {
                # What `glue:startJobRun.sync` calls (AWS: "IAM policies for calling AWS Glue").
                "Sid": "RunJobs",
                "Effect": "Allow",
                "Action": [
                    "glue:StartJobRun",
                    "glue:GetJobRun",
                    "glue:GetJobRuns",
                    "glue:BatchStopJobRun",
                ],
                "Resource": scope.arns.glue_job(scope.named()),
            },
        ],
    }


def events_policy(scope: Scope) -> Document:
    return {
        "Version": VERSION,
        "Statement": [
            {
                "Sid": "StartPipelines",
                "Effect": "Allow",
                "Action": "states:StartExecution",
                "Resource": scope.arns.state_machine(scope.named("pipeline-")),
            },
        ],
    }


def source_secrets(datasets: Iterable[Dataset]) -> list[SourceAuth]:
    """The secrets the datasets' sources name (`source.auth`)."""
    return [d.source.auth for d in datasets if d.source.auth is not None]


def role_documents(
    warehouse: Warehouse,
    account_id: str,
    region: str,
    secrets: Sequence[SourceAuth] = (),
) -> list[RoleDocuments]:
    """The four shared roles; the fetch role may read `secrets` (see `source_secrets`)."""
    scope = Scope(warehouse, account_id, region)
    names = warehouse.names
    rows: list[tuple[str, str, str, Callable[[Scope], Document]]] = [
        (names.glue_role, "glue", "Glue jobs and crawlers of the warehouse", glue_policy),
        (
            names.lambda_role,
            "lambda",
            "Fetch Lambdas writing raw/",
            lambda s: lambda_policy(s, secrets),
        ),
        (names.states_role, "states", "Pipeline state machines", states_policy),
        (names.events_role, "events", "Schedules starting the pipelines", events_policy),
    ]
    roles = [
        RoleDocuments(
            name=name,
            service=service,
            description=f"ppdw: {description}",
            trust=trust_policy(service, account_id),
            policies={f"{warehouse.prefix}-{service}": build(scope)},
        )
        for name, service, description, build in rows
    ]
    for role in roles:
        check_role(role)
    return roles
