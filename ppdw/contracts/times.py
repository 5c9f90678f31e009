"""The one text form of a moment in the run records and the job arguments.

Rule: standard library only. ISO-8601 UTC with whole seconds and a `Z`
(`2026-11-01T06:00:00Z`); naive datetimes are taken as UTC.
"""

from __future__ import annotations

from datetime import UTC, datetime


def utc_now() -> datetime:
    return datetime.now(UTC).replace(microsecond=0)


def format_time(moment: datetime) -> str:
    """ISO-8601 UTC, whole seconds, `Z` suffix; naive datetimes are taken as UTC."""
    if moment.tzinfo is None:
        moment = moment.replace(tzinfo=UTC)
    return moment.astimezone(UTC).replace(microsecond=0).strftime("%Y-%m-%dT%H:%M:%SZ")


def parse_time(text: str) -> datetime:
    """Inverse of `format_time`; accepts any ISO-8601 form, naive means UTC."""
    moment = datetime.fromisoformat(text.strip())
    if moment.tzinfo is None:
        moment = moment.replace(tzinfo=UTC)
    return moment.astimezone(UTC)
