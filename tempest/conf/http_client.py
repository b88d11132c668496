"""The settings of the project's outgoing HTTP client: :class:`HTTPClientSettings`."""

from __future__ import annotations

from pydantic import Field

from tempest.conf.mixins import BaseAppSettings

__all__ = ["HTTPClientSettings"]


class HTTPClientSettings(BaseAppSettings):
    """The client ``get_http_client()`` returns: timeouts, retries, circuit breakers, pool."""

    HTTP_CLIENT_TIMEOUT: float = Field(
        default=10.0,
        gt=0,
        description="Seconds each attempt may wait to connect, and then between bytes of "
        "the answer.",
    )
    HTTP_CLIENT_DEADLINE: float | None = Field(
        default=30.0,
        gt=0,
        description="Seconds for a whole call, every attempt and wait between them "
        "included; unset: only each attempt's timeout bounds it.",
    )
    HTTP_CLIENT_MAX_ATTEMPTS: int = Field(
        default=3,
        ge=1,
        description="Attempts per call, the first included, for calls safe to repeat "
        "(idempotent methods, POST/PATCH with an Idempotency-Key); 1: never retry.",
    )
    HTTP_CLIENT_BACKOFF_BASE: float = Field(
        default=0.2,
        ge=0,
        description="Seconds; the first retry waits a random time up to this, each next "
        "one up to twice as long (unless the answer's Retry-After says how long).",
    )
    HTTP_CLIENT_BACKOFF_MAX: float = Field(
        default=5.0, ge=0, description="Seconds; no backoff wait is longer."
    )
    HTTP_CLIENT_MAX_RETRY_AFTER: float = Field(
        default=60.0,
        ge=0,
        description="Seconds; an answer asking (Retry-After) to wait longer is returned "
        "at once instead of retried.",
    )
    HTTP_CLIENT_BREAKER_FAILURES: int = Field(
        default=5,
        ge=0,
        description="Consecutive failures (connection errors, timeouts, 5xx) after which "
        "calls to that host fail fast with CircuitOpenError; 0: no circuit breaker.",
    )
    HTTP_CLIENT_BREAKER_RESET: float = Field(
        default=30.0,
        ge=0,
        description="Seconds an open circuit breaker waits before letting one probe call "
        "through; its success closes the breaker.",
    )
    HTTP_CLIENT_MAX_CONNECTIONS: int = Field(
        default=100, ge=1, description="Connections the client opens at most, all hosts together."
    )
    HTTP_CLIENT_MAX_KEEPALIVE: int = Field(
        default=20, ge=0, description="Idle connections kept open for the next calls."
    )
    HTTP_CLIENT_USER_AGENT: str = Field(
        default="tempest", description="The User-Agent header of outgoing requests."
    )
