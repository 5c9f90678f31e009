"""A bridge to `@cloud-copilot/iam-simulate`: IAM's evaluation logic, run by node.

One long-lived `node tools/iam-simulate/simulate.mjs` per test process answers one JSON
line per request; answers are cached, since a pipeline run repeats the same few requests
many times. The npm packages are installed by `install.sh` in that folder (`.ci/run` runs
it; the first test that needs them runs it otherwise).
"""

from __future__ import annotations

import json
import shutil
import subprocess
import threading
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from filelock import FileLock

TOOL = Path(__file__).resolve().parents[3] / "tools" / "iam-simulate"
INSTALL_HINT = "run tools/iam-simulate/install.sh (.ci/run does)"


def install() -> None:
    """The simulator's npm packages, installed from the lock file first if missing (once:
    pytest-xdist workers wait on a file lock; the script caches by the lock's hash)."""
    with FileLock(str(TOOL / "node_modules.lock"), timeout=600):
        if (TOOL / "node_modules" / "@cloud-copilot" / "iam-simulate").is_dir():
            return
        done = subprocess.run(
            ["bash", str(TOOL / "install.sh")], capture_output=True, text=True, check=False
        )
        if done.returncode != 0:
            raise RuntimeError(
                f"installing the IAM simulator failed ({INSTALL_HINT}): {done.stderr[-2000:]}"
            )


Document = dict[str, Any]


@dataclass(frozen=True)
class IamRequest:
    """One authorization IAM makes: an action on a resource, with its context keys."""

    action: str
    resource: str
    context: tuple[tuple[str, str], ...] = ()

    def describe(self) -> str:
        extra = ", ".join(f"{k}={v}" for k, v in self.context)
        return f"{self.action} on {self.resource}" + (f" ({extra})" if extra else "")


def request(action: str, resource: str, **context: str) -> IamRequest:
    """`request("s3:ListBucket", arn, **{"s3:prefix": "raw/"})`."""
    return IamRequest(action, resource, tuple(sorted(context.items())))


@dataclass(frozen=True)
class Principal:
    """Who calls, and every policy that applies to it."""

    key: str  # a name for the policy set
    arn: str
    account: str
    identity: tuple[tuple[str, str], ...]  # (policy name, JSON document)
    #: Resource policies by service (the bucket policy for "s3").
    resources: tuple[tuple[str, str], ...] = ()

    @classmethod
    def of(
        cls,
        key: str,
        arn: str,
        account: str,
        identity: dict[str, Document],
        resources: dict[str, Document] | None = None,
    ) -> Principal:
        return cls(
            key,
            arn,
            account,
            tuple((name, json.dumps(doc, sort_keys=True)) for name, doc in identity.items()),
            tuple((svc, json.dumps(doc, sort_keys=True)) for svc, doc in (resources or {}).items()),
        )


@dataclass
class Simulator:
    """Ask IAM's logic whether a principal may make a request."""

    process: subprocess.Popen[str]
    _cache: dict[tuple[Principal, IamRequest], str] = field(default_factory=dict)
    _registered: set[Principal] = field(default_factory=set)
    _lock: threading.Lock = field(default_factory=threading.Lock)

    @classmethod
    def start(cls) -> Simulator:
        node = shutil.which("node")
        if node is None:
            raise RuntimeError(f"node is not installed; the IAM tests need it ({INSTALL_HINT})")
        install()
        process = subprocess.Popen(
            [node, str(TOOL / "simulate.mjs")],
            stdin=subprocess.PIPE,
            stdout=subprocess.PIPE,
            text=True,
            bufsize=1,
        )
        return cls(process)

    def close(self) -> None:
        if self.process.stdin:
            self.process.stdin.close()
        self.process.wait(timeout=10)

    def _ask(self, message: Document) -> Document:
        assert self.process.stdin is not None
        assert self.process.stdout is not None
        self.process.stdin.write(json.dumps(message) + "\n")
        self.process.stdin.flush()
        line = self.process.stdout.readline()
        if not line:
            raise RuntimeError("the IAM simulator stopped")
        answer: Document = json.loads(line)
        return answer

    def _register(self, principal: Principal) -> None:
        if principal in self._registered:
            return
        self._ask(
            {
                "op": "policies",
                "id": str(hash(principal)),
                "principal": principal.arn,
                "account": principal.account,
                "identity": [
                    {"name": name, "policy": json.loads(doc)} for name, doc in principal.identity
                ],
                "resources": {svc: json.loads(doc) for svc, doc in principal.resources},
            }
        )
        self._registered.add(principal)

    def decide(self, principal: Principal, req: IamRequest) -> str:
        """`Allowed`, `ImplicitlyDenied`, `ExplicitlyDenied`, or `error: ...` when IAM would
        not even take the request (unknown action, wrong resource type, bad context key)."""
        with self._lock:
            cached = self._cache.get((principal, req))
            if cached is not None:
                return cached
            self._register(principal)
            answer = self._ask(
                {
                    "op": "check",
                    "policies": str(hash(principal)),
                    "action": req.action,
                    "resource": req.resource,
                    "context": dict(req.context),
                }
            )
            decision = str(answer["decision"])
            if decision == "error":
                decision = f"error: {json.dumps(answer.get('errors'))}"
            self._cache[(principal, req)] = decision
            return decision
