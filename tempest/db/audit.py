"""The audit trail's table: one row per change of a row, written with the change.

A project gets the table by installing ``tempest.contrib.audit`` (its model ``AuditLog``
becomes the default), or defines its own by subclassing :class:`BaseAuditLogModel`. The
rows are written by ``BaseRepository.add_audited`` / ``update_audited`` /
``delete_audited`` (:mod:`tempest.db.repository.audited`) and by the admin, in the same
transaction as the change they describe: a change that rolls back leaves no row.
"""

from __future__ import annotations

from typing import Any

from sqlalchemy import JSON, Enum, Index, String, Table
from sqlalchemy.orm import Mapped, mapped_column

from tempest.db.models import BaseModel
from tempest.exceptions import ImproperlyConfigured
from tempest.utils.enums import BaseStrEnum

__all__ = [
    "AuditAction",
    "BaseAuditLogModel",
    "get_audit_model",
    "set_default_audit_model",
]


class AuditAction(BaseStrEnum):
    """What a change did to a row."""

    CREATE = "create"
    """The row was inserted."""
    UPDATE = "update"
    """Some of its columns changed."""
    DELETE = "delete"
    """The row was deleted."""


def _action_values(enum: type[AuditAction]) -> list[str]:
    return [member.value for member in enum]


class BaseAuditLogModel(BaseModel):
    """Abstract base of an audit-log table: one row per change of a row of another table.

    Subclass it in an app's ``models.py`` (or install ``tempest.contrib.audit``, whose
    ``AuditLog`` does) and run ``makemigrations``::

        class AuditLogModel(BaseAuditLogModel):
            __tablename__ = "shop_audit_log"

    Columns (besides BaseModel's; ``created_at`` is when the change was made):
    ``action`` (:class:`AuditAction`), ``table_name`` and ``object_pk`` (the changed
    row: its primary key as text, a JSON list for a composite key), ``actor_kind`` and
    ``actor_id`` (who: ``user`` and the user's id, ``task`` and the task's name, or
    ``command`` and the ``manage.py`` command; both None when no one is known),
    ``request_id`` (the request that made the change, if any) and ``changes`` (JSON:
    column -> ``{"before": ..., "after": ...}`` for each column that changed; secrets are
    never in it, see :func:`tempest.db.audit_snapshots.snapshot_model`).

    Each concrete table gets the index ``ix_<table>_row`` on ``(table_name, object_pk,
    created_at)``: a row's history is one index range.
    """

    __abstract__ = True

    action: Mapped[AuditAction] = mapped_column(
        Enum(
            AuditAction,
            native_enum=False,
            length=16,
            values_callable=_action_values,
            validate_strings=True,
        )
    )
    table_name: Mapped[str] = mapped_column(String(128))
    object_pk: Mapped[str] = mapped_column(String(255))
    actor_kind: Mapped[str | None] = mapped_column(String(16), default=None, nullable=True)
    actor_id: Mapped[str | None] = mapped_column(String(255), default=None, nullable=True)
    request_id: Mapped[str | None] = mapped_column(String(64), default=None, nullable=True)
    changes: Mapped[Any] = mapped_column(JSON)

    def __init_subclass__(cls, **kwargs: Any) -> None:
        super().__init_subclass__(**kwargs)
        table = cls.__dict__.get("__table__")
        if isinstance(table, Table):
            name = f"ix_{table.name}_row"
            if not any(index.name == name for index in table.indexes):
                Index(name, table.c.table_name, table.c.object_pk, table.c.created_at)

    def __repr__(self) -> str:
        values = self.__dict__
        return (
            f"<{type(self).__name__} {values.get('action')} {values.get('table_name')}"
            f" {values.get('object_pk')}>"
        )


_default_model: type[BaseAuditLogModel] | None = None


def set_default_audit_model(model: type[BaseAuditLogModel] | None) -> None:
    """Make ``model`` the audit table used when a repository or the admin names none.

    ``tempest.contrib.audit`` calls it from its ``ready()`` with its ``AuditLog``; None
    forgets it (tests).
    """
    global _default_model
    _default_model = model


def get_audit_model(
    model: type[BaseAuditLogModel] | None = None, *, required: bool = True
) -> type[BaseAuditLogModel] | None:
    """``model``, else the default audit model (see :func:`set_default_audit_model`).

    Args:
        model: An audit model given explicitly.
        required: Raise when there is none, instead of returning None.

    Raises:
        ImproperlyConfigured: ``required`` and no audit model is known.
    """
    found = model if model is not None else _default_model
    if found is None and required:
        raise ImproperlyConfigured(
            "No audit-log model: add 'tempest.contrib.audit' to INSTALLED_APPS (and run "
            "`python manage.py migrate`), or pass audit_model=YourAuditLogModel to the "
            "repository."
        )
    return found
