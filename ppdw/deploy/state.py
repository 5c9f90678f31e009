"""Read-only view of what exists in the target, normalized for the planner.

Only get/describe/list/head calls; each answer goes through the same `fields` function
as the spec it is compared with.
"""

from __future__ import annotations

import time
from collections.abc import Callable

from ppdw.aws.athena import Athena
from ppdw.aws.events import Events
from ppdw.aws.glue import Glue
from ppdw.aws.iam import Iam
from ppdw.aws.lambda_ import Lambda
from ppdw.aws.logs import Logs
from ppdw.aws.s3 import S3
from ppdw.aws.session import AwsSession
from ppdw.aws.stepfunctions import StepFunctions
from ppdw.deploy.fields import (
    bucket_fields,
    crawler_fields,
    function_fields,
    job_fields,
    role_fields,
    rule_fields,
    state_machine_fields,
    workgroup_fields,
)
from ppdw.deploy.plan import Observed
from ppdw.deploy.resources import ResourceType


class AwsState:
    """`StateReader` over the AWS wrappers of one target."""

    def __init__(
        self,
        aws: AwsSession,
        account_id: str,
        region: str,
        bucket: str,
        sleep: Callable[[float], None] = time.sleep,
    ) -> None:
        self.bucket = bucket
        self.s3 = S3(aws)
        self.glue = Glue(aws, account_id, region)
        self.iam = Iam(aws)
        self.lambda_ = Lambda(aws, sleep)
        self.logs = Logs(aws)
        self.states = StepFunctions(aws, account_id, region)
        self.events = Events(aws)
        self.athena = Athena(aws, account_id, region)
        self._bucket_exists: bool | None = None

    def read(self, resource_type: ResourceType, name: str) -> Observed | None:
        readers: dict[str, Callable[[str], Observed | None]] = {
            "bucket": self._bucket,
            "database": self._database,
            "workgroup": self._workgroup,
            "role": self._role,
            "object": self._object,
            "prefix": self._prefix,
            "table": self._table,
            "log_group": self._log_group,
            "function": self._function,
            "job": self._job,
            "crawler": self._crawler,
            "state_machine": self._state_machine,
            "rule": self._rule,
        }
        return readers[resource_type](name)

    def bucket_exists(self) -> bool:
        if self._bucket_exists is None:
            self._bucket_exists = self.s3.bucket_exists(self.bucket)
        return self._bucket_exists

    def _bucket(self, name: str) -> Observed | None:
        if not self.s3.bucket_exists(name):
            return None
        fields = bucket_fields(
            self.s3.bucket_region(name),
            self.s3.encryption(name),
            self.s3.public_access_block(name),
            self.s3.policy(name),
            self.s3.lifecycle(name),
            self.s3.versioning(name),
        )
        return Observed(fields, self.s3.tags(name))

    def _database(self, name: str) -> Observed | None:
        database = self.glue.database(name)
        if database is None:
            return None
        fields = {"Description": database.get("Description", "")}
        return Observed(fields, self.glue.tags("database", name))

    def _workgroup(self, name: str) -> Observed | None:
        workgroup = self.athena.workgroup(name)
        if workgroup is None:
            return None
        fields = workgroup_fields(
            workgroup.get("Description"), workgroup.get("Configuration") or {}
        )
        return Observed(fields, self.athena.tags(name))

    def _role(self, name: str) -> Observed | None:
        role = self.iam.role(name)
        if role is None:
            return None
        fields = role_fields(
            role["AssumeRolePolicyDocument"],
            role.get("Description"),
            self.iam.inline_policies(name),
        )
        return Observed(fields, self.iam.role_tags(name))

    def _object(self, key: str) -> Observed | None:
        if not self.bucket_exists():
            return None
        metadata = self.s3.object_metadata(self.bucket, key)
        return None if metadata is None else Observed({"sha256": metadata.get("sha256")})

    def _prefix(self, prefix: str) -> Observed | None:
        if not self.bucket_exists():
            return None
        first = next(iter(self.s3.list_keys(self.bucket, prefix)), None)
        return None if first is None else Observed({})

    def _table(self, qualified: str) -> Observed | None:
        database, table = qualified.split(".", 1)
        return None if self.glue.table(database, table) is None else Observed({})

    def _log_group(self, name: str) -> Observed | None:
        group = self.logs.log_group(name)
        if group is None:
            return None
        return Observed({"retentionInDays": group.get("retentionInDays")}, group["tags"])

    def _function(self, name: str) -> Observed | None:
        function = self.lambda_.function(name)
        if function is None:
            return None
        return Observed(function_fields(function["Configuration"]), function["Tags"])

    def _job(self, name: str) -> Observed | None:
        job = self.glue.job(name)
        return None if job is None else Observed(job_fields(job), self.glue.tags("job", name))

    def _crawler(self, name: str) -> Observed | None:
        crawler = self.glue.crawler(name)
        if crawler is None:
            return None
        return Observed(crawler_fields(crawler), self.glue.tags("crawler", name))

    def _state_machine(self, name: str) -> Observed | None:
        machine = self.states.state_machine(name)
        if machine is None:
            return None
        fields = state_machine_fields(
            machine["definition"], machine.get("roleArn"), machine.get("type")
        )
        return Observed(fields, machine["tags"])

    def _rule(self, name: str) -> Observed | None:
        rule = self.events.rule(name)
        if rule is None:
            return None
        targets = rule["Targets"]
        target = next(
            (t for t in targets if t.get("Id") == "pipeline"), targets[0] if targets else None
        )
        return Observed(rule_fields(rule, target), rule["Tags"])
