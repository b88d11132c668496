from __future__ import annotations

from collections.abc import AsyncIterator
from typing import Annotated, Any

import httpx
import pytest
from fastapi import Depends, FastAPI, Query
from pydantic import ValidationError

from tempest.api import register_exception_handlers
from tempest.exceptions import ImproperlyConfigured
from tempest.schemas import (
    BaseSchema,
    CursorPaginationFilterSchema,
    CursorPaginationSchema,
    decode_cursor,
    encode_cursor,
)
from tempest.schemas.cursor import MAX_CURSOR_LENGTH


class EventFilter(CursorPaginationFilterSchema):
    kind: str | None = None
    is_active: bool | None = None


class WideEventFilter(CursorPaginationFilterSchema):
    max_limit = 1000


class Event(BaseSchema):
    kind: str


def test_defaults() -> None:
    filters = EventFilter()
    assert (filters.cursor, filters.limit, filters.order_by, filters.ascending) == (
        None,
        20,
        None,
        True,
    )
    assert EventFilter.max_limit == 100


def test_get_conditions_holds_only_the_domain_filters_that_are_set() -> None:
    filters = EventFilter(
        cursor=encode_cursor({"id": 1}, secret=""),
        limit=5,
        order_by="created_at",
        ascending=False,
        kind="click",
        is_active=False,
    )
    assert filters.get_conditions() == {"kind": "click", "is_active": False}
    assert EventFilter().get_conditions() == {}


@pytest.mark.parametrize(
    "data",
    [
        {"limit": 0},
        {"limit": -1},
        {"limit": 101},
        {"limit": "many"},
        {"cursor": "x" * (MAX_CURSOR_LENGTH + 1)},
        {"cursor": 123},
        {"ascending": "sideways"},
    ],
)
def test_bad_values_are_rejected(data: dict[str, Any]) -> None:
    with pytest.raises(ValidationError):
        EventFilter.model_validate(data)


def test_a_subclass_can_raise_the_limit_cap() -> None:
    assert WideEventFilter(limit=1000).limit == 1000
    with pytest.raises(ValidationError):
        WideEventFilter(limit=1001)
    with pytest.raises(ValidationError):
        EventFilter(limit=101)


@pytest.mark.parametrize("bad", [0, -1, "50", None, False])
def test_a_bad_cap_fails_at_class_definition(bad: Any) -> None:
    with pytest.raises(ImproperlyConfigured, match="max_limit must be a positive integer"):

        class BadFilter(CursorPaginationFilterSchema):
            max_limit = bad


def test_a_cap_below_the_default_limit_fails_at_class_definition() -> None:
    with pytest.raises(ImproperlyConfigured, match="limit defaults to 20"):

        class TinyFilter(CursorPaginationFilterSchema):
            max_limit = 5


def test_page_wraps_items_of_the_given_schema() -> None:
    page = CursorPaginationSchema[Event](
        items=[{"kind": "a"}], next_cursor="abc", has_more=True, limit=1
    )
    assert page.items == [Event(kind="a")]
    last = CursorPaginationSchema[Event](items=[], has_more=False, limit=20)
    assert last.next_cursor is None


@pytest.mark.parametrize(
    "changes",
    [{"items": [{"type": "a"}]}, {"has_more": "perhaps"}, {"limit": 0}, {"next_cursor": 5}],
)
def test_page_rejects_bad_values(changes: dict[str, Any]) -> None:
    data = {"items": [], "next_cursor": None, "has_more": False, "limit": 20, **changes}
    with pytest.raises(ValidationError):
        CursorPaginationSchema[Event].model_validate(data)


def build_app() -> FastAPI:
    app = FastAPI()
    register_exception_handlers(app)

    @app.get("/depends", response_model=CursorPaginationSchema[Event])
    async def with_depends(filters: EventFilter = Depends()) -> CursorPaginationSchema[Event]:
        return CursorPaginationSchema[Event](
            items=[Event(kind=filters.kind or "-")],
            next_cursor=filters.cursor,
            has_more=False,
            limit=filters.limit,
        )

    @app.get("/query")
    async def with_query_model(filters: Annotated[EventFilter, Query()]) -> dict[str, Any]:
        return {"limit": filters.limit, "cursor": filters.cursor, **filters.get_conditions()}

    @app.get("/decode")
    async def decode(filters: EventFilter = Depends()) -> dict[str, Any]:
        return decode_cursor(filters.cursor, secret="s") if filters.cursor else {}

    return app


@pytest.fixture
async def client() -> AsyncIterator[httpx.AsyncClient]:
    transport = httpx.ASGITransport(app=build_app())
    async with httpx.AsyncClient(transport=transport, base_url="http://test") as client:
        yield client


@pytest.mark.anyio
async def test_query_string_is_parsed(client: httpx.AsyncClient) -> None:
    cursor = encode_cursor({"id": 7}, secret="s")
    response = await client.get("/depends", params={"cursor": cursor, "limit": 3, "kind": "click"})
    assert response.json() == {
        "items": [{"kind": "click"}],
        "next_cursor": cursor,
        "has_more": False,
        "limit": 3,
    }
    response = await client.get("/query", params={"limit": 3, "is_active": "false"})
    assert response.json() == {"limit": 3, "cursor": None, "is_active": False}


@pytest.mark.anyio
@pytest.mark.parametrize("route", ["/depends", "/query"])
@pytest.mark.parametrize(
    ("params", "field"),
    [
        ({"limit": 0}, "limit"),
        ({"limit": 101}, "limit"),
        ({"limit": -1}, "limit"),
        ({"cursor": "x" * (MAX_CURSOR_LENGTH + 1)}, "cursor"),
    ],
)
async def test_bad_values_get_the_422_envelope(
    client: httpx.AsyncClient, route: str, params: dict[str, Any], field: str
) -> None:
    response = await client.get(route, params=params)
    assert response.status_code == 422
    body = response.json()
    assert body["code"] == "VALIDATION_ERROR"
    assert [error["loc"] for error in body["details"]["errors"]] == [["query", field]]


def test_openapi_documents_the_limit_bounds_and_the_item_type() -> None:
    schema = build_app().openapi()
    operation = schema["paths"]["/depends"]["get"]
    parameters = {parameter["name"]: parameter["schema"] for parameter in operation["parameters"]}
    assert parameters["limit"]["maximum"] == 100
    assert parameters["limit"]["minimum"] == 1
    ref = operation["responses"]["200"]["content"]["application/json"]["schema"]["$ref"]
    page = schema["components"]["schemas"][ref.rsplit("/", 1)[-1]]
    assert page["properties"]["items"]["items"]["$ref"] == "#/components/schemas/Event"


@pytest.mark.anyio
async def test_a_forged_cursor_gets_the_invalid_cursor_envelope(client: httpx.AsyncClient) -> None:
    good = encode_cursor({"id": 7}, secret="s")
    assert (await client.get("/decode", params={"cursor": good})).json() == {"id": 7}
    forged = encode_cursor({"id": 8}, secret="guess")
    response = await client.get("/decode", params={"cursor": forged})
    assert response.status_code == 422
    assert response.json() == {"detail": "Invalid cursor", "code": "INVALID_CURSOR", "details": {}}
