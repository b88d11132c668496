"""The settings of inbound webhook verification: :class:`WebhookSettings`."""

from __future__ import annotations

from pydantic import Field, field_validator

from tempest.conf.mixins import BaseAppSettings
from tempest.conf.shared_state import check_shared_state_url

__all__ = ["WebhookSettings"]


class WebhookSettings(BaseAppSettings):
    """Timestamped webhook schemes (``tempest.api.webhooks``): window and replay store."""

    WEBHOOK_TOLERANCE_SECONDS: float = Field(
        default=300.0,
        gt=0,
        description="How far a signed webhook timestamp may be from now, either way, for "
        "verifiers not given tolerance_seconds.",
    )
    WEBHOOK_REPLAY_URL: str | None = Field(
        default=None,
        description="Where accepted webhook ids are kept to refuse replays: a redis:// URL "
        "or 'memory://' (this process); unset: REDIS_URL when set, else memory.",
    )

    @field_validator("WEBHOOK_REPLAY_URL")
    @classmethod
    def _replay_scheme(cls, value: str | None) -> str | None:
        return check_shared_state_url(value)
