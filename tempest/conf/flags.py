"""The settings of feature flags: :class:`FeatureFlagSettings`, part of :class:`Settings`."""

from __future__ import annotations

from pydantic import Field, field_validator

from tempest.conf.mixins import BaseAppSettings
from tempest.conf.shared_state import check_shared_state_url

__all__ = ["FeatureFlagSettings"]


class FeatureFlagSettings(BaseAppSettings):
    """Feature flags (``tempest.flags``): defaults, where changes live, the environment."""

    FEATURE_FLAGS: dict[str, object] = Field(
        default_factory=dict,
        description="The project's flags and their defaults: name -> on/off (true/false), "
        "a percentage such as '25%', or {'enabled': ..., 'percentage': ...}. Lowest "
        "precedence: the environment and the store override them; checked at start-up.",
    )

    FEATURE_FLAGS_URL: str | None = Field(
        default=None,
        description="Where flags changed at run time live: a redis:// URL (every process "
        "follows changes within a second) or 'memory://' (this process); unset: REDIS_URL "
        "when set, else memory.",
    )

    @field_validator("FEATURE_FLAGS_URL")
    @classmethod
    def _feature_flags_scheme(cls, value: str | None) -> str | None:
        return check_shared_state_url(value)

    FEATURE_FLAGS_REDIS_KEY: str = Field(
        default="tempest:flags",
        min_length=1,
        description="The Redis hash of the flags; changes are published on '<key>:changed'.",
    )
    FEATURE_FLAGS_ENV_PREFIX: str = Field(
        default="FLAG_",
        description="Environment variables starting with it set flags, highest precedence "
        "(FLAG_NEW_CHECKOUT=off turns new-checkout off; '-' and '.' are written '_'); "
        "empty: the environment sets none.",
    )
    FEATURE_FLAGS_RELOAD_SECONDS: float = Field(
        default=30.0,
        gt=0,
        description="Each process also reloads every flag this often, besides the change notices.",
    )
