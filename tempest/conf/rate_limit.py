"""The settings of rate limits: :class:`RateLimitSettings`, part of :class:`Settings`."""

from __future__ import annotations

from pydantic import Field, field_validator

from tempest.conf.mixins import BaseAppSettings
from tempest.conf.shared_state import check_shared_state_url

__all__ = ["RateLimitSettings"]


class RateLimitSettings(BaseAppSettings):
    """Rate limits (``tempest.api.middleware.RateLimitMiddleware``, when in MIDDLEWARE)."""

    RATE_LIMIT_REQUESTS: int | None = Field(
        default=None,
        ge=1,
        description="Requests one key may make per RATE_LIMIT_WINDOW_SECONDS; unset: no "
        "limit (the middleware passes everything through).",
    )
    RATE_LIMIT_WINDOW_SECONDS: float = Field(
        default=60.0, gt=0, description="Span of the sliding window, in seconds."
    )
    RATE_LIMIT_KEY: str = Field(
        default="ip",
        description="What a limit counts per: 'ip' (client IP, after TRUSTED_PROXIES), "
        "'user' (the bearer token's subject, else IP) or 'header:<name>' (else IP).",
    )

    @field_validator("RATE_LIMIT_KEY")
    @classmethod
    def _rate_limit_key(cls, value: str) -> str:
        kind, _, argument = value.partition(":")
        kind = kind.strip().lower()
        if (kind in ("ip", "user") and not argument) or (kind == "header" and argument.strip()):
            return value
        raise ValueError(f"must be 'ip', 'user' or 'header:<name>', got {value!r}")

    RATE_LIMIT_EXEMPT_PATHS: list[str] = Field(
        default_factory=lambda: ["/health/liveness", "/health/readiness"],
        description="Paths never limited (exact; a trailing '/' exempts what is under it).",
    )
    RATE_LIMIT_URL: str | None = Field(
        default=None,
        description="Where the counts live: a redis:// URL or 'memory://' (this process); "
        "unset: REDIS_URL when set, else memory.",
    )

    @field_validator("RATE_LIMIT_URL")
    @classmethod
    def _rate_limit_scheme(cls, value: str | None) -> str | None:
        return check_shared_state_url(value)

    RATE_LIMIT_FAIL_OPEN: bool = Field(
        default=True,
        description="When the Redis store is unreachable, count in each process (True) "
        "or answer 503 (False).",
    )
