"""An in-process Athena workgroup endpoint for tests, because moto cannot serve Athena here.

botocore (1.44) speaks Athena's rest-json protocol; moto 5.2.5 only routes Athena's older
json protocol and answers every call "404 Not yet implemented". This double answers the
workgroup calls ppdw makes, inside botocore's own call path (`before-call`), so requests
are still validated against the service model and `AwsSession` still records each call
(the idempotency tests count mutating calls). Queries are tested with botocore's Stubber.
"""

from __future__ import annotations

import copy
from typing import Any

from botocore.awsrequest import AWSResponse
from botocore.exceptions import ClientError

PARAMS = "fake_athena_params"


class FakeAthena:
    def __init__(self) -> None:
        self.workgroups: dict[str, dict[str, Any]] = {}
        self.tags: dict[str, dict[str, str]] = {}

    def attach(self, client: Any) -> None:
        client.meta.events.register("before-parameter-build.athena.*", self._keep)
        client.meta.events.register("before-call.athena.*", self._answer)

    @staticmethod
    def _keep(params: dict[str, Any], context: dict[str, Any], **_: Any) -> None:
        context[PARAMS] = copy.deepcopy(params)

    def _answer(self, model: Any, context: dict[str, Any], **_: Any) -> tuple[Any, Any]:
        handler = getattr(self, f"_{model.name}", None)
        if handler is None:
            raise NotImplementedError(f"FakeAthena has no {model.name}")
        body = handler(context.get(PARAMS, {}))
        return AWSResponse("https://athena.fake/", 200, {}, None), {
            **body,
            "ResponseMetadata": {"HTTPStatusCode": 200},
        }

    @staticmethod
    def _error(operation: str, code: str, message: str) -> ClientError:
        return ClientError({"Error": {"Code": code, "Message": message}}, operation)

    def _require(self, operation: str, name: str) -> dict[str, Any]:
        if name not in self.workgroups:
            raise self._error(
                operation, "InvalidRequestException", f"WorkGroup {name} is not found."
            )
        return self.workgroups[name]

    def _GetWorkGroup(self, p: dict[str, Any]) -> dict[str, Any]:
        return {"WorkGroup": copy.deepcopy(self._require("GetWorkGroup", p["WorkGroup"]))}

    def _CreateWorkGroup(self, p: dict[str, Any]) -> dict[str, Any]:
        name = p["Name"]
        if name in self.workgroups:
            raise self._error(
                "CreateWorkGroup", "InvalidRequestException", f"WorkGroup {name} already exists"
            )
        configuration = copy.deepcopy(p.get("Configuration") or {})
        configuration.setdefault("RequesterPaysEnabled", False)  # AWS adds its defaults
        self.workgroups[name] = {
            "Name": name,
            "State": "ENABLED",
            "Description": p.get("Description", ""),
            "Configuration": configuration,
        }
        arn = f"arn:aws:athena:us-east-1:123456789012:workgroup/{name}"
        self.tags[arn] = {t["Key"]: t["Value"] for t in p.get("Tags", [])}
        return {}

    def _UpdateWorkGroup(self, p: dict[str, Any]) -> dict[str, Any]:
        group = self._require("UpdateWorkGroup", p["WorkGroup"])
        if "Description" in p:
            group["Description"] = p["Description"]
        updates = copy.deepcopy(p.get("ConfigurationUpdates") or {})
        result = updates.pop("ResultConfigurationUpdates", None)
        if result is not None:
            group["Configuration"]["ResultConfiguration"] = result
        group["Configuration"].update(updates)
        return {}

    def _DeleteWorkGroup(self, p: dict[str, Any]) -> dict[str, Any]:
        self._require("DeleteWorkGroup", p["WorkGroup"])
        del self.workgroups[p["WorkGroup"]]
        return {}

    def _ListTagsForResource(self, p: dict[str, Any]) -> dict[str, Any]:
        tags = self.tags.get(p["ResourceARN"], {})
        return {"Tags": [{"Key": k, "Value": v} for k, v in sorted(tags.items())]}

    def _TagResource(self, p: dict[str, Any]) -> dict[str, Any]:
        current = self.tags.setdefault(p["ResourceARN"], {})
        current.update({t["Key"]: t["Value"] for t in p.get("Tags", [])})
        return {}
