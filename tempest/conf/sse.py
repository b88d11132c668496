"""The settings of Server-Sent Events: :class:`SSESettings`, part of :class:`Settings`."""

from __future__ import annotations

from pydantic import Field, field_validator

from tempest.conf.mixins import BaseAppSettings
from tempest.conf.shared_state import check_shared_state_url

__all__ = ["SSESettings"]


class SSESettings(BaseAppSettings):
    """Channels of Server-Sent Events (``tempest.sse``): where events travel, how much is kept."""

    SSE_URL: str | None = Field(
        default=None,
        description="Where channel events travel between processes: a redis:// URL or "
        "'memory://' (this process only); unset: REDIS_URL when set, else memory.",
    )

    @field_validator("SSE_URL")
    @classmethod
    def _sse_scheme(cls, value: str | None) -> str | None:
        return check_shared_state_url(value)

    SSE_HISTORY_SIZE: int = Field(
        default=1000,
        ge=0,
        description="Events kept per channel for clients that reconnect with Last-Event-ID.",
    )
    SSE_HISTORY_TTL_SECONDS: int = Field(
        default=86400,
        ge=1,
        description="With Redis: a channel's history expires this long after its last event.",
    )
    SSE_MAX_QUEUED: int = Field(
        default=256,
        ge=1,
        description="Frames waiting for one slow client; past it the client is dropped "
        "(it reconnects and resumes with Last-Event-ID), the publisher never waits.",
    )
    SSE_SHUTDOWN_RETRY_MS: int | None = Field(
        default=None,
        ge=0,
        description="Reconnect delay sent to clients as streams end on SIGTERM; unset: "
        "the drain period (GRACEFUL_SHUTDOWN_DRAIN_SECONDS, with GracefulShutdownMiddleware) "
        "plus one second, else one second.",
    )
