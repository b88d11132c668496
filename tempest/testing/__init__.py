"""Helpers for testing code that uses a database; they need no pytest.

The pytest plugin for tempest projects is :mod:`tempest.testing.plugin`.
"""

from __future__ import annotations

from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    # Imported where used: the pytest plugin imports this package in every pytest run of
    # an environment that has tempest, and SQLAlchemy costs a third of a second.
    from sqlalchemy import MetaData
    from sqlalchemy.ext.asyncio import AsyncEngine, AsyncSession, async_sessionmaker

__all__ = [
    "create_test_engine",
    "create_test_session_factory",
    "drop_test_metadata",
    "init_test_metadata",
    "test_database",
    "test_session",
]

MEMORY_URL = "sqlite+aiosqlite:///:memory:"


def create_test_engine(url: str = MEMORY_URL, **engine_kwargs: Any) -> AsyncEngine:
    """A throwaway engine; in-memory SQLite by default (one shared connection).

    Args:
        url: Database URL.
        **engine_kwargs: Passed to ``create_async_engine``.
    """
    from sqlalchemy.ext.asyncio import create_async_engine

    if url == MEMORY_URL:
        from sqlalchemy.pool import StaticPool

        engine_kwargs.setdefault("poolclass", StaticPool)
    return create_async_engine(url, **engine_kwargs)


def create_test_session_factory(engine: AsyncEngine) -> async_sessionmaker[AsyncSession]:
    """A session factory on ``engine`` that keeps objects readable after commit."""
    from sqlalchemy.ext.asyncio import async_sessionmaker

    return async_sessionmaker(engine, expire_on_commit=False)


def _metadata(metadata: MetaData | None) -> MetaData:
    if metadata is not None:
        return metadata
    from tempest.db.models import BaseModel

    return BaseModel.metadata


async def init_test_metadata(engine: AsyncEngine, metadata: MetaData | None = None) -> None:
    """Create every table of ``metadata`` (default: every tempest model's)."""
    async with engine.begin() as connection:
        await connection.run_sync(_metadata(metadata).create_all)


async def drop_test_metadata(engine: AsyncEngine, metadata: MetaData | None = None) -> None:
    """Drop every table of ``metadata`` (default: every tempest model's)."""
    async with engine.begin() as connection:
        await connection.run_sync(_metadata(metadata).drop_all)


@asynccontextmanager
async def test_database(
    url: str = MEMORY_URL, metadata: MetaData | None = None
) -> AsyncIterator[AsyncEngine]:
    """An engine with the tables created; they are dropped and the engine disposed after.

    Args:
        url: Database URL (in-memory SQLite by default).
        metadata: Tables to create (default: every tempest model's).
    """
    engine = create_test_engine(url)
    try:
        await init_test_metadata(engine, metadata)
        yield engine
        await drop_test_metadata(engine, metadata)
    finally:
        await engine.dispose()


@asynccontextmanager
async def test_session(
    url: str = MEMORY_URL, metadata: MetaData | None = None
) -> AsyncIterator[AsyncSession]:
    """A session on a fresh :func:`test_database`.

    Args:
        url: Database URL (in-memory SQLite by default).
        metadata: Tables to create (default: every tempest model's).
    """
    async with (
        test_database(url, metadata) as engine,
        create_test_session_factory(engine)() as session,
    ):
        yield session


# Names starting with "test" would otherwise be collected when imported into a test module.
test_database.__test__ = False  # type: ignore[attr-defined]
test_session.__test__ = False  # type: ignore[attr-defined]
