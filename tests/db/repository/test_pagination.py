"""Offset pagination: ordering rules, bounds, counts (exact and estimated)."""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager
from datetime import UTC, date, datetime
from typing import Any, cast

import pytest
from sqlalchemy import select, text
from sqlalchemy.ext.asyncio import AsyncSession

from tempest.conf import Settings
from tempest.conf.lazy import LazySettings, settings
from tempest.db import AsyncDatabaseManager, BaseRepository
from tempest.exceptions import ValidationException
from tests.db.repository.helpers import Statements, backend
from tests.db.repository.models import RepoBulk, RepoEvent, RepoItem

pytestmark = pytest.mark.anyio

SAME_TIME = datetime(2024, 3, 1, 12, 0, tzinfo=UTC)


async def seed(session: AsyncSession, count: int, **values: Any) -> list[RepoItem]:
    repository = BaseRepository(session, model=RepoItem)
    return await repository.add_all(
        RepoItem(name=f"item-{index:03}", qty=index % 3, **values) for index in range(count)
    )


@contextmanager
def project_settings(value: Settings | None) -> Iterator[None]:
    """Run with ``value`` as the project's settings (None: not configured)."""
    proxy = cast(LazySettings, settings)
    previous = proxy.unwrap() if proxy.configured else None
    proxy.reset()
    if value is not None:
        proxy.configure(value)
    try:
        yield
    finally:
        proxy.reset()
        if previous is not None:
            proxy.configure(previous)


@pytest.fixture
def configured_settings() -> Iterator[None]:
    with project_settings(Settings(DATABASE_MAX_PAGE_SIZE=7, DATABASE_ESTIMATE_COUNT_ABOVE=0)):
        yield


async def test_a_page_and_its_total(session: AsyncSession) -> None:
    await seed(session, 11)
    repository = BaseRepository(session, model=RepoItem)

    page = await repository.paginate(page=2, page_size=4, order_by="name")
    assert [item.name for item in page["items"]] == [f"item-{i:03}" for i in range(4, 8)]
    assert {key: value for key, value in page.items() if key != "items"} == {
        "total": 11,
        "page": 2,
        "page_size": 4,
        "pages": 3,
        "total_is_exact": True,
    }
    last = await repository.paginate(page=3, page_size=4, order_by="name")
    assert len(last["items"]) == 3 and last["total"] == 11
    beyond = await repository.paginate(page=9, page_size=4)
    assert beyond["items"] == [] and beyond["total"] == 11
    filtered = await repository.paginate({"qty": 0}, page_size=2)
    assert filtered["total"] == 4 and filtered["pages"] == 2


async def test_an_empty_result(session: AsyncSession) -> None:
    page = await BaseRepository(session, model=RepoItem).paginate()
    assert page == {
        "items": [],
        "total": 0,
        "page": 1,
        "page_size": 20,
        "pages": 0,
        "total_is_exact": True,
    }


async def test_equal_values_page_deterministically_by_id(session: AsyncSession) -> None:
    rows = await seed(session, 30, created_at=SAME_TIME)
    repository = BaseRepository(session, model=RepoItem)

    for order_by in (None, "qty", "-qty", "created_at"):
        seen = []
        for page in range(1, 5):
            result = await repository.paginate(order_by=order_by, page=page, page_size=8)
            seen.extend(item.id for item in result["items"])
        assert sorted(seen) == sorted(row.id for row in rows)
        assert len(set(seen)) == 30
    by_qty = await repository.list(order_by="qty")
    assert [(item.qty, item.id) for item in by_qty] == sorted((r.qty, r.id) for r in rows)


async def test_a_custom_query_is_paginated_with_the_filters(session: AsyncSession) -> None:
    await seed(session, 6)
    repository = BaseRepository(session, model=RepoItem)
    query = select(RepoItem).where(RepoItem.qty > 0)
    page = await repository.paginate({"qty": 1}, query=query, page_size=1)
    assert page["total"] == 2 and page["items"][0].qty == 1


@pytest.mark.parametrize(
    "order_by",
    [
        "nope",
        "category",  # a relationship
        "extra",  # JSON: PostgreSQL cannot sort on it
        "-extra",
        "name; drop table repo_item",
        "name desc",
        "lower(name)",
        "--name",
        "-",
        "Name",
        7,
    ],
)
async def test_order_by_accepts_column_names_only(session: AsyncSession, order_by: Any) -> None:
    repository = BaseRepository(session, model=RepoItem)
    with pytest.raises(ValidationException) as caught:
        await repository.paginate(order_by=order_by)
    assert caught.value.status_code == 422
    assert caught.value.details["field"] == "order_by"
    assert "name" in caught.value.details["allowed"]
    for method in (repository.list, repository.first, repository.cursor_paginate):
        with pytest.raises(ValidationException):
            await method(order_by=order_by)


@pytest.mark.parametrize(
    ("page", "page_size"),
    [(0, 10), (-1, 10), (1, 0), (1, -5), (1, 101), (1, 10**9), ("2", 10), (1, True), (2**62, 10)],
)
async def test_page_and_page_size_out_of_range_are_422(
    session: AsyncSession, page: Any, page_size: Any
) -> None:
    with pytest.raises(ValidationException) as caught:
        await BaseRepository(session, model=RepoItem).paginate(page=page, page_size=page_size)
    assert caught.value.details["field"] in {"page", "page_size"}


async def test_the_page_size_cap(session: AsyncSession, configured_settings: None) -> None:
    capped = BaseRepository(session, model=RepoItem)
    assert capped.max_page_size == 7  # DATABASE_MAX_PAGE_SIZE
    await capped.paginate(page_size=7)
    with pytest.raises(ValidationException, match="from 1 to 7"):
        await capped.paginate(page_size=8)
    with pytest.raises(ValidationException):
        await capped.cursor_paginate(limit=8)
    wide = BaseRepository(session, model=RepoItem, max_page_size=500)
    assert (await wide.paginate(page_size=500))["page_size"] == 500


async def test_the_defaults_without_settings(session: AsyncSession) -> None:
    with project_settings(None):
        repository = BaseRepository(session, model=RepoItem)
        assert (repository.max_page_size, repository.estimate_count_above) == (100, 100_000)


async def test_the_count_query_has_no_order_by(
    session: AsyncSession, capture_sql: Statements
) -> None:
    await seed(session, 9)
    repository = BaseRepository(session, model=RepoItem)
    capture_sql.clear()

    page = await repository.paginate({"qty": [0, 1]}, order_by="-name", page_size=3)
    assert page["total"] == 6

    counts = capture_sql.matching("count(")
    assert len(counts) == 1
    assert "ORDER BY" not in counts[0].upper()


async def test_a_short_page_needs_no_count(session: AsyncSession, capture_sql: Statements) -> None:
    await seed(session, 5)
    repository = BaseRepository(session, model=RepoItem)
    capture_sql.clear()
    assert (await repository.paginate(page_size=10))["total"] == 5
    assert (await repository.paginate(page=2, page_size=3))["total"] == 5
    assert capture_sql.matching("count(") == []


async def analyze(database: AsyncDatabaseManager) -> None:
    async with database.engine.connect() as connection:
        await connection.execute(text("ANALYZE repo_bulk"))
        await connection.commit()


async def test_big_unfiltered_tables_get_an_estimated_total(
    database: AsyncDatabaseManager, session: AsyncSession, capture_sql: Statements
) -> None:
    repository = BaseRepository(session, model=RepoBulk, estimate_count_above=50)
    await repository.bulk_create_values(
        [{"name": f"n{i}", "code": i, "price": 1} for i in range(200)]
    )
    if backend(session) != "postgresql":
        page = await repository.paginate(page_size=10)
        assert (page["total"], page["total_is_exact"]) == (200, True)
        return

    await analyze(database)
    capture_sql.clear()
    page = await repository.paginate(page_size=10)
    assert (page["total"], page["total_is_exact"], page["pages"]) == (200, False, 20)
    assert capture_sql.matching("count(") == []
    assert len(capture_sql.matching("reltuples")) == 1

    filtered = await repository.paginate({"code": list(range(100))}, page_size=10)
    assert (filtered["total"], filtered["total_is_exact"]) == (100, True)

    small = BaseRepository(session, model=RepoBulk, estimate_count_above=1000)
    assert (await small.paginate(page_size=10))["total_is_exact"] is True
    off = BaseRepository(session, model=RepoBulk, estimate_count_above=0)
    assert (await off.paginate(page_size=10))["total_is_exact"] is True


async def test_a_table_never_analysed_is_counted(session: AsyncSession) -> None:
    repository = BaseRepository(session, model=RepoEvent, estimate_count_above=1)
    await repository.add_all(RepoEvent(title=str(i), date=date(2024, 1, 1)) for i in range(5))
    if backend(session) == "postgresql":
        reltuples = await session.scalar(
            text("SELECT reltuples FROM pg_class WHERE oid = 'repo_event'::regclass")
        )
        assert reltuples == -1
    page = await repository.paginate(page_size=2)
    assert (page["total"], page["total_is_exact"]) == (5, True)


async def test_the_estimate_threshold_comes_from_settings(
    session: AsyncSession, configured_settings: None
) -> None:
    assert BaseRepository(session, model=RepoItem).estimate_count_above == 0
