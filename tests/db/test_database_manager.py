from collections.abc import AsyncIterator
from pathlib import Path
from typing import Annotated

import httpx
import pytest
from fastapi import Depends, FastAPI
from sqlalchemy import String, inspect, select
from sqlalchemy.ext.asyncio import AsyncConnection, AsyncSession
from sqlalchemy.orm import Mapped, mapped_column
from sqlalchemy.pool import AsyncAdaptedQueuePool, NullPool, StaticPool

from tempest.api import register_exception_handlers
from tempest.db import AsyncDatabaseManager, BaseModel
from tempest.db.transaction import atomic
from tempest.exceptions import ConflictException

pytestmark = pytest.mark.anyio


class LedgerEntryModel(BaseModel):
    label: Mapped[str] = mapped_column(String(32))


async def labels(db: AsyncDatabaseManager) -> list[str]:
    async with db.get_session_context() as session:
        return list((await session.scalars(select(LedgerEntryModel.label))).all())


async def table_names(connection: AsyncConnection) -> set[str]:
    return set(await connection.run_sync(lambda sync: inspect(sync).get_table_names()))


def test_db_url_safe_hides_the_password() -> None:
    db = AsyncDatabaseManager("postgresql+asyncpg://shop:s3cret@db.example.com:5432/shop")

    assert db.db_url_safe == "postgresql+asyncpg://shop:***@db.example.com:5432/shop"
    assert "s3cret" not in repr(db)


async def test_use_before_connect_raises_a_clear_error(sqlite_url: str) -> None:
    db = AsyncDatabaseManager(sqlite_url)

    assert not db.is_connected
    with pytest.raises(RuntimeError, match=r"not connected; await connect\(\) first"):
        await db.get_session()
    with pytest.raises(RuntimeError, match="not connected"):
        async with db.get_session_context():
            pass
    with pytest.raises(RuntimeError, match="not connected"):
        _ = db.session_factory
    with pytest.raises(RuntimeError, match="not connected"):
        await db.create_tables()


async def test_health_check_before_connect_is_false(sqlite_url: str) -> None:
    assert await AsyncDatabaseManager(sqlite_url).health_check() is False


async def test_connect_and_disconnect(sqlite_url: str) -> None:
    db = AsyncDatabaseManager(sqlite_url, pool_size=3, max_overflow=1, pool_recycle=60)

    await db.connect()
    engine = db.engine
    await db.connect()

    assert db.is_connected
    assert db.engine is engine
    assert isinstance(engine.pool, AsyncAdaptedQueuePool)
    assert engine.pool.size() == 3
    assert await db.health_check() is True

    await db.disconnect()
    await db.disconnect()

    assert not db.is_connected
    assert await db.health_check() is False


@pytest.mark.parametrize(
    "url",
    ["sqlite+aiosqlite://", "sqlite+aiosqlite:///:memory:"],
)
async def test_in_memory_sqlite_uses_a_static_pool(url: str) -> None:
    db = AsyncDatabaseManager(url, pool_size=5, max_overflow=5)
    await db.connect()
    try:
        await db.create_tables()
        async with db.get_session_context() as session:
            session.add(LedgerEntryModel(label="memory"))

        assert isinstance(db.engine.pool, StaticPool)
        assert await labels(db) == ["memory"]
    finally:
        await db.disconnect()


async def test_engine_kwargs_are_passed_through(sqlite_url: str) -> None:
    db = AsyncDatabaseManager(sqlite_url, poolclass=NullPool)
    await db.connect()
    try:
        assert isinstance(db.engine.pool, NullPool)
        assert await db.health_check() is True
    finally:
        await db.disconnect()


async def test_health_check_is_false_when_the_database_is_unreachable(tmp_path: Path) -> None:
    db = AsyncDatabaseManager(f"sqlite+aiosqlite:///{tmp_path / 'missing-dir' / 'x.db'}")
    await db.connect()
    try:
        assert await db.health_check() is False
    finally:
        await db.disconnect()


async def test_create_and_drop_tables(sqlite_url: str) -> None:
    db = AsyncDatabaseManager(sqlite_url)
    await db.connect()
    try:
        await db.create_tables()
        async with db.engine.connect() as connection:
            assert "ledger_entry" in await table_names(connection)

        await db.drop_tables()
        async with db.engine.connect() as connection:
            assert "ledger_entry" not in await table_names(connection)
    finally:
        await db.disconnect()


async def test_session_context_commits_on_success(db: AsyncDatabaseManager) -> None:
    async with db.get_session_context() as session:
        entry = LedgerEntryModel(label="kept")
        session.add(entry)

    assert entry.label == "kept"  # readable after commit: expire_on_commit=False
    assert await labels(db) == ["kept"]


async def test_session_context_rolls_back_on_error(db: AsyncDatabaseManager) -> None:
    with pytest.raises(ZeroDivisionError):
        async with db.get_session_context() as session:
            session.add(LedgerEntryModel(label="lost"))
            await session.flush()
            _ = 1 / 0

    assert await labels(db) == []


async def test_get_session_returns_an_open_session(db: AsyncDatabaseManager) -> None:
    session = await db.get_session()
    try:
        assert isinstance(session, AsyncSession)
        session.add(LedgerEntryModel(label="manual"))
        await session.commit()
    finally:
        await session.close()

    assert await labels(db) == ["manual"]


@pytest.fixture
async def client(db: AsyncDatabaseManager) -> AsyncIterator[httpx.AsyncClient]:
    app = FastAPI()
    register_exception_handlers(app)

    @app.post("/entries/{label}", status_code=201)
    async def create(
        label: str, session: Annotated[AsyncSession, Depends(db.session_dependency)]
    ) -> None:
        async with atomic(session):  # request sessions autocommit; atomic() groups writes
            session.add(LedgerEntryModel(label=label))
            await session.flush()
            if label == "duplicate":
                raise ConflictException()

    transport = httpx.ASGITransport(app)
    async with httpx.AsyncClient(transport=transport, base_url="http://test") as client:
        yield client


async def test_session_dependency_commits_a_successful_request(
    client: httpx.AsyncClient, db: AsyncDatabaseManager
) -> None:
    response = await client.post("/entries/paid")

    assert response.status_code == 201
    assert await labels(db) == ["paid"]


async def test_session_dependency_rolls_back_a_failed_request(
    client: httpx.AsyncClient, db: AsyncDatabaseManager
) -> None:
    response = await client.post("/entries/duplicate")

    assert response.status_code == 409
    assert await labels(db) == []


async def test_sqlite_enforces_foreign_keys(tmp_path: Path) -> None:
    from sqlalchemy import text

    manager = AsyncDatabaseManager(f"sqlite+aiosqlite:///{tmp_path / 'fk.sqlite3'}")
    await manager.connect()
    try:
        async with manager.engine.connect() as connection:
            assert (await connection.execute(text("PRAGMA foreign_keys"))).scalar() == 1
    finally:
        await manager.disconnect()
