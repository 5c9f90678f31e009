"""Athena wrapper: the warehouse's workgroup (control plane) and query executions.

A missing workgroup comes back as None; other failures as `AwsError` naming the action.
Polling, paging and cancellation policy live in `ppdw.read.athena`; this module makes one
API call per method.
"""

from __future__ import annotations

from collections.abc import Iterator
from dataclasses import dataclass
from typing import Any

from botocore.exceptions import ClientError

from ppdw.aws._common import aws_action, is_code, tag_dict, tag_list
from ppdw.aws.session import AwsSession
from ppdw.naming import Arns

#: Athena answers a missing workgroup with InvalidRequestException ("... is not found").
_NOT_FOUND = ("InvalidRequestException", "ResourceNotFoundException")
RESULT_PAGE_SIZE = 1000  # GetQueryResults' maximum


@dataclass(frozen=True)
class QueryState:
    state: str  # QUEUED, RUNNING, SUCCEEDED, FAILED, CANCELLED
    reason: str | None = None


@dataclass(frozen=True)
class ResultPage:
    columns: list[dict[str, Any]]  # ColumnInfo: Name, Type, Precision, Scale
    rows: list[list[str | None]]  # VarCharValue of each cell (None = null)
    next_token: str | None


class Athena:
    def __init__(self, aws: AwsSession, account_id: str, region: str) -> None:
        self._aws = aws
        self.account_id = account_id
        self.region = region

    @property
    def _c(self) -> Any:
        return self._aws.client("athena")

    def workgroup_arn(self, name: str) -> str:
        return Arns(self.region, self.account_id).workgroup(name)

    # workgroup ------------------------------------------------------------------------

    def workgroup(self, name: str) -> dict[str, Any] | None:
        try:
            answer = self._c.get_work_group(WorkGroup=name)
        except ClientError as exc:
            if is_code(exc, *_NOT_FOUND) and "not found" in str(exc).lower():
                return None
            with aws_action(f"get Athena workgroup {name}"):
                raise
        found = answer.get("WorkGroup")
        return dict(found) if found else None

    def create_workgroup(
        self, name: str, description: str, configuration: dict[str, Any], tags: dict[str, str]
    ) -> None:
        with aws_action(f"create Athena workgroup {name}"):
            self._c.create_work_group(
                Name=name,
                Description=description,
                Configuration=configuration,
                Tags=tag_list(tags),
            )

    def update_workgroup(self, name: str, description: str, updates: dict[str, Any]) -> None:
        with aws_action(f"update Athena workgroup {name}"):
            self._c.update_work_group(
                WorkGroup=name, Description=description, ConfigurationUpdates=updates
            )

    def delete_workgroup(self, name: str) -> None:
        with aws_action(f"delete Athena workgroup {name}"):
            self._c.delete_work_group(WorkGroup=name, RecursiveDeleteOption=True)

    def tags(self, name: str) -> dict[str, str]:
        with aws_action(f"get tags of Athena workgroup {name}"):
            answer = self._c.list_tags_for_resource(ResourceARN=self.workgroup_arn(name))
        return tag_dict(answer.get("Tags"))

    def tag(self, name: str, tags: dict[str, str]) -> None:
        with aws_action(f"tag Athena workgroup {name}"):
            self._c.tag_resource(ResourceARN=self.workgroup_arn(name), Tags=tag_list(tags))

    # queries --------------------------------------------------------------------------

    def start_query(self, sql: str, workgroup: str) -> str:
        with aws_action(f"start an Athena query in workgroup {workgroup}"):
            answer = self._c.start_query_execution(
                QueryString=sql,
                WorkGroup=workgroup,
                QueryExecutionContext={"Catalog": "AwsDataCatalog"},
            )
        return str(answer["QueryExecutionId"])

    def query_state(self, query_id: str) -> QueryState:
        with aws_action(f"get Athena query {query_id}"):
            answer = self._c.get_query_execution(QueryExecutionId=query_id)
        status = answer["QueryExecution"].get("Status") or {}
        reason = status.get("StateChangeReason") or (status.get("AthenaError") or {}).get(
            "ErrorMessage"
        )
        return QueryState(str(status.get("State") or "QUEUED"), reason)

    def stop_query(self, query_id: str) -> None:
        with aws_action(f"stop Athena query {query_id}"):
            self._c.stop_query_execution(QueryExecutionId=query_id)

    def result_page(self, query_id: str, token: str | None) -> ResultPage:
        extra = {"NextToken": token} if token else {}
        with aws_action(f"get results of Athena query {query_id}"):
            answer = self._c.get_query_results(
                QueryExecutionId=query_id, MaxResults=RESULT_PAGE_SIZE, **extra
            )
        result = answer.get("ResultSet") or {}
        columns = list((result.get("ResultSetMetadata") or {}).get("ColumnInfo") or [])
        rows = [
            [cell.get("VarCharValue") for cell in row.get("Data", [])]
            for row in result.get("Rows", [])
        ]
        return ResultPage(columns, rows, answer.get("NextToken"))

    def result_pages(self, query_id: str) -> Iterator[ResultPage]:
        token: str | None = None
        while True:
            page = self.result_page(query_id, token)
            yield page
            token = page.next_token
            if not token:
                return
