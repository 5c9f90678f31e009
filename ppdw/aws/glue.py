"""Glue wrapper: databases, tables, jobs and crawlers (control plane).

NotFound answers come back as None; other failures as `AwsError` naming the action.
moto raises NotImplementedError for `update_job` / `update_crawler`: callers on the
`local` target fall back to delete + create (see `ppdw.deploy.execute`).
"""

from __future__ import annotations

from typing import Any, Literal

from botocore.config import Config
from botocore.exceptions import ClientError

from ppdw.aws import catalog
from ppdw.aws._common import aws_action, is_code
from ppdw.aws.session import AwsSession
from ppdw.errors import AwsError
from ppdw.naming import Arns

#: Glue resources ppdw tags.
GlueKind = Literal["database", "job", "crawler"]

_NOT_FOUND = ("EntityNotFoundException",)


class UpdateNotSupportedError(AwsError):
    """An AWS-compatible endpoint (moto server) does not implement an update call."""


class Glue:
    def __init__(self, aws: AwsSession, account_id: str, region: str) -> None:
        self._aws = aws
        self.account_id = account_id
        self.region = region

    @property
    def _c(self) -> Any:
        return self._aws.client("glue")

    def arn(self, kind: GlueKind, name: str) -> str:
        arns = Arns(self.region, self.account_id)
        build = {"database": arns.glue_database, "job": arns.glue_job, "crawler": arns.glue_crawler}
        return build[kind](name)

    def _get(self, action: str, call: Any, key: str, **kwargs: Any) -> dict[str, Any] | None:
        try:
            return dict(call(**kwargs)[key])
        except ClientError as exc:
            if is_code(exc, *_NOT_FOUND):
                return None
            with aws_action(action):
                raise

    # tags -----------------------------------------------------------------------------

    def tags(self, kind: GlueKind, name: str) -> dict[str, str]:
        try:
            answer = self._c.get_tags(ResourceArn=self.arn(kind, name))
        except ClientError as exc:
            if is_code(exc, *_NOT_FOUND):
                return {}
            with aws_action(f"get tags of glue {kind} {name}"):
                raise
        return dict(answer.get("Tags", {}))

    def tag(self, kind: GlueKind, name: str, tags: dict[str, str]) -> None:
        with aws_action(f"tag glue {kind} {name}"):
            self._c.tag_resource(ResourceArn=self.arn(kind, name), TagsToAdd=tags)

    # databases and tables -------------------------------------------------------------

    def database(self, name: str) -> dict[str, Any] | None:
        return self._get(f"get database {name}", self._c.get_database, "Database", Name=name)

    def create_database(self, name: str, description: str, tags: dict[str, str]) -> None:
        with aws_action(f"create database {name}"):
            self._c.create_database(
                DatabaseInput={"Name": name, "Description": description}, Tags=tags
            )

    def update_database(self, name: str, description: str) -> None:
        with aws_action(f"update database {name}"):
            self._c.update_database(
                Name=name, DatabaseInput={"Name": name, "Description": description}
            )

    def delete_database(self, name: str) -> None:
        with aws_action(f"delete database {name}"):
            self._c.delete_database(Name=name)

    def table_names(self, database: str) -> list[str]:
        names: list[str] = []
        paginator = self._c.get_paginator("get_tables")
        try:
            for page in paginator.paginate(DatabaseName=database):
                names.extend(str(t["Name"]) for t in page.get("TableList", []))
        except ClientError as exc:
            if is_code(exc, *_NOT_FOUND):
                return []
            with aws_action(f"list tables of {database}"):
                raise
        return names

    def table(self, database: str, name: str) -> dict[str, Any] | None:
        return catalog.get_table(self._c, database, name)

    def delete_table(self, database: str, name: str) -> None:
        catalog.delete_table(self._c, database, name)

    # jobs -----------------------------------------------------------------------------

    def job(self, name: str) -> dict[str, Any] | None:
        return self._get(f"get job {name}", self._c.get_job, "Job", JobName=name)

    def create_job(self, definition: dict[str, Any], tags: dict[str, str]) -> None:
        with aws_action(f"create job {definition['Name']}"):
            self._c.create_job(**definition, Tags=tags)

    def _updater(self) -> Any:
        """The client for update calls: on a custom endpoint, one attempt, no retries.

        moto answers update_job / update_crawler with HTTP 500 (not implemented); retrying
        that ten times would only delay the fallback.
        """
        if not self._aws.endpoint_url:
            return self._c
        config = self._aws.config.merge(Config(retries={"mode": "standard", "max_attempts": 1}))
        return self._aws.session.client("glue", endpoint_url=self._aws.endpoint_url, config=config)

    def _update(self, action: str, call: str, **kwargs: Any) -> None:
        try:
            getattr(self._updater(), call)(**kwargs)
        except ClientError as exc:
            status = exc.response.get("ResponseMetadata", {}).get("HTTPStatusCode")
            if self._aws.endpoint_url and status == 500:
                raise UpdateNotSupportedError(f"{action}: not supported by the endpoint") from exc
            with aws_action(action):
                raise

    def update_job(self, definition: dict[str, Any]) -> None:
        update = {k: v for k, v in definition.items() if k != "Name"}
        self._update(
            f"update job {definition['Name']}",
            "update_job",
            JobName=definition["Name"],
            JobUpdate=update,
        )

    def delete_job(self, name: str) -> None:
        with aws_action(f"delete job {name}"):
            self._c.delete_job(JobName=name)

    # crawlers -------------------------------------------------------------------------

    def crawler(self, name: str) -> dict[str, Any] | None:
        return self._get(f"get crawler {name}", self._c.get_crawler, "Crawler", Name=name)

    def create_crawler(self, definition: dict[str, Any], tags: dict[str, str]) -> None:
        with aws_action(f"create crawler {definition['Name']}"):
            self._c.create_crawler(**definition, Tags=tags)

    def update_crawler(self, definition: dict[str, Any]) -> None:
        self._update(f"update crawler {definition['Name']}", "update_crawler", **definition)

    def delete_crawler(self, name: str) -> None:
        with aws_action(f"delete crawler {name}"):
            self._c.delete_crawler(Name=name)
