"""The filter dict conventions give the same rows on SQLite and PostgreSQL."""

from __future__ import annotations

from datetime import UTC, date, datetime
from decimal import Decimal
from typing import Any

import pytest
from sqlalchemy.ext.asyncio import AsyncSession

from tempest.db import BaseRepository
from tempest.exceptions import ValidationException
from tests.db.repository.models import Color, RepoEvent, RepoItem

pytestmark = pytest.mark.anyio

NAMES = ["Ana Silva", "ANAlise", "Bruno", "50% off", "a_b", "axb", "back\\slash", "Joana"]


@pytest.fixture
async def items(session: AsyncSession) -> BaseRepository[RepoItem]:
    repository = BaseRepository(session, model=RepoItem)
    await repository.add_all(
        RepoItem(
            name=name,
            qty=index,
            code="even" if index % 2 == 0 else None,
            is_active=index != 3,
            price=Decimal("1.50") if index < 2 else None,
            color=Color.RED if index < 3 else Color.GREEN,
            created_at=datetime(2024, 1, 1 + index, 23, 30, tzinfo=UTC),
        )
        for index, name in enumerate(NAMES)
    )
    return repository


async def names(repository: BaseRepository[RepoItem], filters: dict[str, Any]) -> list[str]:
    return [item.name for item in await repository.list(filters, order_by="qty")]


async def test_equality_in_and_none(items: BaseRepository[RepoItem]) -> None:
    assert await names(items, {"qty": 2}) == ["Bruno"]
    assert await names(items, {"qty": [0, 2, 99]}) == ["Ana Silva", "Bruno"]
    assert await names(items, {"qty": (1,)}) == ["ANAlise"]
    assert await names(items, {"qty": []}) == []
    assert await names(items, {"code": "even", "qty": [0, 1, 2]}) == ["Ana Silva", "Bruno"]
    assert await names(items, {"code": None, "qty": None}) == NAMES  # None: no condition
    assert await names(items, {"price": Decimal("1.5")}) == ["Ana Silva", "ANAlise"]
    assert await names(items, {"color": Color.GREEN, "qty": [3, 4]}) == ["50% off", "a_b"]
    assert await names(items, {"color": "GREEN", "qty": 3}) == ["50% off"]  # by name


async def test_booleans_are_is_true_and_is_false(items: BaseRepository[RepoItem]) -> None:
    assert await names(items, {"is_active": False}) == ["50% off"]
    assert len(await names(items, {"is_active": True})) == len(NAMES) - 1


async def test_name_is_a_case_insensitive_contains(items: BaseRepository[RepoItem]) -> None:
    assert await names(items, {"name": "ana"}) == ["Ana Silva", "ANAlise", "Joana"]
    assert await names(items, {"name": "SILVA"}) == ["Ana Silva"]


@pytest.mark.parametrize(
    ("value", "expected"),
    [("%", ["50% off"]), ("_", ["a_b"]), ("a_b", ["a_b"]), ("\\", ["back\\slash"])],
)
async def test_like_wildcards_in_the_value_match_themselves(
    items: BaseRepository[RepoItem], value: str, expected: list[str]
) -> None:
    assert await names(items, {"name": value}) == expected


async def test_a_date_matches_the_day_of_a_datetime(items: BaseRepository[RepoItem]) -> None:
    assert await names(items, {"created_at": date(2024, 1, 3)}) == ["Bruno"]
    exact = datetime(2024, 1, 2, 23, 30, tzinfo=UTC)
    assert await names(items, {"created_at": exact}) == ["ANAlise"]


async def test_start_in_and_end_in_bound_created_at(items: BaseRepository[RepoItem]) -> None:
    window = {"start_in": date(2024, 1, 2), "end_in": date(2024, 1, 4)}
    assert await names(items, window) == ["ANAlise", "Bruno", "50% off"]
    assert await names(items, {"start_in": datetime(2024, 1, 8, 1, tzinfo=UTC)}) == ["Joana"]
    assert await names(items, {"end_in": "2024-01-01"}) == ["Ana Silva"]


async def test_start_in_and_end_in_prefer_a_column_named_date(session: AsyncSession) -> None:
    repository = BaseRepository(session, model=RepoEvent)
    await repository.add_all(
        RepoEvent(title=f"e{day}", date=date(2024, 5, day)) for day in range(1, 6)
    )
    found = await repository.list({"start_in": date(2024, 5, 2), "end_in": date(2024, 5, 3)})
    assert sorted(event.title for event in found) == ["e2", "e3"]
    assert await repository.count({"date": date(2024, 5, 5)}) == 1


@pytest.mark.parametrize(
    "filters",
    [
        {"colour": "red"},
        {"category": None},  # a relationship, and None does not hide the typo
        {"name; DROP TABLE repo_item": "x"},
        {"__class__": 1},
    ],
)
async def test_an_unknown_key_is_a_422_listing_the_allowed_ones(
    session: AsyncSession, filters: dict[str, Any]
) -> None:
    repository = BaseRepository(session, model=RepoItem)
    with pytest.raises(ValidationException) as caught:
        await repository.list(filters)
    key = next(iter(filters))
    assert caught.value.status_code == 422
    assert repr(key) in caught.value.message
    assert "qty" in caught.value.details["allowed"]
    assert "start_in" in caught.value.details["allowed"]
    with pytest.raises(ValidationException):
        await repository.count(filters)


@pytest.mark.parametrize(
    "filters",
    [
        {"qty": "three"},
        {"qty": True},
        {"is_active": 1},
        {"name": 5},
        {"id": "not-a-uuid"},
        {"price": "abc"},
        {"qty": [1, "x"]},
        {"color": "BLUE"},
        {"start_in": "yesterday"},
        {"end_in": 20240101},
        {"qty": date(2024, 1, 1)},
    ],
)
async def test_a_value_of_the_wrong_type_is_a_422(
    session: AsyncSession, filters: dict[str, Any]
) -> None:
    with pytest.raises(ValidationException) as caught:
        await BaseRepository(session, model=RepoItem).list(filters)
    assert caught.value.details["field"] == next(iter(filters))
