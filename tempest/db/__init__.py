"""Data layer: the model base class, the database manager and the project's database."""

from typing import Any

from tempest.db.manager import AsyncDatabaseManager
from tempest.db.models import NAMING_CONVENTION, BaseModel
from tempest.db.session import get_database, get_session, reset_database

__all__ = [
    "NAMING_CONVENTION",
    "AsyncDatabaseManager",
    "BaseModel",
    "database",
    "get_database",
    "get_session",
    "reset_database",
]


def __getattr__(name: str) -> Any:
    if name == "database":  # built from settings on first use
        return get_database()
    raise AttributeError(f"module 'tempest.db' has no attribute {name!r}")
