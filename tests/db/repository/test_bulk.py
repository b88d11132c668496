"""Bulk inserts and upserts: defaults filled, chunked under the bind limit, conflicts as 409s."""

from __future__ import annotations

import time
import uuid
from decimal import Decimal
from typing import Any

import pytest
from sqlalchemy import select
from sqlalchemy.ext.asyncio import AsyncSession

from tempest.db import AsyncDatabaseManager, BaseRepository
from tempest.db.repository.copy import COPY_MIN_ROWS
from tempest.db.repository.rows import bind_parameter_limit
from tempest.db.transaction import atomic
from tempest.exceptions import ConflictException, ValidationException
from tests.db.repository.helpers import Statements, assert_no_sql, backend
from tests.db.repository.models import RepoBulk, RepoItem

pytestmark = pytest.mark.anyio


def rows(count: int, start: int = 0, **extra: Any) -> list[dict[str, Any]]:
    return [
        {"name": f"n{index}", "code": index, "price": Decimal("1.25"), **extra}
        for index in range(start, start + count)
    ]


def bulk(session: AsyncSession) -> BaseRepository[RepoBulk]:
    return BaseRepository(session, model=RepoBulk, create_conflict_message="Duplicate bulk row")


async def stored(session: AsyncSession) -> list[RepoBulk]:
    return await bulk(session).list(order_by="code")


async def test_bulk_create_values_fills_the_base_defaults(session: AsyncSession) -> None:
    given_id = uuid.uuid4()
    inserted = await bulk(session).bulk_create_values(
        [*rows(3), {"id": given_id, "name": "mine", "code": 99, "price": 2, "is_active": False}]
    )
    assert inserted == 4
    saved = await stored(session)
    assert [row.code for row in saved] == [0, 1, 2, 99]
    assert len({row.id for row in saved}) == 4 and saved[-1].id == given_id
    assert [row.is_active for row in saved] == [True, True, True, False]
    assert all(row.created_at is not None and row.updated_at is not None for row in saved)
    assert saved[0].price == Decimal("1.25") and saved[0].note is None


@pytest.mark.parametrize("count", [5, COPY_MIN_ROWS + 5])
async def test_a_duplicate_is_a_clean_409_and_nothing_is_inserted(
    session: AsyncSession, count: int
) -> None:
    repository = bulk(session)
    await repository.bulk_create_values(rows(1, start=count - 1))
    with pytest.raises(ConflictException) as caught:
        await repository.bulk_create_values(rows(count))  # COPY on PostgreSQL when large
    assert_no_sql(caught.value)
    assert caught.value.message == "Duplicate bulk row"
    assert caught.value.details == {"constraint": "uq_repo_bulk_name"}
    assert await repository.count() == 1


async def test_bulk_inserts_join_the_callers_transaction(
    database: AsyncDatabaseManager, session: AsyncSession
) -> None:
    repository = bulk(session)
    for count in (3, COPY_MIN_ROWS * 2):  # INSERT, then COPY on PostgreSQL
        with pytest.raises(RuntimeError):
            async with atomic(session):
                assert await repository.bulk_create_values(rows(count)) == count
                assert await repository.bulk_upsert(rows(2, start=count), conflict_columns=["name"])
                raise RuntimeError("a later step fails")
        async with database.request_session() as other:
            assert await bulk(other).count() == 0


async def test_rows_giving_different_columns(session: AsyncSession) -> None:
    repository = BaseRepository(session, model=RepoItem)
    inserted = await repository.bulk_create_values(
        [{"name": "a"}, {"name": "b", "qty": 5, "code": "x"}, {"name": "c"}]
    )
    assert inserted == 3
    saved = await repository.list(order_by="name")
    assert [(item.name, item.qty, item.code) for item in saved] == [
        ("a", 0, None),
        ("b", 5, "x"),
        ("c", 0, None),
    ]


async def test_statements_stay_under_the_bind_limit(
    session: AsyncSession, capture_sql: Statements
) -> None:
    limit = bind_parameter_limit(session)
    assert limit == (32_767 if backend(session) == "postgresql" else 32_766)
    count = COPY_MIN_ROWS - 1  # the INSERT path on both backends
    await bulk(session).bulk_create_values(rows(count))
    inserts = capture_sql.matching("INSERT INTO repo_bulk")
    assert inserts and all(sql.count("?") + sql.count("$") <= limit for sql in inserts)
    assert await bulk(session).count() == count


@pytest.mark.parametrize(
    "bad_rows",
    [[{"name": "a", "code": 1, "price": 1, "nope": 2}], [{"name": "a", "category": None}], [{}]],
)
async def test_unknown_columns_are_422(session: AsyncSession, bad_rows: list[Any]) -> None:
    repository = BaseRepository(session, model=RepoItem)
    with pytest.raises(ValidationException):
        await repository.bulk_create_values(bad_rows)
    with pytest.raises(ValidationException):
        await repository.bulk_upsert(bad_rows, conflict_columns=["name"])
    assert await repository.bulk_create_values([]) == 0


async def test_bulk_upsert_inserts_then_updates(session: AsyncSession) -> None:
    repository = bulk(session)
    assert await repository.bulk_upsert(rows(4), conflict_columns=["name"]) == 4
    before = {row.name: row for row in await stored(session)}

    changed = [{"name": "n1", "code": 101, "price": 9}, {"name": "n9", "code": 9, "price": 1}]
    assert await repository.bulk_upsert(changed, conflict_columns=["name"]) == 2
    after = {row.name: row for row in await BaseRepository(session, model=RepoBulk).list()}
    assert len(after) == 5
    assert (after["n1"].code, after["n1"].price) == (101, Decimal("9.00"))
    assert after["n1"].id == before["n1"].id  # the existing row, not a new one
    assert after["n1"].created_at == before["n1"].created_at
    assert after["n1"].updated_at >= before["n1"].updated_at
    assert after["n2"].code == 2


async def test_bulk_upsert_with_chosen_update_columns(session: AsyncSession) -> None:
    repository = bulk(session)
    await repository.bulk_upsert(rows(2), conflict_columns=["name"])
    new = [{"name": "n0", "code": 50, "price": 5, "note": "x"}]
    assert (
        await repository.bulk_upsert(new, conflict_columns=["name"], update_columns=["note"]) == 1
    )
    row = await repository.get({"name": "n0"})
    assert (row.code, row.note) == (0, "x")

    skipped = [{"name": "n0", "code": 60, "price": 6}, {"name": "n7", "code": 7, "price": 7}]
    assert await repository.bulk_upsert(skipped, conflict_columns=["name"], update_columns=[]) == 1
    assert (await repository.get({"name": "n0"})).code == 0  # DO NOTHING
    assert await repository.count() == 3


async def test_bulk_upsert_keeps_the_last_of_repeated_keys(session: AsyncSession) -> None:
    repository = bulk(session)
    repeated = [{"name": "n0", "code": 1, "price": 1}, {"name": "n0", "code": 2, "price": 1}]
    assert await repository.bulk_upsert(repeated, conflict_columns=["name"]) == 1
    assert (await repository.get({"name": "n0"})).code == 2


async def test_bulk_upsert_reports_other_unique_violations_as_409(session: AsyncSession) -> None:
    repository = BaseRepository(session, model=RepoItem, create_conflict_message="Taken")
    first = uuid.uuid4()
    await repository.bulk_upsert([{"id": first, "name": "apple"}], conflict_columns=["id"])
    with pytest.raises(ConflictException) as caught:  # a new id, but the name is taken
        await repository.bulk_upsert(
            [{"id": uuid.uuid4(), "name": "apple"}], conflict_columns=["id"]
        )
    assert_no_sql(caught.value)
    assert caught.value.details == {"constraint": "uq_repo_item_name"}
    assert await repository.count() == 1


@pytest.mark.parametrize(
    ("conflict_columns", "match"),
    [
        (["code"], "not a unique key"),
        (["nope"], "nope"),
        ([], "needs conflict_columns"),
        ("name", "needs conflict_columns"),
    ],
)
async def test_bulk_upsert_needs_a_unique_key(
    session: AsyncSession, conflict_columns: Any, match: str
) -> None:
    with pytest.raises(ValidationException, match=match):
        await bulk(session).bulk_upsert(rows(1), conflict_columns=conflict_columns)


async def test_bulk_upsert_rows_must_give_the_conflict_columns(session: AsyncSession) -> None:
    with pytest.raises(ValidationException, match="must give the conflict columns"):
        await bulk(session).bulk_upsert([{"code": 1, "price": 1}], conflict_columns=["name"])
    with pytest.raises(ValidationException, match="update column"):
        await bulk(session).bulk_upsert(rows(1), conflict_columns=["name"], update_columns=["x"])


@pytest.mark.slow
async def test_one_hundred_thousand_rows(
    database: AsyncDatabaseManager, session: AsyncSession
) -> None:
    if backend(session) != "postgresql":
        pytest.skip("the volume test runs on PostgreSQL")
    repository = bulk(session)
    count = 100_000
    started = time.perf_counter()
    assert await repository.bulk_create_values(rows(count)) == count
    created = time.perf_counter() - started

    started = time.perf_counter()
    upserts = rows(count, code=-1)
    assert await repository.bulk_upsert(upserts, conflict_columns=["name"]) == count
    upserted = time.perf_counter() - started
    print(f"\n100k x 8 columns: bulk_create_values {created:.2f}s, bulk_upsert {upserted:.2f}s")

    total = await session.scalar(select(RepoBulk.code).where(RepoBulk.code == -1).limit(1))
    assert total == -1
    assert await repository.count({"code": -1}) == count
