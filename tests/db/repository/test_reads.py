"""Reads: get, get_or_none, get_by_id, exists, first, list, count, for_update, mappers."""

from __future__ import annotations

import uuid
from datetime import UTC, datetime, timedelta

import pytest
from sqlalchemy.ext.asyncio import AsyncSession

from tempest.db import BaseRepository
from tempest.db.transaction import atomic
from tempest.exceptions import NotFoundException, ValidationException
from tests.db.repository.helpers import Statements, backend
from tests.db.repository.models import RepoItem

pytestmark = pytest.mark.anyio


class ItemMissing(NotFoundException):
    code = "ITEM_NOT_FOUND"


async def seed(session: AsyncSession, *names: str) -> list[RepoItem]:
    repository = BaseRepository(session, model=RepoItem)
    start = datetime(2024, 1, 1, tzinfo=UTC)
    return await repository.add_all(
        RepoItem(name=name, qty=i, created_at=start + timedelta(seconds=i))
        for i, name in enumerate(names)
    )


async def test_get_and_get_by_id_return_the_row(session: AsyncSession) -> None:
    apple, _ = await seed(session, "apple", "pear")
    repository = BaseRepository(session, model=RepoItem)

    assert (await repository.get({"name": "apple"})).id == apple.id
    assert (await repository.get_by_id(apple.id)).name == "apple"
    assert (await repository.get_by_id(str(apple.id))).name == "apple"  # text ids are parsed
    assert await repository.get_or_none({"name": "plum"}) is None


async def test_a_missing_row_raises_the_configured_exception(session: AsyncSession) -> None:
    repository = BaseRepository(
        session, model=RepoItem, not_found_exception=ItemMissing, not_found_message="No item"
    )
    with pytest.raises(ItemMissing) as caught:
        await repository.get_by_id(uuid.uuid4())
    assert (caught.value.status_code, caught.value.code, caught.value.message) == (
        404,
        "ITEM_NOT_FOUND",
        "No item",
    )
    with pytest.raises(NotFoundException):
        await BaseRepository(session, model=RepoItem).get({"name": "nothing"})


async def test_a_malformed_id_is_a_422(session: AsyncSession) -> None:
    with pytest.raises(ValidationException):
        await BaseRepository(session, model=RepoItem).get_by_id("not-a-uuid")


async def test_exists_loads_no_row(session: AsyncSession, capture_sql: Statements) -> None:
    await seed(session, "apple")
    repository = BaseRepository(session, model=RepoItem)
    capture_sql.clear()

    assert await repository.exists({"name": "apple"}) is True
    assert await repository.exists({"name": "kiwi"}) is False
    assert await repository.exists() is True

    assert len(capture_sql) == 3
    assert all(sql.lstrip().upper().startswith("SELECT EXISTS") for sql in capture_sql)


async def test_first_and_list_follow_the_ordering(session: AsyncSession) -> None:
    await seed(session, "b", "c", "a")
    repository = BaseRepository(session, model=RepoItem)

    assert [item.name for item in await repository.list(order_by="name")] == ["a", "b", "c"]
    assert [item.name for item in await repository.list(order_by="-name")] == ["c", "b", "a"]
    assert [item.name for item in await repository.list(order_by="name", ascending=False)] == [
        "c",
        "b",
        "a",
    ]
    assert [item.name for item in await repository.list()] == ["b", "c", "a"]  # created_at
    first = await repository.first({"qty": [1, 2]}, order_by="name")
    assert first is not None and first.name == "a"
    assert await repository.first({"name": "zzz"}) is None
    assert await repository.list({"name": "zzz"}) == []


async def test_count_never_orders(session: AsyncSession, capture_sql: Statements) -> None:
    await seed(session, "a", "b", "c")
    repository = BaseRepository(session, model=RepoItem)
    capture_sql.clear()

    assert await repository.count() == 3
    assert await repository.count({"qty": [0, 2]}) == 2

    counts = capture_sql.matching("count(")
    assert len(counts) == 2
    assert not any("ORDER BY" in sql.upper() for sql in counts)


async def test_for_update_locks_on_postgresql_inside_a_transaction(
    session: AsyncSession, capture_sql: Statements
) -> None:
    (apple,) = await seed(session, "apple")
    repository = BaseRepository(session, model=RepoItem)
    with pytest.raises(RuntimeError, match="holds no lock"):
        await repository.get_by_id(apple.id, for_update=True)

    capture_sql.clear()
    async with atomic(session):
        locked = await repository.get_by_id(apple.id, for_update=True)
        locked.qty = 10
        await repository.update(locked)

    selects = capture_sql.matching("FROM repo_item")
    has_lock = any("FOR UPDATE" in sql.upper() for sql in selects)
    assert has_lock is (backend(session) == "postgresql")  # SQLite has no row locks
    assert (await repository.get_by_id(apple.id)).qty == 10


async def test_mappers(session: AsyncSession) -> None:
    repository = BaseRepository(session, model=RepoItem)
    item = repository.map_to_model({"name": "built", "qty": 3})
    assert isinstance(item, RepoItem) and item.qty == 3 and item.id is not None
    with pytest.raises(NotImplementedError):
        repository.map_to_schema(item)
    with pytest.raises(NotImplementedError):
        repository.map_to_response(item)


async def test_a_model_is_required(session: AsyncSession) -> None:
    with pytest.raises(TypeError, match="needs a model"):
        BaseRepository(session)


async def test_a_subclass_binds_its_model(session: AsyncSession) -> None:
    class ItemRepository(BaseRepository[RepoItem]):
        def __init__(self, session: AsyncSession) -> None:
            super().__init__(session, model=RepoItem, not_found_message="Item not found")

    await seed(session, "apple")
    repository = ItemRepository(session)
    assert await repository.count() == 1
    with pytest.raises(NotFoundException, match="Item not found"):
        await repository.get({"name": "pear"})
