"""get_by_id's primary-key fast path on PostgreSQL gives exactly what the ORM gives."""

from __future__ import annotations

import uuid
from contextlib import nullcontext

import pytest
from sqlalchemy import String, event, inspect
from sqlalchemy.ext.asyncio import AsyncSession
from sqlalchemy.orm import Mapped, mapped_column

from tempest.db import AsyncDatabaseManager, BaseModel, BaseRepository, atomic
from tempest.db.repository.fast_get import fast_get_by_id
from tempest.exceptions import NotFoundException
from tempest.utils import to_utc
from tests.db.repository.helpers import Statements

pytestmark = pytest.mark.anyio


class FastThing(BaseModel):
    __tablename__ = "repo_fast_thing"
    name: Mapped[str] = mapped_column(String(40))
    note: Mapped[str | None] = mapped_column(String(40), default=None)


async def make(session: AsyncSession, name: str) -> FastThing:
    return await BaseRepository(session, model=FastThing).add(FastThing(name=name))


def on_postgresql(session: AsyncSession) -> bool:
    return session.get_bind().dialect.name == "postgresql"


async def test_the_fast_path_returns_a_persistent_unchanged_instance(
    session: AsyncSession, capture_sql: Statements
) -> None:
    created = await make(session, "kettle")
    session.expunge_all()
    capture_sql.clear()
    repository = BaseRepository(session, model=FastThing)
    found = await repository.get_by_id(created.id)
    if on_postgresql(session):
        assert list(capture_sql) == []  # the driver ran it: no SQLAlchemy statement
    assert (found.id, found.name, found.note) == (created.id, "kettle", None)
    assert to_utc(found.created_at) == to_utc(created.created_at)  # SQLite reads naive UTC
    assert found in session and not session.dirty
    found.name = "teapot"
    await repository.update(found)
    session.expunge_all()
    assert (await repository.get_by_id(created.id)).name == "teapot"


async def test_a_fast_row_is_loaded_as_the_orm_loads_it(session: AsyncSession) -> None:
    created = await make(session, "mug")
    session.expunge_all()
    loaded: list[object] = []

    event.listen(session.sync_session, "loaded_as_persistent", lambda _, row: loaded.append(row))
    attached: list[object] = []
    event.listen(session.sync_session, "detached_to_persistent", lambda *args: attached.append(1))
    found = await BaseRepository(session, model=FastThing).get_by_id(created.id)
    state = inspect(found)
    assert state.persistent and not state.modified and state.key is not None
    assert session.identity_map.get(state.key) is found
    assert loaded == [found] and attached == []  # a load, not an attach


async def test_a_missing_id_raises_not_found(session: AsyncSession) -> None:
    with pytest.raises(NotFoundException):
        await BaseRepository(session, model=FastThing).get_by_id(uuid.uuid4())


async def test_inside_atomic_the_transaction_is_used(session: AsyncSession) -> None:
    repository = BaseRepository(session, model=FastThing)
    async with atomic(session):
        created = await make(session, "uncommitted")
        assert await fast_get_by_id(session, FastThing, created.id) is NotImplemented
        assert (await repository.get_by_id(created.id)).name == "uncommitted"


async def test_pending_changes_or_a_loaded_row_use_the_orm(session: AsyncSession) -> None:
    created = await make(session, "loaded")
    assert await fast_get_by_id(session, FastThing, created.id) is NotImplemented  # in session
    session.expunge_all()
    session.add(FastThing(name="pending"))
    assert await fast_get_by_id(session, FastThing, created.id) is NotImplemented
    session.expunge_all()
    expected = None if on_postgresql(session) else NotImplemented
    missing = await fast_get_by_id(session, FastThing, uuid.uuid4())
    assert missing is expected


async def test_a_row_already_loaded_is_refreshed(session: AsyncSession) -> None:
    repository = BaseRepository(session, model=FastThing)
    created = await make(session, "before")
    await repository.bulk_update({"id": created.id}, {"name": "after"})
    assert (await repository.get_by_id(created.id)).name == "after"


@pytest.mark.parametrize("read", ["fast path", "orm", "failure"])
async def test_a_request_session_returns_its_connection_and_detaches_its_rows(
    database: AsyncDatabaseManager, read: str
) -> None:
    async with database.request_session() as writer:
        created = await make(writer, "lamp")
    pool = database.engine.sync_engine.pool

    with pytest.raises(RuntimeError) if read == "failure" else nullcontext():
        async with database.request_session() as session:
            repository = BaseRepository(session, model=FastThing)
            if read == "orm":
                found = await repository.get({"name": "lamp"})
            else:
                found = await repository.get_by_id(created.id)
            assert found in session
            if read == "failure":
                found.name = "never saved"
                raise RuntimeError("the endpoint failed")

    assert pool.checkedout() == 0  # type: ignore[attr-defined]
    assert inspect(found).detached
    async with database.request_session() as session:
        assert (await BaseRepository(session, model=FastThing).get_by_id(created.id)).name == "lamp"
