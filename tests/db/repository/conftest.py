"""Fixtures of the repository tests; the models live in ``models.py``."""

from __future__ import annotations

from collections.abc import AsyncIterator, Iterator

import pytest
from sqlalchemy import event
from sqlalchemy.ext.asyncio import AsyncSession

from tempest.db import AsyncDatabaseManager
from tests.db.repository.helpers import Statements


@pytest.fixture
async def session(database: AsyncDatabaseManager) -> AsyncIterator[AsyncSession]:
    """A request (autocommit) session, as an endpoint gets it."""
    async with database.request_session() as session:
        yield session


@pytest.fixture
def capture_sql(database: AsyncDatabaseManager) -> Iterator[Statements]:
    """Every SQL statement the test's database runs, in order."""
    statements = Statements()

    def record(conn: object, cursor: object, statement: str, *args: object) -> None:
        statements.append(statement)

    engine = database.engine.sync_engine
    event.listen(engine, "before_cursor_execute", record)
    try:
        yield statements
    finally:
        event.remove(engine, "before_cursor_execute", record)
