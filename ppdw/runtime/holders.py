"""Who holds a dataset's run lease, and whether that holder is alive (data.md, Run).

Rule: standard library and botocore only (the fetch Lambda imports it). Two kinds of
holder:

- a process (the local runner): its host, its machine (the kernel's boot id and the pid
  namespace: inside both, a pid plus the process start time names one process, even after
  the pid is reused), pid, start time and a random token. On the same machine the holder
  is alive exactly while that process runs; elsewhere its liveness is unknown and only
  the lease's expiry speaks for it.
- a Step Functions execution (the fetch Lambda and the Glue jobs of one execution): the
  state machine and the execution name, which is the run id. It is alive while the
  execution is RUNNING, when the checker may ask Step Functions; otherwise unknown.
"""

from __future__ import annotations

import os
import secrets
import socket
from collections.abc import Callable
from dataclasses import asdict, dataclass
from pathlib import Path
from typing import Any, Literal

from ppdw.aws import executions
from ppdw.aws.errors import AWS_OR_SHAPE_ERRORS

HolderKind = Literal["process", "execution"]
Verdict = Literal["alive", "dead", "unknown"]
#: (state machine name, execution name) -> the execution's status, None when unknown.
ExecutionStatus = Callable[[str, str], str | None]

_PROC = Path("/proc")
#: What `execution_status` answers for an execution Step Functions does not know.
NO_EXECUTION = executions.NO_EXECUTION


@dataclass(frozen=True)
class Holder:
    kind: HolderKind
    run_id: str
    token: str
    host: str = ""
    machine: str = ""
    pid: int = 0
    start: str = ""
    state_machine: str = ""

    def same_as(self, other: Holder) -> bool:
        return self.kind == other.kind and self.token == other.token

    def describe(self) -> str:
        if self.kind == "execution":
            return f"Step Functions execution {self.run_id} of {self.state_machine}"
        return f"pid {self.pid} on host {self.host}"

    def as_json(self) -> dict[str, Any]:
        return asdict(self)

    @classmethod
    def from_json(cls, document: Any) -> Holder | None:
        """A holder written by `as_json`; None for anything else (e.g. an older lock)."""
        if not isinstance(document, dict) or document.get("kind") not in ("process", "execution"):
            return None
        try:
            return cls(
                kind=document["kind"],
                run_id=str(document["run_id"]),
                token=str(document["token"]),
                host=str(document.get("host", "")),
                machine=str(document.get("machine", "")),
                pid=int(document.get("pid", 0)),
                start=str(document.get("start", "")),
                state_machine=str(document.get("state_machine", "")),
            )
        except (KeyError, TypeError, ValueError):
            return None


def this_process(run_id: str) -> Holder:
    """A new holder for this process (a fresh token per lease taken)."""
    pid = os.getpid()
    return Holder(
        kind="process",
        run_id=run_id,
        token=secrets.token_hex(8),
        host=socket.gethostname(),
        machine=this_machine(),
        pid=pid,
        start=process_start(pid),
    )


def execution(run_id: str, state_machine: str) -> Holder:
    """The holder of every step of execution `run_id` (execution names are unique)."""
    return Holder(kind="execution", run_id=run_id, token=run_id, state_machine=state_machine)


def this_machine() -> str:
    """Host name, boot id and pid namespace: where pid + start time name one process.

    Without /proc (not Linux) only the host name is known, and pids are then compared
    without start times (a reused pid reads as alive: the safe side)."""
    parts = [socket.gethostname(), _read(_PROC / "sys/kernel/random/boot_id")]
    try:
        parts.append(os.readlink(_PROC / "self/ns/pid"))
    except OSError:
        parts.append("")
    return "/".join(parts)


def process_start(pid: int) -> str:
    """The process's start time in clock ticks after boot ("" when unknown)."""
    fields = _stat_fields(pid)
    return fields[19] if len(fields) > 19 else ""


def _stat_fields(pid: int) -> list[str]:
    """/proc/{pid}/stat after the command name (which may hold spaces and parentheses):
    [state, ppid, ...]; field 22 of proc(5), starttime, is index 19 here."""
    text = _read(_PROC / str(pid) / "stat")
    return text.rpartition(")")[2].split() if text else []


def _read(path: Path) -> str:
    try:
        return path.read_text().strip()
    except OSError:
        return ""


def process_alive(pid: int, start: str) -> bool:
    """Is the process `pid`, started at `start`, still running on this machine?"""
    if pid <= 0:
        return False
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except PermissionError:
        pass  # it exists, owned by another user: the checks below decide
    fields = _stat_fields(pid)
    if not fields:
        return not _PROC.joinpath("self").exists()  # no /proc: the pid exists, alive
    if fields[0] in ("Z", "X"):
        return False  # a zombie (killed, not yet reaped) runs no code
    return not start or fields[19] == start


def judge(
    holder: Holder,
    *,
    held_here: Callable[[str], bool],
    executions: ExecutionStatus | None = None,
) -> tuple[Verdict, str]:
    """Alive, dead or unknown, with the reason a user reads when it is taken over.

    `held_here(token)` says whether this very process still holds a lease with that
    token (a lease an earlier attempt in this process left behind is dead)."""
    if holder.kind == "process":
        if holder.machine != this_machine():
            return "unknown", f"{holder.describe()} is on another machine"
        if holder.pid == os.getpid():
            alive = held_here(holder.token)
        else:
            alive = process_alive(holder.pid, holder.start)
        return ("alive", "") if alive else ("dead", f"its process ({holder.describe()}) is gone")
    if executions is None:
        return "unknown", "its execution's state cannot be read here"
    status = executions(holder.state_machine, holder.run_id)
    if status is None:
        return "unknown", "its execution's state cannot be read"
    if status == "RUNNING":
        return "alive", ""
    if status == NO_EXECUTION:
        return "dead", f"no {holder.describe()} exists"
    return "dead", f"its execution ended ({status})"


def execution_status(sfn: Any, *, partition: str, region: str, account: str) -> ExecutionStatus:
    """Ask Step Functions; an execution that does not exist holds nothing (e.g. the fetch
    handler called directly), while a refused or failed call is unknown."""

    def status(state_machine: str, name: str) -> str | None:
        arn = f"arn:{partition}:states:{region}:{account}:execution:{state_machine}:{name}"
        return executions.execution_status(sfn, arn)

    return status


def partition_of(region: str) -> str:
    if region.startswith("us-gov-"):
        return "aws-us-gov"
    if region.startswith("cn-"):
        return "aws-cn"
    return "aws"


def execution_status_from_sts(client: Callable[[str], Any]) -> ExecutionStatus:
    """`execution_status` for code that knows neither account nor region (the Lambda and
    the Glue jobs): both come from STS, asked only when an execution must be judged."""
    found: dict[str, ExecutionStatus | None] = {}

    def status(state_machine: str, name: str) -> str | None:
        if "lookup" not in found:
            found["lookup"] = _lookup_from_sts(client)
        lookup = found["lookup"]
        return lookup(state_machine, name) if lookup else None

    return status


def _lookup_from_sts(client: Callable[[str], Any]) -> ExecutionStatus | None:
    try:
        sts = client("sts")
        region = str(sts.meta.region_name)
    except AWS_OR_SHAPE_ERRORS:
        return None
    arn = executions.caller_arn(sts)  # arn:{partition}:sts::{account}:...
    if arn is None:
        return None
    parts = arn.split(":")
    if len(parts) < 5:
        return None
    sfn = client("stepfunctions")
    return execution_status(sfn, partition=parts[1], region=region, account=parts[4])
