"""Writes: each commits on its own or joins the caller's atomic() block; conflicts are 409s."""

from __future__ import annotations

import asyncio
import uuid
from typing import Any

import pytest
from sqlalchemy import text
from sqlalchemy.ext.asyncio import AsyncSession

from tempest.db import AsyncDatabaseManager, BaseRepository
from tempest.db.transaction import atomic
from tempest.exceptions import ConflictException, NotFoundException, ValidationException
from tests.db.repository.helpers import Statements, assert_no_sql
from tests.db.repository.models import RepoCategory, RepoItem

pytestmark = pytest.mark.anyio


class NameTaken(ConflictException):
    code = "NAME_TAKEN"


def repository_for(session: AsyncSession) -> BaseRepository[RepoItem]:
    return BaseRepository(
        session,
        model=RepoItem,
        conflict_exception=NameTaken,
        create_conflict_message="This name is taken",
        update_conflict_message="Cannot rename: this name is taken",
    )


async def count_in(database: AsyncDatabaseManager) -> int:
    async with database.request_session() as session:
        return await BaseRepository(session, model=RepoItem).count()


async def test_add_returns_the_row_with_defaults_and_commits(
    database: AsyncDatabaseManager, session: AsyncSession
) -> None:
    item = await repository_for(session).add(RepoItem(name="apple"))
    assert item.is_active is True and item.qty == 0 and item.created_at is not None
    assert await count_in(database) == 1  # committed: another session sees it


async def test_server_defaults_come_back_without_a_query_per_row(
    session: AsyncSession, capture_sql: Statements
) -> None:
    await session.execute(text("SELECT 1"))
    repository = BaseRepository(session, model=RepoCategory)
    capture_sql.clear()
    created = await repository.add_all(RepoCategory(title=f"c{i}") for i in range(20))
    assert all(category.created_at is not None for category in created)
    assert len(capture_sql.matching("SELECT")) == 0
    assert len(capture_sql.matching("INSERT")) <= 2


async def test_update_saves_changes_and_bumps_updated_at(session: AsyncSession) -> None:
    repository = repository_for(session)
    item = await repository.add(RepoItem(name="apple"))
    before = item.updated_at
    await asyncio.sleep(0.002)
    item.qty = 5
    updated = await repository.update(item)
    assert updated is item and item.updated_at > before
    stored = await repository.get_by_id(item.id)
    assert stored.qty == 5


async def test_update_many_and_a_vanished_row(session: AsyncSession) -> None:
    repository = repository_for(session)
    first, second = await repository.add_all([RepoItem(name="a"), RepoItem(name="b")])
    first.qty, second.qty = 1, 2
    await repository.update_many([first, second])
    assert sorted(item.qty for item in await repository.list()) == [1, 2]

    await session.execute(text("DELETE FROM repo_item WHERE name = 'b'"))
    second.qty = 3
    with pytest.raises(NotFoundException):
        await repository.update(second)


async def test_update_many_saves_changes_made_before_the_call_all_or_nothing(
    database: AsyncDatabaseManager, session: AsyncSession
) -> None:
    repository = repository_for(session)
    first, second = await repository.add_all([RepoItem(name="a"), RepoItem(name="b")])
    await repository.count()  # a read: the session now holds an autocommit connection
    first.qty = 7  # changed on the request session, outside any atomic() block
    second.name = "a"  # breaks the unique name
    with pytest.raises(ConflictException):
        await repository.update_many([first, second])
    async with database.request_session() as other:
        stored = await BaseRepository(other, model=RepoItem).list(order_by="name")
    assert [(item.name, item.qty) for item in stored] == [("a", 0), ("b", 0)]


async def conflict_of(action: Any) -> ConflictException:
    with pytest.raises(ConflictException) as caught:
        await action
    assert_no_sql(caught.value)
    return caught.value


async def test_duplicates_on_add_add_all_and_update_are_clean_409s(
    database: AsyncDatabaseManager, session: AsyncSession
) -> None:
    repository = repository_for(session)
    await repository.add(RepoItem(name="apple"))

    error = await conflict_of(repository.add(RepoItem(name="apple")))
    assert isinstance(error, NameTaken)
    assert (error.status_code, error.code, error.message) == (
        409,
        "NAME_TAKEN",
        "This name is taken",
    )
    assert error.details == {"constraint": "uq_repo_item_name"}

    batch = [RepoItem(name="fresh"), RepoItem(name="apple")]
    error = await conflict_of(repository.add_all(batch))
    assert error.details == {"constraint": "uq_repo_item_name"}
    assert await count_in(database) == 1  # nothing of the batch was kept

    pear = await repository.add(RepoItem(name="pear"))
    pear.name = "apple"
    error = await conflict_of(repository.update(pear))
    assert error.message == "Cannot rename: this name is taken"

    plain = BaseRepository(session, model=RepoItem)
    error = await conflict_of(plain.add(RepoItem(name="apple")))
    assert (type(error), error.message) == (ConflictException, "Resource conflict")
    assert await repository.count({"name": "pear"}) == 1  # the session is still usable


async def test_a_missing_foreign_key_is_a_409_naming_the_constraint(
    session: AsyncSession,
) -> None:
    if session.get_bind().dialect.name == "sqlite":
        await session.execute(text("PRAGMA foreign_keys = ON"))
    error = await conflict_of(
        BaseRepository(session, model=RepoItem).add(RepoItem(name="x", category_id=uuid.uuid4()))
    )
    if session.get_bind().dialect.name == "postgresql":
        assert error.details == {"constraint": "fk_repo_item_category_id_repo_category"}


async def test_writes_join_an_outer_transaction(
    database: AsyncDatabaseManager, session: AsyncSession
) -> None:
    repository = repository_for(session)
    with pytest.raises(RuntimeError):
        async with atomic(session):
            await repository.add(RepoItem(name="one"))
            await repository.bulk_update({"name": "one"}, {"qty": 9})
            raise RuntimeError("the service fails after the writes")
    assert await count_in(database) == 0

    with pytest.raises(ConflictException):
        async with atomic(session):
            await repository.add(RepoItem(name="two"))
            await repository.add(RepoItem(name="two"))
    assert await count_in(database) == 0


async def test_bulk_update_and_delete_many(session: AsyncSession) -> None:
    repository = repository_for(session)
    await repository.add_all(RepoItem(name=f"n{i}", qty=i % 2) for i in range(6))

    assert await repository.bulk_update({"qty": 1}, {"code": "odd"}) == 3
    assert await repository.count({"code": "odd"}) == 3
    assert await repository.delete_many({"code": "odd", "name": "n"}) == 3
    assert await repository.count() == 3


@pytest.mark.parametrize("filters", [{}, {"qty": None}, {"start_in": None}])
async def test_empty_filters_are_refused(session: AsyncSession, filters: dict[str, Any]) -> None:
    repository = repository_for(session)
    await repository.add(RepoItem(name="keep"))
    with pytest.raises(ValidationException, match="needs at least one filter"):
        await repository.bulk_update(filters, {"qty": 1})
    with pytest.raises(ValidationException, match="needs at least one filter"):
        await repository.delete_many(filters)
    assert (await repository.get({"name": "keep"})).qty == 0


async def test_bulk_update_rejects_bad_values_and_conflicts(session: AsyncSession) -> None:
    repository = repository_for(session)
    await repository.add_all([RepoItem(name="a"), RepoItem(name="b")])
    with pytest.raises(ValidationException):
        await repository.bulk_update({"name": "a"}, {})
    with pytest.raises(ValidationException, match="nope"):
        await repository.bulk_update({"name": "a"}, {"nope": 1})
    error = await conflict_of(repository.bulk_update({"name": "a"}, {"name": "b"}))
    assert error.message == "Cannot rename: this name is taken"


async def test_delete_delete_batch_soft_delete_and_restore(session: AsyncSession) -> None:
    repository = repository_for(session)
    items = await repository.add_all(RepoItem(name=f"n{i}") for i in range(5))

    await repository.delete(items[0].id)
    with pytest.raises(NotFoundException):
        await repository.delete(items[0].id)
    assert await repository.delete_batch([items[1].id, items[2].id, uuid.uuid4()]) == 2
    assert await repository.delete_batch([]) == 0
    with pytest.raises(ValidationException):
        await repository.delete_batch([items[3].id, "not-an-id"])
    with pytest.raises(ValidationException):
        await repository.delete("not-an-id")

    hidden = await repository.soft_delete(items[3].id)
    assert hidden is items[3] and hidden.is_active is False
    assert await repository.count({"is_active": False}) == 1
    restored = await repository.restore(items[3].id)
    assert restored.is_active is True
    for method in (repository.soft_delete, repository.restore):
        with pytest.raises(NotFoundException):
            await method(uuid.uuid4())
    assert await repository.count() == 2


async def test_deleting_a_referenced_row_is_a_409(session: AsyncSession) -> None:
    if session.get_bind().dialect.name == "sqlite":
        await session.execute(text("PRAGMA foreign_keys = ON"))
    categories = BaseRepository(session, model=RepoCategory)
    category = await categories.add(RepoCategory(title="fruit"))
    await repository_for(session).add(RepoItem(name="apple", category_id=category.id))
    await conflict_of(categories.delete(category.id))
    assert await categories.count() == 1


async def test_update_from_dict_guards_the_fields_in_a_repository_flow(
    session: AsyncSession,
) -> None:
    repository = repository_for(session)
    item = await repository.add(RepoItem(name="apple"))
    loaded = await repository.get_by_id(item.id)
    with pytest.raises(ValueError, match="'is_active' cannot be updated"):
        loaded.update_from_dict({"qty": 3, "is_active": False}, allowed_fields={"qty", "name"})
    loaded.update_from_dict({"qty": 3}, allowed_fields={"qty", "name"})
    await repository.update(loaded)
    stored = await repository.get_by_id(item.id)
    assert (stored.qty, stored.is_active) == (3, True)


async def test_a_missing_required_value_is_a_422_not_a_conflict(session: AsyncSession) -> None:
    from tempest.exceptions import ValidationException

    repository = BaseRepository(session, model=RepoItem)
    item = await repository.add(RepoItem(name="needs a name"))
    item.name = None  # type: ignore[assignment]
    with pytest.raises(ValidationException) as caught:
        await repository.update(item)
    assert caught.value.status_code == 422
    assert caught.value.details == {"field": "name"}
