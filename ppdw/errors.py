"""One error root for everything ppdw reports to a user.

Standard library only: the runtime (Lambda, Glue) raises these too.
"""

from __future__ import annotations

from enum import IntEnum


class ExitCode(IntEnum):
    OK = 0
    FAILURE = 1
    USAGE = 2  # bad flag, invalid config or name; `plan` uses it for "changes"
    CHANGES = 2
    INTERRUPTED = 130


class PpdwError(Exception):
    """An error with a plain message (what failed) and a hint (what to do)."""

    exit_code: ExitCode = ExitCode.FAILURE

    def __init__(self, message: str, hint: str | None = None) -> None:
        super().__init__(message)
        self.message = message
        self.hint = hint

    def __str__(self) -> str:
        return self.message


class UsageError(PpdwError):
    """Bad flag, bad name, bad argument combination."""

    exit_code = ExitCode.USAGE


class ConfigError(PpdwError):
    """A config file or dataset folder is invalid; the message names file and field."""

    exit_code = ExitCode.USAGE


class TargetError(PpdwError):
    """The target cannot be used (credentials, account guard, unknown target)."""

    exit_code = ExitCode.USAGE


class AwsError(PpdwError):
    """An AWS call failed while doing a known action."""


# Rules a run breaks through its flags, not its data (a run time not after the last
# applied run): fixed by changing the command, so they exit as usage errors.
USAGE_RULES = frozenset({"out_of_order"})


class DataQualityError(PpdwError):
    """A run broke a data rule; the message names the rule (and file, line where known)."""

    def __init__(self, rule: str, message: str, hint: str | None = None) -> None:
        super().__init__(f"{rule}: {message}", hint)
        self.rule = rule
        if rule in USAGE_RULES:
            self.exit_code = ExitCode.USAGE


class LockedError(PpdwError):
    """Another invocation holds the lock (state or dataset run)."""


class LeaseLostError(LockedError):
    """A run no longer holds its dataset's lease (taken over): it must not commit."""


def did_you_mean(word: str, choices: list[str] | tuple[str, ...]) -> str | None:
    """`did you mean 'nsde'?` for a near miss among `choices`, else None."""
    from difflib import get_close_matches

    close = get_close_matches(word, list(choices), n=3, cutoff=0.6)
    if not close:
        return None
    return "did you mean " + " or ".join(repr(c) for c in close) + "?"
