"""The job context's helpers: stats as JSON data, and the lease fence."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from pydantic import BaseModel

from ppdw.runtime.context import JobContext, as_dict


@dataclass
class _Stats:
    rows: int
    when: Any


class _Model(BaseModel):
    rows: int


def test_as_dict_turns_dataclasses_models_and_none_into_json_data() -> None:
    assert as_dict(None) == {}
    assert as_dict(_Stats(rows=2, when=object)) == {"rows": 2, "when": str(object)}
    assert as_dict(_Model(rows=3)) == {"rows": 3}
    assert as_dict({"a": (1, 2)}) == {"a": [1, 2]}


class _Lease:
    def __init__(self) -> None:
        self.checks = 0

    def check(self) -> None:
        self.checks += 1


def test_check_lease_checks_the_lease_when_one_is_held() -> None:
    args: Any = type("Args", (), {"bucket": "b"})()
    ctx = JobContext(args, None, None, None, None, None, None, None)  # type: ignore[arg-type]
    ctx.check_lease()  # no lease: nothing to fence
    lease = _Lease()
    ctx.lease = lease  # type: ignore[assignment]
    ctx.check_lease()
    assert lease.checks == 1
    assert ctx.bucket == "b"
