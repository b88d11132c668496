"""``BaseResponseSchema``: the fields every stored record answers with."""

from __future__ import annotations

from datetime import datetime
from uuid import UUID

from pydantic import field_validator

from tempest.schemas.base import BaseSchema
from tempest.utils.timezone import to_utc

__all__ = ["BaseResponseSchema"]


class BaseResponseSchema(BaseSchema):
    """Outbound representation of a :class:`tempest.db.BaseModel` row.

    ``created_at`` and ``updated_at`` are normalised to UTC, so a naive value read back
    from SQLite is serialised with its zone (``...Z``) like one from PostgreSQL.

    Attributes:
        id: Primary key.
        is_active: ``False`` once the record is soft-deleted.
        created_at: When the record was created (UTC).
        updated_at: When the record was last changed (UTC).
    """

    id: UUID
    is_active: bool
    created_at: datetime
    updated_at: datetime

    @field_validator("created_at", "updated_at")
    @classmethod
    def _normalise_to_utc(cls, value: datetime) -> datetime:
        return to_utc(value)
