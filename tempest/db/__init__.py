"""Data layer: models and mixins, repositories, the database manager and the project's database."""

from typing import Any

from tempest.db.manager import AsyncDatabaseManager
from tempest.db.mixins import AuditMixin, SoftDeleteMixin
from tempest.db.models import NAMING_CONVENTION, BaseModel
from tempest.db.repository import BaseRepository, TenantScopedRepository
from tempest.db.session import get_database, get_session, reset_database
from tempest.db.transaction import atomic, transactional

__all__ = [
    "NAMING_CONVENTION",
    "AsyncDatabaseManager",
    "AuditMixin",
    "BaseModel",
    "BaseRepository",
    "SoftDeleteMixin",
    "TenantScopedRepository",
    "atomic",
    "database",
    "get_database",
    "get_session",
    "reset_database",
    "transactional",
]


def __getattr__(name: str) -> Any:
    if name == "database":  # built from settings on first use
        return get_database()
    raise AttributeError(f"module 'tempest.db' has no attribute {name!r}")
