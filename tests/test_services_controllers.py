"""BaseService and BaseController forward to the layer below and map records.

The repository here is an in-memory fake implementing the protocol the service uses:
these tests are about forwarding and mapping, not SQL.
"""

from __future__ import annotations

import asyncio
from dataclasses import dataclass, field
from typing import Any
from uuid import UUID, uuid4

import pytest

from tempest.controllers import BaseController
from tempest.exceptions import NotFoundException
from tempest.schemas import BasePaginationSchema, BaseSchema, CursorPaginationSchema
from tempest.services import BaseService

pytestmark = pytest.mark.anyio


@dataclass
class Row:
    name: str
    id: UUID = field(default_factory=uuid4)


class Out(BaseSchema):
    id: UUID
    name: str


@dataclass
class Call:
    method: str
    args: tuple[Any, ...]
    kwargs: dict[str, Any]


class FakeRepository:
    """In memory, ordered by name; records every call it gets."""

    def __init__(self, *names: str) -> None:
        self.rows = {row.id: row for row in (Row(name) for name in names)}
        self.calls: list[Call] = []
        self.page_extra: dict[str, Any] = {}

    def _record(self, method: str, *args: Any, **kwargs: Any) -> None:
        self.calls.append(Call(method, args, kwargs))

    def _matching(self, filters: dict[str, Any] | None) -> list[Row]:
        rows = sorted(self.rows.values(), key=lambda row: row.name)
        for key, value in (filters or {}).items():
            rows = [row for row in rows if getattr(row, key) == value]
        return rows

    async def get_by_id(self, id: UUID, for_update: bool = False) -> Row:
        self._record("get_by_id", id)
        try:
            return self.rows[id]
        except KeyError:
            raise NotFoundException("Row not found", code="ROW_NOT_FOUND") from None

    async def get_or_none(self, filters: dict[str, Any], for_update: bool = False) -> Row | None:
        self._record("get_or_none", filters)
        rows = self._matching(filters)
        return rows[0] if rows else None

    async def list(
        self,
        filters: dict[str, Any] | None = None,
        order_by: str | None = None,
        ascending: bool = True,
    ) -> list[Row]:
        self._record("list", filters=filters, order_by=order_by, ascending=ascending)
        rows = self._matching(filters)
        return rows if ascending else rows[::-1]

    async def paginate(
        self,
        filters: dict[str, Any] | None = None,
        order_by: str | None = None,
        page: int = 1,
        page_size: int = 20,
        ascending: bool = True,
        query: Any = None,
    ) -> dict[str, Any]:
        self._record(
            "paginate",
            filters=filters,
            order_by=order_by,
            page=page,
            page_size=page_size,
            ascending=ascending,
        )
        rows = self._matching(filters)
        start = (page - 1) * page_size
        return {
            "items": rows[start : start + page_size],
            "total": len(rows),
            "page": page,
            "page_size": page_size,
            "pages": -(-len(rows) // page_size),
            **self.page_extra,
        }

    async def cursor_paginate(
        self,
        filters: dict[str, Any] | None = None,
        order_by: str | None = None,
        cursor: str | None = None,
        limit: int = 20,
        ascending: bool = True,
    ) -> dict[str, Any]:
        self._record(
            "cursor_paginate",
            filters=filters,
            order_by=order_by,
            cursor=cursor,
            limit=limit,
            ascending=ascending,
        )
        rows = self._matching(filters)
        start = int(cursor or 0)
        has_more = start + limit < len(rows)
        return {
            "items": rows[start : start + limit],
            "next_cursor": str(start + limit) if has_more else None,
            "has_more": has_more,
            "limit": limit,
        }

    async def count(self, filters: dict[str, Any] | None = None) -> int:
        self._record("count", filters)
        return len(self._matching(filters))

    async def exists(self, filters: dict[str, Any]) -> bool:
        self._record("exists", filters)
        return bool(self._matching(filters))

    async def delete(self, id: UUID) -> None:
        self._record("delete", id)
        if self.rows.pop(id, None) is None:
            raise NotFoundException("Row not found", code="ROW_NOT_FOUND")

    def map_to_response(self, instance: Row) -> Out:
        return Out(id=instance.id, name=instance.name.upper())


class AsyncMappingRepository(FakeRepository):
    async def map_to_response(self, instance: Row) -> Out:  # type: ignore[override]
        await asyncio.sleep(0)
        return Out(id=instance.id, name=instance.name.upper())


class RowService(BaseService[FakeRepository, Out]):
    pass


class RowController(BaseController[RowService, Out]):
    pass


@pytest.fixture(params=[FakeRepository, AsyncMappingRepository], ids=["sync-map", "async-map"])
def repository(request: pytest.FixtureRequest) -> FakeRepository:
    repository_class: type[FakeRepository] = request.param
    return repository_class("carol", "ana", "bob")


@pytest.fixture
def service(repository: FakeRepository) -> RowService:
    return RowService(repository)


def row_named(repository: FakeRepository, name: str) -> Row:
    return next(row for row in repository.rows.values() if row.name == name)


# -- service -------------------------------------------------------------------------------


async def test_the_service_keeps_its_repository(repository: FakeRepository) -> None:
    assert RowService(repository=repository).repository is repository


async def test_get_by_id_maps_the_record(service: RowService, repository: FakeRepository) -> None:
    ana = row_named(repository, "ana")
    result = await service.get_by_id(ana.id)
    assert result == Out(id=ana.id, name="ANA")


async def test_get_by_id_lets_the_repository_not_found_error_through(service: RowService) -> None:
    with pytest.raises(NotFoundException) as caught:
        await service.get_by_id(uuid4())
    assert caught.value.code == "ROW_NOT_FOUND"


async def test_get_or_none(service: RowService, repository: FakeRepository) -> None:
    bob = row_named(repository, "bob")
    assert await service.get_or_none({"name": "bob"}) == Out(id=bob.id, name="BOB")
    assert await service.get_or_none({"name": "nobody"}) is None


async def test_list_maps_in_order_and_forwards_arguments(
    service: RowService, repository: FakeRepository
) -> None:
    result = await service.list(order_by="name", ascending=False)
    assert [item.name for item in result] == ["CAROL", "BOB", "ANA"]
    assert all(isinstance(item, Out) for item in result)
    assert repository.calls[-1] == Call(
        "list", (), {"filters": None, "order_by": "name", "ascending": False}
    )


async def test_list_of_nothing_is_empty(service: RowService) -> None:
    assert await service.list({"name": "nobody"}) == []


async def test_paginate_maps_items_and_passes_the_rest_through(
    service: RowService, repository: FakeRepository
) -> None:
    result = await service.paginate(
        filters={"name": "ana"}, order_by="name", page=1, page_size=2, ascending=True
    )
    assert repository.calls[-1] == Call(
        "paginate",
        (),
        {
            "filters": {"name": "ana"},
            "order_by": "name",
            "page": 1,
            "page_size": 2,
            "ascending": True,
        },
    )
    assert [item.name for item in result["items"]] == ["ANA"]
    assert {key: value for key, value in result.items() if key != "items"} == {
        "total": 1,
        "page": 1,
        "page_size": 2,
        "pages": 1,
        "total_is_exact": True,
    }


async def test_paginate_output_builds_the_page_schema(service: RowService) -> None:
    result = await service.paginate(page=2, page_size=2)
    page = BasePaginationSchema[Out](**result)
    assert [item.name for item in page.items] == ["CAROL"]
    assert (page.total, page.page, page.pages, page.total_is_exact) == (3, 2, 2, True)


async def test_paginate_keeps_an_estimated_total_and_other_keys(
    service: RowService, repository: FakeRepository
) -> None:
    repository.page_extra = {"total_is_exact": False, "took_ms": 3}
    result = await service.paginate()
    assert result["total_is_exact"] is False
    assert result["took_ms"] == 3


async def test_cursor_paginate_maps_items_and_forwards_arguments(
    service: RowService, repository: FakeRepository
) -> None:
    first = await service.cursor_paginate(limit=2, order_by="name")
    assert [item.name for item in first["items"]] == ["ANA", "BOB"]
    assert (first["next_cursor"], first["has_more"], first["limit"]) == ("2", True, 2)
    assert repository.calls[-1] == Call(
        "cursor_paginate",
        (),
        {"filters": None, "order_by": "name", "cursor": None, "limit": 2, "ascending": True},
    )
    second = CursorPaginationSchema[Out](
        **await service.cursor_paginate(cursor=first["next_cursor"], limit=2)
    )
    assert [item.name for item in second.items] == ["CAROL"]
    assert (second.next_cursor, second.has_more) == (None, False)


async def test_count_exists_and_delete(service: RowService, repository: FakeRepository) -> None:
    assert await service.count() == 3
    assert await service.count({"name": "ana"}) == 1
    assert await service.exists({"name": "ana"}) is True
    assert await service.exists({"name": "nobody"}) is False
    ana = row_named(repository, "ana")
    await service.delete(ana.id)
    assert await service.count() == 2
    with pytest.raises(NotFoundException):
        await service.delete(ana.id)


class BrokenRepository(FakeRepository):
    def __init__(self, result: Any) -> None:
        super().__init__("ana")
        self.result = result

    async def paginate(self, *args: Any, **kwargs: Any) -> Any:
        return self.result

    async def cursor_paginate(self, *args: Any, **kwargs: Any) -> Any:
        return self.result


@pytest.mark.parametrize(
    "result",
    [None, [], {"total": 0}, {"items": None}, {"items": "abc"}, {"items": (Row("a"),)}],
)
async def test_a_page_without_an_items_list_is_a_clear_error(result: Any) -> None:
    service = BaseService[BrokenRepository, Out](BrokenRepository(result))
    with pytest.raises(TypeError, match=r"BrokenRepository\.paginate\(\) must return"):
        await service.paginate()
    with pytest.raises(TypeError, match=r"BrokenRepository\.cursor_paginate\(\) must return"):
        await service.cursor_paginate()


async def test_an_overridden_method_keeps_the_base_behaviour(repository: FakeRepository) -> None:
    class ActiveOnly(RowService):
        async def list(
            self,
            filters: dict[str, Any] | None = None,
            order_by: Any | None = None,
            ascending: bool = True,
        ) -> list[Out]:
            return await super().list({**(filters or {}), "name": "bob"}, order_by, ascending)

    assert [item.name for item in await ActiveOnly(repository).list()] == ["BOB"]


# -- controller ----------------------------------------------------------------------------


class SpyService(RowService):
    """Records what the controller forwards, then does the real work."""

    def __init__(self, repository: FakeRepository) -> None:
        super().__init__(repository)
        self.forwarded: list[Call] = []

    async def get_by_id(self, id: Any) -> Out:
        self.forwarded.append(Call("get_by_id", (id,), {}))
        return await super().get_by_id(id)

    async def list(
        self,
        filters: dict[str, Any] | None = None,
        order_by: Any | None = None,
        ascending: bool = True,
    ) -> list[Out]:
        self.forwarded.append(Call("list", (filters, order_by, ascending), {}))
        return await super().list(filters, order_by, ascending)

    async def paginate(self, *args: Any, **kwargs: Any) -> dict[str, Any]:
        self.forwarded.append(Call("paginate", args, kwargs))
        return await super().paginate(*args, **kwargs)

    async def cursor_paginate(self, *args: Any, **kwargs: Any) -> dict[str, Any]:
        self.forwarded.append(Call("cursor_paginate", args, kwargs))
        return await super().cursor_paginate(*args, **kwargs)

    async def count(self, filters: dict[str, Any] | None = None) -> int:
        self.forwarded.append(Call("count", (filters,), {}))
        return await super().count(filters)

    async def delete(self, id: Any) -> None:
        self.forwarded.append(Call("delete", (id,), {}))
        await super().delete(id)


@pytest.fixture
def spy(repository: FakeRepository) -> SpyService:
    return SpyService(repository)


async def test_the_controller_keeps_its_service(spy: SpyService) -> None:
    assert RowController(service=spy).service is spy


async def test_the_controller_forwards_reads(spy: SpyService, repository: FakeRepository) -> None:
    controller = RowController(spy)
    ana = row_named(repository, "ana")
    assert await controller.get_by_id(ana.id) == Out(id=ana.id, name="ANA")
    assert [item.name for item in await controller.list({"name": "bob"}, "name", False)] == ["BOB"]
    page = await controller.paginate({"name": "ana"}, "name", 1, 5, False)
    assert [item.name for item in page["items"]] == ["ANA"]
    assert page["page_size"] == 5
    keyset = await controller.cursor_paginate(None, "name", "1", 1, True)
    assert [item.name for item in keyset["items"]] == ["BOB"]
    assert await controller.count({"name": "carol"}) == 1
    assert spy.forwarded == [
        Call("get_by_id", (ana.id,), {}),
        Call("list", ({"name": "bob"}, "name", False), {}),
        Call(
            "paginate",
            (),
            {
                "filters": {"name": "ana"},
                "order_by": "name",
                "page": 1,
                "page_size": 5,
                "ascending": False,
            },
        ),
        Call(
            "cursor_paginate",
            (),
            {"filters": None, "order_by": "name", "cursor": "1", "limit": 1, "ascending": True},
        ),
        Call("count", ({"name": "carol"},), {}),
    ]


async def test_the_controller_forwards_delete_and_its_errors(
    spy: SpyService, repository: FakeRepository
) -> None:
    controller = RowController(spy)
    bob = row_named(repository, "bob")
    await controller.delete(bob.id)
    assert bob.id not in repository.rows
    with pytest.raises(NotFoundException):
        await controller.get_by_id(bob.id)
    with pytest.raises(NotFoundException):
        await controller.delete(bob.id)


async def test_controller_defaults_match_the_service(spy: SpyService) -> None:
    controller = RowController(spy)
    await controller.paginate()
    await controller.cursor_paginate()
    await controller.count()
    assert spy.forwarded == [
        Call(
            "paginate",
            (),
            {"filters": None, "order_by": None, "page": 1, "page_size": 20, "ascending": True},
        ),
        Call(
            "cursor_paginate",
            (),
            {"filters": None, "order_by": None, "cursor": None, "limit": 20, "ascending": True},
        ),
        Call("count", (None,), {}),
    ]
