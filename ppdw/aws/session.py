"""The boto3 session every wrapper is built on: retries, endpoint, call accounting.

Clients are created on first use from an injected session, never at import time. Every
API call is recorded (service, operation) so tests and benchmarks can count mutating
calls: a second `bootstrap-core` must make none.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

import boto3
from botocore.config import Config

#: Operation name prefixes that only read. Everything else counts as mutating.
_READ_PREFIXES = ("Get", "List", "Describe", "Head", "BatchGet", "Search", "Lookup", "Select")

#: botocore's adaptive mode retries throttling and transient errors with backoff and a
#: client-side rate limiter; 10 attempts ride out a burst of Glue/IAM throttling.
RETRY_CONFIG = Config(
    retries={"mode": "adaptive", "max_attempts": 10},
    connect_timeout=10,
    read_timeout=120,
    user_agent_extra="ppdw",
)


def is_mutating(operation: str) -> bool:
    return not operation.startswith(_READ_PREFIXES)


@dataclass(frozen=True)
class ApiCall:
    service: str
    operation: str

    @property
    def mutating(self) -> bool:
        return is_mutating(self.operation)


@dataclass
class AwsSession:
    """A boto3 session plus the endpoint it talks to and a log of the calls it made."""

    session: boto3.Session
    endpoint_url: str | None = None
    config: Config = RETRY_CONFIG
    calls: list[ApiCall] = field(default_factory=list)
    _clients: dict[str, Any] = field(default_factory=dict)

    def __post_init__(self) -> None:
        self.session.events.register("before-call.*.*", self._record)

    def _record(self, model: Any, **_: Any) -> None:
        self.calls.append(ApiCall(model.service_model.service_name, model.name))

    @property
    def region(self) -> str:
        return self.session.region_name or "us-east-1"

    def client(self, service: str) -> Any:
        if service not in self._clients:
            self._clients[service] = self.session.client(  # type: ignore[call-overload]
                service, endpoint_url=self.endpoint_url, config=self.config
            )
        return self._clients[service]

    def mutating_calls(self) -> list[ApiCall]:
        return [call for call in self.calls if call.mutating]


def make_session(
    *,
    profile: str | None = None,
    region: str | None = None,
    endpoint_url: str | None = None,
    credentials: dict[str, str] | None = None,
    isolated: bool = False,
    lean: bool = False,
) -> AwsSession:
    """Build a session from boto3's default chain (env, profile, SSO, instance role).

    `isolated=True` ignores the environment's AWS_PROFILE and AWS_ENDPOINT_URL (and
    endpoint settings in config files): the `local` target must never reach real AWS.
    `lean=True`: clients with `lean_client_config` (for the emulator only).
    """
    kwargs: dict[str, Any] = {}
    if isolated:
        import botocore.session

        kwargs["botocore_session"] = botocore.session.Session(
            session_vars={"profile": (None, None, None, None)}
        )
    if profile:
        kwargs["profile_name"] = profile
    if region:
        kwargs["region_name"] = region
    if credentials:
        kwargs.update(credentials)
    session = boto3.Session(**kwargs)
    if session.region_name is None:
        session = boto3.Session(**{**kwargs, "region_name": "us-east-1"})
    config = RETRY_CONFIG
    if isolated:
        # older botocore stubs do not know this option
        config = config.merge(Config(ignore_configured_endpoint_urls=True))  # type: ignore[call-arg]
    if lean:
        config = config.merge(lean_client_config())
    return AwsSession(session=session, endpoint_url=endpoint_url, config=config)


def lean_client_config() -> Config:
    """Clients of the emulator compute no request checksums, validate none on responses
    and sign no payloads: the bytes never leave this machine (in-process or loopback), so
    hashing every body twice more would only cost time."""
    return Config(  # type: ignore[call-arg]
        request_checksum_calculation="when_required",
        response_checksum_validation="when_required",
        s3={"payload_signing_enabled": False},
    )
