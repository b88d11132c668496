"""Cursor pagination returns every row exactly once, in order, whatever the ties and NULLs."""

from __future__ import annotations

import base64
import json
import uuid
from datetime import UTC, date, datetime, timedelta
from decimal import Decimal
from typing import Any

import pytest
from sqlalchemy.ext.asyncio import AsyncSession

from tempest.db import BaseRepository
from tempest.exceptions import ValidationException
from tempest.schemas import decode_cursor, encode_cursor
from tests.db.repository.models import Color, RepoItem

pytestmark = pytest.mark.anyio

SAME_TIME = datetime(2024, 3, 1, 12, 0, tzinfo=UTC)


async def walk(repository: BaseRepository[RepoItem], limit: int, **options: Any) -> list[RepoItem]:
    """Follow next_cursor from the first page to the last."""
    rows: list[RepoItem] = []
    cursor = None
    for _ in range(1000):
        page = await repository.cursor_paginate(cursor=cursor, limit=limit, **options)
        assert page["limit"] == limit
        assert len(page["items"]) <= limit
        rows.extend(page["items"])
        assert page["has_more"] is (page["next_cursor"] is not None)
        if not page["has_more"]:
            return rows
        assert len(page["items"]) == limit
        cursor = page["next_cursor"]
    raise AssertionError("the pages never ended")


@pytest.fixture
async def crowd(session: AsyncSession) -> list[RepoItem]:
    """45 rows: 30 share one created_at, qty has three values, rank and price have NULLs."""
    repository = BaseRepository(session, model=RepoItem)
    return await repository.add_all(
        RepoItem(
            name=f"n{index:02}",
            qty=index % 3,
            rank=None if index % 4 == 0 else index % 5,
            price=None if index % 6 == 0 else Decimal(index % 4) / 4,
            due=None if index % 7 == 0 else date(2024, 1, 1 + index % 3),
            color=None if index % 5 == 0 else (Color.RED if index % 2 else Color.GREEN),
            created_at=SAME_TIME if index < 30 else SAME_TIME + timedelta(microseconds=index),
        )
        for index in range(45)
    )


def ids(rows: list[RepoItem]) -> list[uuid.UUID]:
    return [row.id for row in rows]


def expected(rows: list[RepoItem], key: str, descending: bool) -> list[uuid.UUID]:
    """NULLs sort above every value; id breaks ties in the same direction."""

    def sort_key(row: RepoItem) -> tuple[Any, ...]:
        value = getattr(row, key)
        if isinstance(value, datetime):
            value = value.replace(tzinfo=None) if value.tzinfo is None else value
        return (value is None, value if value is not None else 0, row.id)

    return ids(sorted(rows, key=sort_key, reverse=descending))


@pytest.mark.parametrize("ascending", [True, False])
async def test_shared_created_at_values_are_walked_exactly_once(
    session: AsyncSession, crowd: list[RepoItem], ascending: bool
) -> None:
    repository = BaseRepository(session, model=RepoItem)
    rows = await walk(repository, 4, ascending=ascending)
    assert ids(rows) == expected(crowd, "created_at", not ascending)


@pytest.mark.parametrize("order_by", ["qty", "-qty", "rank", "-rank", "price", "-price"])
async def test_duplicates_and_nulls_are_walked_exactly_once_in_order(
    session: AsyncSession, crowd: list[RepoItem], order_by: str
) -> None:
    repository = BaseRepository(session, model=RepoItem)
    rows = await walk(repository, 4, order_by=order_by)
    descending = order_by.startswith("-")
    assert ids(rows) == expected(crowd, order_by.lstrip("-"), descending)
    listed = await repository.list(order_by=order_by)  # offset pages use the same order
    assert ids(rows) == ids(listed)


@pytest.mark.parametrize("order_by", ["id", "name", "due", "color", "is_active", "updated_at"])
@pytest.mark.parametrize("ascending", [True, False])
async def test_every_value_type_round_trips_through_the_cursor(
    session: AsyncSession, crowd: list[RepoItem], order_by: str, ascending: bool
) -> None:
    repository = BaseRepository(session, model=RepoItem)
    rows = await walk(repository, 7, order_by=order_by, ascending=ascending)
    assert sorted(ids(rows)) == sorted(ids(crowd))
    listed = await repository.list(order_by=order_by, ascending=ascending)
    assert ids(rows) == ids(listed)


async def test_filters_apply_to_every_page(session: AsyncSession, crowd: list[RepoItem]) -> None:
    repository = BaseRepository(session, model=RepoItem)
    rows = await walk(repository, 3, filters={"qty": 1}, order_by="-rank")
    assert ids(rows) == expected([row for row in crowd if row.qty == 1], "rank", True)


async def test_rows_inserted_meanwhile_do_not_shift_the_pages(
    session: AsyncSession, crowd: list[RepoItem]
) -> None:
    repository = BaseRepository(session, model=RepoItem)
    first = await repository.cursor_paginate(order_by="name", limit=10)
    await repository.add(RepoItem(name="a-first"))  # sorts before every existing row
    second = await repository.cursor_paginate(
        order_by="name", limit=10, cursor=first["next_cursor"]
    )
    assert [item.name for item in second["items"]] == [f"n{i:02}" for i in range(10, 20)]


async def test_the_last_page(session: AsyncSession, crowd: list[RepoItem]) -> None:
    page = await BaseRepository(session, model=RepoItem).cursor_paginate(limit=45, cursor="")
    assert (len(page["items"]), page["has_more"], page["next_cursor"]) == (45, False, None)


async def first_cursor(session: AsyncSession, **options: Any) -> str:
    page = await BaseRepository(session, model=RepoItem).cursor_paginate(limit=2, **options)
    assert page["next_cursor"] is not None
    return str(page["next_cursor"])


@pytest.mark.parametrize(
    ("made_with", "used_with"),
    [
        ({"order_by": "qty"}, {"order_by": "rank"}),
        ({"order_by": "qty"}, {"order_by": "qty", "ascending": False}),
        ({"order_by": "qty"}, {"order_by": "-qty"}),
        ({}, {"order_by": "name"}),
    ],
)
async def test_a_cursor_of_another_ordering_is_refused(
    session: AsyncSession,
    crowd: list[RepoItem],
    made_with: dict[str, Any],
    used_with: dict[str, Any],
) -> None:
    cursor = await first_cursor(session, **made_with)
    with pytest.raises(ValidationException) as caught:
        await BaseRepository(session, model=RepoItem).cursor_paginate(cursor=cursor, **used_with)
    assert (caught.value.status_code, caught.value.code) == (422, "INVALID_CURSOR")


async def test_the_same_ordering_spelt_differently_is_accepted(
    session: AsyncSession, crowd: list[RepoItem]
) -> None:
    cursor = await first_cursor(session, order_by="-qty")
    page = await BaseRepository(session, model=RepoItem).cursor_paginate(
        cursor=cursor, order_by="qty", ascending=False
    )
    assert len(page["items"]) == 20


def raw_cursor(payload: Any) -> str:
    return base64.urlsafe_b64encode(json.dumps(payload).encode()).rstrip(b"=").decode()


def forged_cursors(valid: str) -> list[str]:
    payload = decode_cursor(valid)
    return [
        valid[: len(valid) // 2],  # truncated
        valid[:-3],
        "abc",
        "not a cursor!",
        "x" * 5000,
        raw_cursor([1, 2]),
        raw_cursor("text"),
        encode_cursor({}),
        encode_cursor({**payload, "extra": 1}),
        encode_cursor({key: value for key, value in payload.items() if key != "id"}),
        encode_cursor({**payload, "id": "not-a-uuid"}),
        encode_cursor({**payload, "id": 42}),
        encode_cursor({**payload, "v": "three"}),  # qty is an integer
        encode_cursor({**payload, "v": True}),
        encode_cursor({**payload, "v": None}),  # qty is not nullable
        encode_cursor({**payload, "v": [1]}),
        encode_cursor({**payload, "o": "name; drop table repo_item"}),
        encode_cursor({**payload, "d": "sideways"}),
    ]


async def test_forged_or_truncated_cursors_are_422(
    session: AsyncSession, crowd: list[RepoItem]
) -> None:
    repository = BaseRepository(session, model=RepoItem)
    valid = await first_cursor(session, order_by="qty")
    for cursor in forged_cursors(valid):
        with pytest.raises(ValidationException) as caught:
            await repository.cursor_paginate(cursor=cursor, order_by="qty", limit=2)
        assert caught.value.status_code == 422, cursor
        assert caught.value.code == "INVALID_CURSOR", cursor


async def test_bad_values_in_nullable_and_typed_columns(
    session: AsyncSession, crowd: list[RepoItem]
) -> None:
    repository = BaseRepository(session, model=RepoItem)
    payload = decode_cursor(await first_cursor(session, order_by="due"))
    for value in ("2024-02-30", 5, "BLUE"):
        with pytest.raises(ValidationException):
            await repository.cursor_paginate(
                cursor=encode_cursor({**payload, "v": value}), order_by="due"
            )
    color = decode_cursor(await first_cursor(session, order_by="color"))
    with pytest.raises(ValidationException):
        await repository.cursor_paginate(
            cursor=encode_cursor({**color, "v": "BLUE"}), order_by="color"
        )


async def test_limit_bounds_and_uncursorable_columns(session: AsyncSession) -> None:
    repository = BaseRepository(session, model=RepoItem)
    for limit in (0, -1, 101, "5"):
        with pytest.raises(ValidationException):
            await repository.cursor_paginate(limit=limit)  # type: ignore[arg-type]
    with pytest.raises(ValidationException, match="extra"):
        await repository.cursor_paginate(order_by="extra")  # a JSON column
