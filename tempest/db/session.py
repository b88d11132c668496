"""The project's database, built from settings on first use."""

from __future__ import annotations

from typing import TYPE_CHECKING

if TYPE_CHECKING:
    from tempest.db.manager import AsyncDatabaseManager

_database: AsyncDatabaseManager | None = None


def get_database() -> AsyncDatabaseManager:
    """The project's :class:`AsyncDatabaseManager`, built from settings on first use.

    The ASGI app's lifespan and ``async def`` commands connect and disconnect it.
    """
    global _database
    if _database is None:
        from tempest.conf import settings
        from tempest.db.manager import AsyncDatabaseManager

        _database = AsyncDatabaseManager(
            settings.DATABASE_URL,
            echo=settings.DATABASE_ECHO,
            pool_size=settings.DATABASE_POOL_SIZE,
            max_overflow=settings.DATABASE_MAX_OVERFLOW,
            pool_recycle=settings.DATABASE_POOL_RECYCLE,
        )
    return _database


def reset_database() -> None:
    """Forget the project's database so that the next use rebuilds it from settings."""
    global _database
    _database = None
