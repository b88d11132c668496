"""Data layer: models and mixins, repositories, the database manager and the project's database."""

from typing import TYPE_CHECKING, Any

from tempest.db.audit import AuditAction, BaseAuditLogModel
from tempest.db.audit_snapshots import diff_snapshots, snapshot_model
from tempest.db.files import FileField, ImageField, StoredFile, save_upload
from tempest.db.idempotency import BaseIdempotencyKeyModel, DatabaseIdempotencyStore
from tempest.db.manager import AsyncDatabaseManager
from tempest.db.migration_hooks import BASE_COLUMN_ORDER, compose_hooks, reorder_base_columns_first
from tempest.db.mixins import AuditMixin, SoftDeleteMixin
from tempest.db.models import NAMING_CONVENTION, BaseModel
from tempest.db.outbox import BaseOutboxModel, OutboxRelay, OutboxStatus
from tempest.db.repository import BaseRepository, TenantScopedRepository

# The repositories' query building blocks, public for list views of their own (the admin's).
from tempest.db.repository.columns import model_columns
from tempest.db.repository.counting import estimated_rows
from tempest.db.repository.filters import escape_like
from tempest.db.repository.keyset import check_cursor_column, cursor_payload, resume_after
from tempest.db.repository.ordering import Ordering
from tempest.db.repository.values import coerce_value
from tempest.db.session import get_database, reset_database
from tempest.db.slow_queries import SlowQueryLogger
from tempest.db.transaction import atomic, transactional

if TYPE_CHECKING:
    from tempest.db.dependencies import get_session
    from tempest.db.migrations import AlembicHelper, DestructiveMigrationError, MigrationError

__all__ = [
    "BASE_COLUMN_ORDER",
    "NAMING_CONVENTION",
    "AlembicHelper",
    "AsyncDatabaseManager",
    "AuditAction",
    "AuditMixin",
    "BaseAuditLogModel",
    "BaseIdempotencyKeyModel",
    "BaseModel",
    "BaseOutboxModel",
    "BaseRepository",
    "DatabaseIdempotencyStore",
    "DestructiveMigrationError",
    "FileField",
    "ImageField",
    "MigrationError",
    "Ordering",
    "OutboxRelay",
    "OutboxStatus",
    "SlowQueryLogger",
    "SoftDeleteMixin",
    "StoredFile",
    "TenantScopedRepository",
    "atomic",
    "check_cursor_column",
    "coerce_value",
    "compose_hooks",
    "cursor_payload",
    "database",
    "diff_snapshots",
    "escape_like",
    "estimated_rows",
    "get_database",
    "get_session",
    "model_columns",
    "reorder_base_columns_first",
    "reset_database",
    "resume_after",
    "save_upload",
    "snapshot_model",
    "transactional",
]


_MIGRATION_EXPORTS = frozenset({"AlembicHelper", "DestructiveMigrationError", "MigrationError"})


def __getattr__(name: str) -> Any:
    if name == "database":  # built from settings on first use
        return get_database()
    if name == "get_session":  # imported on first use: it needs Starlette
        from tempest.db.dependencies import get_session

        return get_session
    if name in _MIGRATION_EXPORTS:  # imported on first use: they need Alembic
        from tempest.db import migrations

        return getattr(migrations, name)
    raise AttributeError(f"module 'tempest.db' has no attribute {name!r}")
