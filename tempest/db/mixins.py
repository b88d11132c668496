"""Model mixins: who wrote a row (``AuditMixin``), when it was deleted (``SoftDeleteMixin``).

Mix them into a model beside :class:`~tempest.db.models.BaseModel`::

    class DocumentModel(BaseModel, SoftDeleteMixin, AuditMixin):
        title: Mapped[str] = mapped_column(String(200))

Neither installs a global filter or reads the current user: the service, where the user
is known, stamps the columns, and filters deleted rows out where it matters.
"""

from __future__ import annotations

import uuid
from datetime import UTC, datetime

from sqlalchemy import Uuid
from sqlalchemy.orm import Mapped, mapped_column

from tempest.db.types import UTCDateTime

__all__ = ["AuditMixin", "SoftDeleteMixin"]


class AuditMixin:
    """Adds ``created_by`` and ``updated_by``: the ids of the users who wrote the row.

    Both are nullable UUID columns without a foreign key, so that any user model (or a
    system job, None) can be recorded and deleting a user keeps its history readable.
    """

    created_by: Mapped[uuid.UUID | None] = mapped_column(Uuid, default=None, nullable=True)
    updated_by: Mapped[uuid.UUID | None] = mapped_column(Uuid, default=None, nullable=True)

    def stamp_created_by(self, user_id: uuid.UUID | None) -> None:
        """Record the creator, who is also the last updater of a new row."""
        self.created_by = user_id
        self.updated_by = user_id

    def stamp_updated_by(self, user_id: uuid.UUID | None) -> None:
        """Record the user making the current change."""
        self.updated_by = user_id


class SoftDeleteMixin:
    """Adds ``deleted_at``: when the row was soft-deleted, None while it is alive.

    This is independent of ``BaseModel.is_active`` (which ``BaseRepository.soft_delete``
    flips): use ``deleted_at`` when the time of deletion matters.
    """

    deleted_at: Mapped[datetime | None] = mapped_column(UTCDateTime(), default=None, nullable=True)

    @property
    def is_deleted(self) -> bool:
        """Whether the row is soft-deleted."""
        return self.deleted_at is not None

    def mark_deleted(self, at: datetime | None = None) -> None:
        """Soft-delete the row: set ``deleted_at`` to ``at`` (default: now, in UTC)."""
        self.deleted_at = at if at is not None else datetime.now(UTC)

    def mark_restored(self) -> None:
        """Undo :meth:`mark_deleted`."""
        self.deleted_at = None
