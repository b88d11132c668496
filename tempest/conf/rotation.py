"""Previous secrets kept for a grace period after a rotation: :class:`SecretRotationSettings`.

``python manage.py secrets rotate`` moves the old ``JWT_SECRET`` into
``JWT_SECRET_FALLBACKS`` and the old ``SECRET_KEY`` into ``SECRET_KEY_FALLBACKS``, each with
a date. Until that date, tokens made with an old secret still verify (for verification
only: nothing is signed with them), so a rotation does not sign everybody out at once;
after it they are refused.
"""

from __future__ import annotations

from collections.abc import Iterable
from datetime import UTC, datetime
from typing import ClassVar

from pydantic import BaseModel, ConfigDict, Field, field_validator

from tempest.conf.mixins import BaseAppSettings

__all__ = ["PreviousSecret", "SecretRotationSettings", "active_secrets"]


class PreviousSecret(BaseModel):
    """A secret replaced by a rotation, still accepted for verification until ``until``.

    Written in ``.env`` as JSON: ``[{"secret": "...", "until": "2026-12-13T12:00:00Z"}]``.

    Attributes:
        secret: The old secret.
        until: When it stops being accepted (a naive time is read as UTC).
    """

    model_config = ConfigDict(frozen=True, extra="forbid")

    secret: str = Field(min_length=1)
    until: datetime

    @field_validator("until")
    @classmethod
    def _aware(cls, value: datetime) -> datetime:
        return value if value.tzinfo is not None else value.replace(tzinfo=UTC)

    def active(self, now: datetime | None = None) -> bool:
        """Whether the grace period is still running at ``now`` (default: the current time)."""
        return (now or datetime.now(UTC)) < self.until


def active_secrets(
    previous: Iterable[PreviousSecret], now: datetime | None = None
) -> list[tuple[str, datetime]]:
    """The ``(secret, until)`` pairs of ``previous`` whose grace period still runs.

    Args:
        previous: A ``*_FALLBACKS`` setting's value.
        now: The time to judge by; default the current time.
    """
    return [(item.secret, item.until) for item in previous if item.active(now)]


class SecretRotationSettings(BaseAppSettings):
    """Old secrets that still verify for a while after ``secrets rotate``."""

    secret_settings: ClassVar[frozenset[str]] = frozenset(
        {"JWT_SECRET_FALLBACKS", "SECRET_KEY_FALLBACKS"}
    )

    JWT_SECRET_FALLBACKS: list[PreviousSecret] = Field(
        default_factory=list,
        description="Previous JWT_SECRET values, each with the date until which tokens "
        "signed with it still verify (never used to sign): "
        '[{"secret": "...", "until": "2026-12-13T12:00:00Z"}]. Written by secrets rotate.',
    )
    SECRET_KEY_FALLBACKS: list[PreviousSecret] = Field(
        default_factory=list,
        description="Previous SECRET_KEY values with a date, as JWT_SECRET_FALLBACKS: until "
        "then, refresh tokens and emailed links issued under the old key still work. "
        "Written by secrets rotate.",
    )
