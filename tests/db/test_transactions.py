"""Request sessions read in autocommit mode; atomic() makes writes one transaction."""

from __future__ import annotations

import asyncio

import pytest
from sqlalchemy import String, func, select, text
from sqlalchemy.exc import IntegrityError
from sqlalchemy.ext.asyncio import AsyncSession
from sqlalchemy.orm import Mapped, mapped_column

from tempest.db import AsyncDatabaseManager, BaseModel
from tempest.db.transaction import atomic, in_atomic_block, transactional

pytestmark = pytest.mark.anyio


class Ledger(BaseModel):
    __tablename__ = "tx_ledger"
    name: Mapped[str] = mapped_column(String(20), unique=True)


async def count(manager: AsyncDatabaseManager) -> int:
    async with manager.request_session() as session:
        return int(await session.scalar(select(func.count()).select_from(Ledger)) or 0)


async def isolation(session: AsyncSession) -> str:
    connection = await session.connection()
    return str(connection.sync_connection.get_execution_options().get("isolation_level"))


async def transaction_start(session: AsyncSession) -> object:
    """When the current transaction started: PostgreSQL's now() (SQLite: not observable)."""
    if session.get_bind().dialect.name != "postgresql":
        return None
    await asyncio.sleep(0.002)
    return await session.scalar(text("SELECT now()"))


async def test_a_read_runs_without_a_transaction(database: AsyncDatabaseManager) -> None:
    async with database.request_session() as session:
        assert await isolation(session) == "AUTOCOMMIT"
        first = await transaction_start(session)
        second = await transaction_start(session)
        assert first is None or first != second  # each query is its own transaction
        assert not in_atomic_block(session)


async def test_atomic_commits_every_write_together(database: AsyncDatabaseManager) -> None:
    async with database.request_session() as session:
        async with atomic(session):
            assert await isolation(session) != "AUTOCOMMIT"
            first = await transaction_start(session)
            session.add_all([Ledger(name="a"), Ledger(name="b")])
            assert await transaction_start(session) == first
        assert await isolation(session) == "AUTOCOMMIT"
    assert await count(database) == 2


async def test_atomic_rolls_back_everything_when_it_raises(database: AsyncDatabaseManager) -> None:
    async with database.request_session() as session:
        with pytest.raises(IntegrityError):
            async with atomic(session):
                session.add(Ledger(name="first"))
                await session.flush()
                session.add(Ledger(name="first"))
                await session.flush()
        assert await count(database) == 0
        async with atomic(session):  # the session is usable afterwards
            session.add(Ledger(name="second"))
    assert await count(database) == 1


async def test_nested_blocks_join_the_outer_transaction(database: AsyncDatabaseManager) -> None:
    async with database.request_session() as session:
        with pytest.raises(RuntimeError):
            async with atomic(session):
                async with atomic(session):
                    session.add(Ledger(name="inner"))
                assert in_atomic_block(session)
                raise RuntimeError("outer fails")
    assert await count(database) == 0


async def test_pending_changes_are_saved_when_the_request_ends(
    database: AsyncDatabaseManager,
) -> None:
    async with database.request_session() as session:
        session.add(Ledger(name="pending"))
    assert await count(database) == 1
    with pytest.raises(ValueError):
        async with database.request_session() as session:
            session.add(Ledger(name="discarded"))
            raise ValueError("the request failed")
    assert await count(database) == 1


async def test_transactional_decorator_on_a_service(database: AsyncDatabaseManager) -> None:
    class Repository:
        def __init__(self, session: object) -> None:
            self.session = session

    class Service:
        def __init__(self, repository: Repository) -> None:
            self.repository = repository

        @transactional
        async def add_two(self, fail: bool) -> None:
            self.repository.session.add(Ledger(name="x"))  # type: ignore[attr-defined]
            self.repository.session.add(Ledger(name="y"))  # type: ignore[attr-defined]
            await self.repository.session.flush()  # type: ignore[attr-defined]
            if fail:
                raise RuntimeError("no")

    async with database.request_session() as session:
        service = Service(Repository(session))
        with pytest.raises(RuntimeError):
            await service.add_two(fail=True)
        assert await count(database) == 0
        await service.add_two(fail=False)
    assert await count(database) == 2


async def test_transactional_needs_a_session() -> None:
    class Nothing:
        @transactional
        async def run(self) -> None:
            pass

    with pytest.raises(TypeError, match="needs a method of an object with `session`"):
        await Nothing().run()


async def test_a_failed_commit_rolls_back_and_leaves_the_session_usable(
    database: AsyncDatabaseManager,
) -> None:
    async with database.request_session() as session:
        async with atomic(session):
            session.add(Ledger(name="taken"))
        with pytest.raises(IntegrityError):
            async with atomic(session):
                session.add(Ledger(name="taken"))  # flushed by the closing commit
        async with atomic(session):
            session.add(Ledger(name="next"))
    assert await count(database) == 2


async def names(manager: AsyncDatabaseManager) -> list[str]:
    async with manager.request_session() as session:
        return sorted((await session.scalars(select(Ledger.name))).all())


async def test_a_failed_inner_block_rolls_back_to_its_savepoint(
    database: AsyncDatabaseManager,
) -> None:
    async with database.request_session() as session, atomic(session):
        session.add(Ledger(name="outer"))
        await session.flush()
        with pytest.raises(RuntimeError, match="inner fails"):
            async with atomic(session):
                session.add(Ledger(name="inner"))
                await session.flush()
                raise RuntimeError("inner fails")
        assert in_atomic_block(session)
        session.add(Ledger(name="after"))  # the outer block goes on
    assert await names(database) == ["after", "outer"]


async def test_savepoints_nest_twice(database: AsyncDatabaseManager) -> None:
    async with database.request_session() as session, atomic(session):
        session.add(Ledger(name="one"))
        async with atomic(session):
            session.add(Ledger(name="two"))
            with pytest.raises(RuntimeError):
                async with atomic(session):
                    session.add(Ledger(name="three"))
                    await session.flush()
                    raise RuntimeError("innermost fails")
            session.add(Ledger(name="four"))
    assert await names(database) == ["four", "one", "two"]


async def test_a_successful_inner_block_is_undone_when_the_outer_one_fails(
    database: AsyncDatabaseManager,
) -> None:
    # The inner block starts before the outer one wrote anything: on SQLite its SAVEPOINT
    # must not become the transaction (whose RELEASE would commit).
    async with database.request_session() as session:
        with pytest.raises(RuntimeError, match="outer fails"):
            async with atomic(session):
                async with atomic(session):
                    session.add(Ledger(name="inner"))
                    await session.flush()
                session.add(Ledger(name="outer"))
                await session.flush()
                raise RuntimeError("outer fails")
    assert await names(database) == []


async def test_a_durable_block_refuses_to_nest(database: AsyncDatabaseManager) -> None:
    async with database.request_session() as session:
        with pytest.raises(RuntimeError, match="durable"):
            async with atomic(session):
                session.add(Ledger(name="outer"))
                async with atomic(session, durable=True):
                    session.add(Ledger(name="never"))
        async with atomic(session, durable=True):  # outermost: allowed
            session.add(Ledger(name="durable"))
    assert await names(database) == ["durable"]


async def test_savepoint_false_joins_the_outer_block(database: AsyncDatabaseManager) -> None:
    async with database.request_session() as session, atomic(session):
        session.add(Ledger(name="outer"))
        with pytest.raises(RuntimeError):
            async with atomic(session, savepoint=False):
                session.add(Ledger(name="joined"))
                await session.flush()
                raise RuntimeError("not undone: there is no savepoint")
    assert await names(database) == ["joined", "outer"]
