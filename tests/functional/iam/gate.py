"""An IAM gate on a boto3 session: every call is recorded, authorized as IAM would, and
refused with AccessDenied when the principal's policies do not allow it.

moto does not enforce IAM in a way least-privilege policies can be tested with: its
access control checks most services against Resource "*" and treats a statement with a
Condition it cannot evaluate as a Deny (moto/iam/access_control.py). So the gate hooks
botocore's events instead: `before-parameter-build` keeps the call's parameters,
`before-call` maps the call to its IAM requests (`actions.TABLE`), asks the simulator,
and answers a denied call itself with the error AWS gives, before moto sees it.

S3's rule for missing keys is modelled: GetObject/HeadObject of a key that does not exist
answers 403 AccessDenied unless the caller may also s3:ListBucket that prefix.
"""

from __future__ import annotations

import threading
from dataclasses import dataclass, field
from typing import Any

import boto3
from botocore.awsrequest import AWSResponse
from botocore.exceptions import ClientError

from tests.functional.iam.actions import Arns, requests_for
from tests.functional.iam.simulator import IamRequest, Principal, Simulator, request

_PARAMS = "ppdw_iam_params"
#: Large payloads are not kept in the call log.
_BULKY = ("Body", "ZipFile", "Code", "definition", "PolicyDocument", "AssumeRolePolicyDocument")


@dataclass(frozen=True)
class Call:
    service: str
    operation: str
    params: dict[str, Any]

    def describe(self) -> str:
        return f"{self.service}:{self.operation}"


@dataclass(frozen=True)
class Denial:
    call: Call
    request: IamRequest
    decision: str
    note: str = ""

    def describe(self) -> str:
        text = f"{self.call.describe()} needs {self.request.describe()}: {self.decision}"
        return f"{text} ({self.note})" if self.note else text


@dataclass
class Gate:
    """Authorizes every call of the sessions it is installed on as `principal`."""

    simulator: Simulator
    principal: Principal
    arns: Arns
    #: An ungated client of the same endpoint, to see whether an object exists.
    admin_s3: Any
    calls: list[Call] = field(default_factory=list)
    denials: list[Denial] = field(default_factory=list)
    unmapped: list[Call] = field(default_factory=list)
    _lock: threading.Lock = field(default_factory=threading.Lock)

    def install(self, session: boto3.Session) -> None:
        events = session.events
        events.register("before-parameter-build", self._keep_params)
        events.register("before-call", self._authorize)

    # botocore hooks ----------------------------------------------------------------------

    def _keep_params(self, params: dict[str, Any], context: dict[str, Any], **_: Any) -> None:
        context[_PARAMS] = dict(params)

    def _authorize(self, model: Any, context: dict[str, Any], **_: Any) -> Any:
        service = model.service_model.service_name
        params = context.get(_PARAMS, {})
        call = Call(service, model.name, {k: v for k, v in params.items() if k not in _BULKY})
        with self._lock:
            self.calls.append(call)
        needed = requests_for(service, model.name, params, self.arns)
        if needed is None:
            with self._lock:
                self.unmapped.append(call)
            return None  # reported by check(); the call itself goes through
        for req in needed:
            decision = self.simulator.decide(self.principal, req)
            if decision != "Allowed":
                return self._deny(call, req, decision)
        if service == "s3" and model.name in ("GetObject", "HeadObject"):
            return self._missing_key_rule(call, params)
        return None

    def _missing_key_rule(self, call: Call, params: dict[str, Any]) -> Any:
        bucket, key = params["Bucket"], params["Key"]
        try:
            self.admin_s3.head_object(Bucket=bucket, Key=key)
            return None
        except ClientError as error:
            if error.response.get("Error", {}).get("Code") not in ("404", "NoSuchKey"):
                return None
        listing = request("s3:ListBucket", self.arns.bucket(bucket), **{"s3:prefix": key})
        decision = self.simulator.decide(self.principal, listing)
        if decision == "Allowed":
            return None  # S3 answers 404: the caller may know the key is missing
        note = "the key is missing: without s3:ListBucket S3 answers 403, not 404"
        return self._deny(call, listing, decision, note)

    def _deny(self, call: Call, req: IamRequest, decision: str, note: str = "") -> Any:
        with self._lock:
            self.denials.append(Denial(call, req, decision, note))
        if call.service == "s3" and call.operation == "HeadObject":
            code, message = "403", "Forbidden"  # HEAD responses have no body
        else:
            code = (
                "AccessDenied" if call.service in ("s3", "iam", "sts") else "AccessDeniedException"
            )
            message = (
                f"User: {self.principal.arn} is not authorized to perform: {req.action} "
                f"on resource: {req.resource}"
            )
        parsed = {
            "Error": {"Code": code, "Message": message},
            "ResponseMetadata": {"HTTPStatusCode": 403, "HTTPHeaders": {}},
        }
        return AWSResponse("https://iam-gate.invalid", 403, {}, None), parsed

    # results -----------------------------------------------------------------------------

    def problems(self) -> list[str]:
        out = [f"not in the IAM table, add it: {c.describe()}" for c in self.unmapped]
        out += [f"denied: {d.describe()}" for d in self.denials]
        return list(dict.fromkeys(out))

    def check(self) -> None:
        """Fail naming every unmapped operation and every denied action and resource."""
        problems = self.problems()
        if problems:
            raise AssertionError(
                f"{self.principal.arn}: {len(problems)} IAM problem(s):\n" + "\n".join(problems)
            )

    def operations(self) -> set[str]:
        return {c.describe() for c in self.calls}
