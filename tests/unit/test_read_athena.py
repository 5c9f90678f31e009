"""The Athena engine against botocore's Stubber: the exact requests, polling with backoff,
paging, `--limit`, Athena's failure reason, and Ctrl-C stopping the query."""

from __future__ import annotations

from collections.abc import Iterator
from datetime import date, datetime
from decimal import Decimal
from typing import Any

import boto3
import pytest
from botocore.stub import Stubber

from ppdw.aws.athena import Athena
from ppdw.aws.session import AwsSession
from ppdw.errors import AwsError
from ppdw.read import athena

QID = "11111111-2222-3333-4444-555555555555"
SQL = "SELECT ndc11, n FROM pp_dw_silver.nsde"
COLUMNS = [
    {"Name": "ndc11", "Type": "varchar"},
    {"Name": "n", "Type": "bigint"},
    {"Name": "d", "Type": "date"},
    {"Name": "t", "Type": "timestamp"},
    {"Name": "ok", "Type": "boolean"},
    {"Name": "x", "Type": "decimal", "Precision": 10, "Scale": 2},
]


@pytest.fixture
def stubbed() -> Iterator[tuple[Athena, Stubber]]:
    session = AwsSession(boto3.Session(region_name="us-east-1"))
    client = session.session.client("athena", region_name="us-east-1")
    session._clients["athena"] = client
    with Stubber(client) as stub:
        yield Athena(session, "123456789012", "us-east-1"), stub
        stub.assert_no_pending_responses()


def start(stub: Stubber) -> None:
    stub.add_response(
        "start_query_execution",
        {"QueryExecutionId": QID},
        {
            "QueryString": SQL,
            "WorkGroup": "pp-dw",
            "QueryExecutionContext": {"Catalog": "AwsDataCatalog"},
        },
    )


def state(stub: Stubber, value: str, reason: str | None = None) -> None:
    status: dict[str, Any] = {"State": value}
    if reason:
        status["StateChangeReason"] = reason
    stub.add_response(
        "get_query_execution",
        {"QueryExecution": {"QueryExecutionId": QID, "Status": status}},
        {"QueryExecutionId": QID},
    )


def row(*cells: str | None) -> dict[str, Any]:
    return {"Data": [{} if c is None else {"VarCharValue": c} for c in cells]}


def page(stub: Stubber, rows: list[dict[str, Any]], token_in: str | None, token_out: str | None):
    expected: dict[str, Any] = {"QueryExecutionId": QID, "MaxResults": 1000}
    if token_in:
        expected["NextToken"] = token_in
    answer: dict[str, Any] = {
        "ResultSet": {"Rows": rows, "ResultSetMetadata": {"ColumnInfo": COLUMNS}}
    }
    if token_out:
        answer["NextToken"] = token_out
    stub.add_response("get_query_results", answer, expected)


HEADER = row("ndc11", "n", "d", "t", "ok", "x")


def test_query_polls_with_backoff_and_reads_every_page(
    stubbed: tuple[Athena, Stubber],
) -> None:
    client, stub = stubbed
    start(stub)
    for value in ("QUEUED", "RUNNING", "RUNNING", "SUCCEEDED"):
        state(stub, value)
    page(
        stub,
        [HEADER, row("0001", "1", "2026-11-01", "2026-11-01 06:00:00.000", "true", "1.50")],
        None,
        "t1",
    )
    page(stub, [row("0002", None, None, None, "false", None)], "t1", None)
    slept: list[float] = []
    result = athena.run(client, SQL, "pp-dw", sleep=slept.append)
    assert slept == [0.2, 0.4, 0.8]
    assert result.table.to_pylist() == [
        {
            "ndc11": "0001",
            "n": 1,
            "d": date(2026, 11, 1),
            "t": datetime(2026, 11, 1, 6),
            "ok": True,
            "x": Decimal("1.50"),
        },
        {"ndc11": "0002", "n": None, "d": None, "t": None, "ok": False, "x": None},
    ]
    assert not result.truncated
    assert result.details == {"query_id": QID, "workgroup": "pp-dw"}


def test_limit_stops_paging(stubbed: tuple[Athena, Stubber]) -> None:
    client, stub = stubbed
    start(stub)
    state(stub, "SUCCEEDED")
    page(
        stub,
        [HEADER, row("1", "1", None, None, None, None), row("2", "2", None, None, None, None)],
        None,
        "t1",
    )
    result = athena.run(client, SQL, "pp-dw", limit=1, sleep=lambda _: None)
    assert result.table.column("ndc11").to_pylist() == ["1"]
    assert result.truncated  # the second page was never asked for


def test_failed_query_raises_athenas_reason(stubbed: tuple[Athena, Stubber]) -> None:
    client, stub = stubbed
    start(stub)
    state(stub, "RUNNING")
    state(stub, "FAILED", "COLUMN_NOT_FOUND: line 1:8: Column 'nope' cannot be resolved")
    with pytest.raises(AwsError, match="failed: COLUMN_NOT_FOUND: line 1:8: Column 'nope'"):
        athena.run(client, SQL, "pp-dw", sleep=lambda _: None)


def test_ctrl_c_stops_the_query_then_interrupts(stubbed: tuple[Athena, Stubber]) -> None:
    client, stub = stubbed
    start(stub)
    state(stub, "RUNNING")
    stub.add_response("stop_query_execution", {}, {"QueryExecutionId": QID})

    def interrupted(_: float) -> None:
        raise KeyboardInterrupt

    with pytest.raises(KeyboardInterrupt):
        athena.run(client, SQL, "pp-dw", sleep=interrupted)


def test_an_athena_api_error_names_the_action(stubbed: tuple[Athena, Stubber]) -> None:
    client, stub = stubbed
    stub.add_client_error(
        "start_query_execution", "InvalidRequestException", "WorkGroup pp-dw is not found."
    )
    with pytest.raises(AwsError, match="start an Athena query in workgroup pp-dw"):
        athena.run(client, SQL, "pp-dw", sleep=lambda _: None)
