"""What an opened target is to the rest of ppdw: a session, its account and region.

Rule: plain data; the target modules (`local`, `aws`) build it, everything else reads it.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Literal

from ppdw.aws.session import AwsSession


@dataclass
class TargetContext:
    name: str
    kind: Literal["local", "aws"]
    aws: AwsSession
    account_id: str
    region: str
    #: Athena is served here (AWS targets unless their config says `athena: false`).
    athena: bool = False
    #: The local state is loaded in this process alone (not served, not read-only): only
    #: this process can change the stacks it holds until it closes.
    exclusive: bool = False
    _on_close: list[Callable[[bool], None]] = field(default_factory=list)

    def on_close(self, callback: Callable[[bool], None]) -> None:
        self._on_close.append(callback)

    def close(self, ok: bool = True) -> None:
        """Release the target; `ok` says whether the command succeeded (local: save)."""
        callbacks, self._on_close = self._on_close, []
        for callback in reversed(callbacks):
            callback(ok)
