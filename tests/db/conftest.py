from collections.abc import AsyncIterator
from pathlib import Path

import pytest

from tempest.db import AsyncDatabaseManager


@pytest.fixture
def anyio_backend() -> str:
    return "asyncio"


@pytest.fixture
def sqlite_url(tmp_path: Path) -> str:
    return f"sqlite+aiosqlite:///{tmp_path / 'test.db'}"


@pytest.fixture
async def db(sqlite_url: str) -> AsyncIterator[AsyncDatabaseManager]:
    """A connected manager on a fresh SQLite file with every model's table created."""
    manager = AsyncDatabaseManager(sqlite_url)
    await manager.connect()
    await manager.create_tables()
    try:
        yield manager
    finally:
        await manager.disconnect()
