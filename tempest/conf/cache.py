"""The settings of the project's cache: :class:`CacheSettings`, part of :class:`Settings`."""

from __future__ import annotations

from pydantic import Field, field_validator

from tempest.conf.mixins import BaseAppSettings
from tempest.conf.shared_state import check_shared_state_url

__all__ = ["CacheSettings"]


class CacheSettings(BaseAppSettings):
    """The cache of ``@cached`` functions and cached routes (``tempest.cache``)."""

    CACHE_URL: str | None = Field(
        default=None,
        description="Where cached values live: a redis:// URL or 'memory://' (this "
        "process); unset: REDIS_URL when set, else memory.",
    )

    @field_validator("CACHE_URL")
    @classmethod
    def _cache_scheme(cls, value: str | None) -> str | None:
        return check_shared_state_url(value)

    CACHE_TTL_SECONDS: float = Field(
        default=300.0,
        ge=0,
        description="Default time to live of a cached value, in seconds (0: no expiry).",
    )
    CACHE_KEY_PREFIX: str = Field(
        default="tempest:cache:",
        min_length=1,
        description="Prepended to every Redis key the cache writes (one project per prefix).",
    )
    CACHE_MAX_ENTRIES: int = Field(
        default=10_000,
        ge=1,
        description="Values the in-process (memory) cache keeps at most; the least "
        "recently used go first.",
    )
