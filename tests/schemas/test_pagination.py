from __future__ import annotations

from collections.abc import AsyncIterator
from datetime import date
from typing import Annotated, Any
from uuid import uuid4

import httpx
import pytest
from fastapi import Depends, FastAPI, Query
from pydantic import Field, ValidationError

from tempest.api import register_exception_handlers
from tempest.exceptions import ImproperlyConfigured
from tempest.schemas import (
    BasePaginationFilterSchema,
    BasePaginationSchema,
    BaseResponseSchema,
    BaseSchema,
)


class UserFilter(BasePaginationFilterSchema):
    name: str | None = None
    joined_on: date | None = None


class AuditFilter(BasePaginationFilterSchema):
    max_page_size = 500


class DeepAuditFilter(AuditFilter):
    actor: str | None = None


class SearchFilter(BasePaginationFilterSchema):
    non_filter_fields = BasePaginationFilterSchema.non_filter_fields | {"q"}
    q: str | None = None
    name: str | None = None


class Item(BaseSchema):
    name: str


# -- the filter schema -------------------------------------------------------------------


def test_defaults() -> None:
    filters = UserFilter()
    assert (filters.page, filters.page_size, filters.order_by, filters.ascending) == (
        1,
        20,
        None,
        True,
    )
    assert filters.is_active is None
    assert UserFilter.max_page_size == 100


def test_get_conditions_holds_only_the_domain_filters_that_are_set() -> None:
    filters = UserFilter(
        page=3, page_size=50, order_by="name", ascending=False, is_active=True, name="ana"
    )
    assert filters.get_conditions() == {"is_active": True, "name": "ana"}
    assert UserFilter().get_conditions() == {}


def test_get_conditions_keeps_false_and_python_types() -> None:
    filters = UserFilter(is_active=False, joined_on="2024-05-01")
    assert filters.get_conditions() == {"is_active": False, "joined_on": date(2024, 5, 1)}


def test_non_filter_fields_can_be_extended() -> None:
    assert SearchFilter(q="ana", name="x").get_conditions() == {"name": "x"}


@pytest.mark.parametrize(
    "data",
    [
        {"page": 0},
        {"page": -1},
        {"page": "two"},
        {"page_size": 0},
        {"page_size": -1},
        {"page_size": 101},
        {"page_size": 10_000},
        {"ascending": "sideways"},
        {"is_active": "perhaps"},
    ],
)
def test_out_of_range_values_are_rejected(data: dict[str, Any]) -> None:
    with pytest.raises(ValidationError):
        UserFilter.model_validate(data)


def test_page_size_up_to_the_cap_is_accepted() -> None:
    assert UserFilter(page_size=100).page_size == 100


def test_the_cap_is_a_constraint_named_in_the_error() -> None:
    with pytest.raises(ValidationError) as caught:
        UserFilter(page_size=101)
    (error,) = caught.value.errors()
    assert error["type"] == "less_than_equal"
    assert error["ctx"] == {"le": 100}


def test_a_subclass_can_raise_the_cap_and_its_subclasses_inherit_it() -> None:
    assert AuditFilter(page_size=500).page_size == 500
    assert DeepAuditFilter(page_size=500).page_size == 500
    for model in (AuditFilter, DeepAuditFilter):
        with pytest.raises(ValidationError):
            model(page_size=501)
    # The parent's cap is untouched.
    with pytest.raises(ValidationError):
        UserFilter(page_size=101)


def test_a_subclass_can_lower_the_cap() -> None:
    class SmallFilter(BasePaginationFilterSchema):
        max_page_size = 25

    assert SmallFilter(page_size=25).page_size == 25
    with pytest.raises(ValidationError):
        SmallFilter(page_size=26)
    assert SmallFilter.model_json_schema()["properties"]["page_size"]["maximum"] == 25


def test_the_class_variable_wins_over_a_redeclared_field_bound() -> None:
    class CustomFilter(BasePaginationFilterSchema):
        page_size: int = Field(default=50, ge=1, le=1000)

    assert CustomFilter().page_size == 50
    with pytest.raises(ValidationError):
        CustomFilter(page_size=101)
    assert CustomFilter.model_json_schema()["properties"]["page_size"]["maximum"] == 100


@pytest.mark.parametrize("bad", [0, -5, "100", 2.5, True, None])
def test_a_bad_cap_fails_at_class_definition(bad: Any) -> None:
    with pytest.raises(ImproperlyConfigured, match="max_page_size must be a positive integer"):

        class BadFilter(BasePaginationFilterSchema):
            max_page_size = bad


def test_a_cap_below_the_default_page_size_fails_at_class_definition() -> None:
    with pytest.raises(ImproperlyConfigured, match="page_size defaults to 20"):

        class TinyFilter(BasePaginationFilterSchema):
            max_page_size = 10


# -- the page wrapper --------------------------------------------------------------------


def test_page_wraps_items_of_the_given_schema() -> None:
    page = BasePaginationSchema[Item](
        items=[{"name": "a"}, Item(name="b")], total=2, page=1, page_size=20, pages=1
    )
    assert page.items == [Item(name="a"), Item(name="b")]
    assert page.total_is_exact is True


def test_page_carries_an_estimated_total_flag() -> None:
    page = BasePaginationSchema[Item](
        items=[], total=1_000_000, page=1, page_size=20, pages=50_000, total_is_exact=False
    )
    assert page.model_dump()["total_is_exact"] is False


@pytest.mark.parametrize(
    "changes",
    [
        {"items": [{"nom": "a"}]},
        {"items": None},
        {"total": -1},
        {"page": 0},
        {"page_size": 0},
        {"pages": -1},
    ],
)
def test_page_rejects_bad_values(changes: dict[str, Any]) -> None:
    data = {"items": [], "total": 0, "page": 1, "page_size": 20, "pages": 0, **changes}
    with pytest.raises(ValidationError):
        BasePaginationSchema[Item].model_validate(data)


# -- through FastAPI ---------------------------------------------------------------------


class UserResponse(BaseResponseSchema):
    name: str


def build_app() -> FastAPI:
    app = FastAPI()
    register_exception_handlers(app)

    @app.get("/depends")
    async def with_depends(filters: UserFilter = Depends()) -> dict[str, Any]:
        return {"page": filters.page, "page_size": filters.page_size, **filters.get_conditions()}

    @app.get("/query")
    async def with_query_model(filters: Annotated[UserFilter, Query()]) -> dict[str, Any]:
        return {"page": filters.page, "page_size": filters.page_size, **filters.get_conditions()}

    @app.get("/audit")
    async def audit(filters: AuditFilter = Depends()) -> dict[str, int]:
        return {"page_size": filters.page_size}

    @app.get("/audit-query")
    async def audit_query(filters: Annotated[AuditFilter, Query()]) -> dict[str, int]:
        return {"page_size": filters.page_size}

    @app.get("/users", response_model=BasePaginationSchema[UserResponse])
    async def users(filters: UserFilter = Depends()) -> BasePaginationSchema[UserResponse]:
        row = {
            "id": uuid4(),
            "is_active": True,
            "created_at": "2024-05-01T12:00:00",
            "updated_at": "2024-05-01T12:00:00",
            "name": "Ana",
        }
        return BasePaginationSchema[UserResponse](
            items=[row], total=1, page=filters.page, page_size=filters.page_size, pages=1
        )

    return app


@pytest.fixture
async def client() -> AsyncIterator[httpx.AsyncClient]:
    transport = httpx.ASGITransport(app=build_app())
    async with httpx.AsyncClient(transport=transport, base_url="http://test") as client:
        yield client


ROUTES = ["/depends", "/query"]


@pytest.mark.anyio
@pytest.mark.parametrize("route", ROUTES)
async def test_query_string_is_parsed(client: httpx.AsyncClient, route: str) -> None:
    response = await client.get(
        route,
        params={
            "page": 2,
            "page_size": 50,
            "is_active": "true",
            "name": "  ana ",
            "order_by": "name",
        },
    )
    assert response.status_code == 200
    assert response.json() == {"page": 2, "page_size": 50, "is_active": True, "name": "ana"}


@pytest.mark.anyio
@pytest.mark.parametrize("route", ROUTES)
async def test_defaults_apply_without_a_query_string(client: httpx.AsyncClient, route: str) -> None:
    response = await client.get(route)
    assert response.json() == {"page": 1, "page_size": 20}


@pytest.mark.anyio
@pytest.mark.parametrize("route", ROUTES)
@pytest.mark.parametrize(
    ("params", "field", "error_type"),
    [
        ({"page": 0}, "page", "greater_than_equal"),
        ({"page": "two"}, "page", "int_parsing"),
        ({"page_size": -1}, "page_size", "greater_than_equal"),
        ({"page_size": 0}, "page_size", "greater_than_equal"),
        ({"page_size": 10_000}, "page_size", "less_than_equal"),
        ({"page_size": 101}, "page_size", "less_than_equal"),
        ({"is_active": "perhaps"}, "is_active", "bool_parsing"),
        ({"joined_on": "yesterday"}, "joined_on", "date_from_datetime_parsing"),
    ],
)
async def test_bad_values_get_the_422_envelope(
    client: httpx.AsyncClient, route: str, params: dict[str, Any], field: str, error_type: str
) -> None:
    response = await client.get(route, params=params)
    assert response.status_code == 422
    body = response.json()
    assert body["code"] == "VALIDATION_ERROR"
    (error,) = body["details"]["errors"]
    assert error["loc"] == ["query", field]
    assert error["type"] == error_type


@pytest.mark.anyio
@pytest.mark.parametrize("route", ["/audit", "/audit-query"])
async def test_a_raised_cap_applies_through_fastapi(client: httpx.AsyncClient, route: str) -> None:
    assert (await client.get(route, params={"page_size": 500})).json() == {"page_size": 500}
    response = await client.get(route, params={"page_size": 501})
    assert response.status_code == 422
    assert response.json()["details"]["errors"][0]["ctx"] == {"le": 500}


def _parameters(app: FastAPI, path: str) -> dict[str, dict[str, Any]]:
    operation = app.openapi()["paths"][path]["get"]
    return {parameter["name"]: parameter["schema"] for parameter in operation["parameters"]}


@pytest.mark.parametrize(
    ("path", "maximum"),
    [("/depends", 100), ("/query", 100), ("/audit", 500), ("/audit-query", 500)],
)
def test_openapi_documents_the_bounds(path: str, maximum: int) -> None:
    parameters = _parameters(build_app(), path)
    assert parameters["page_size"]["maximum"] == maximum
    assert parameters["page_size"]["minimum"] == 1
    assert parameters["page"]["minimum"] == 1


def test_openapi_shows_the_concrete_item_type() -> None:
    schema = build_app().openapi()
    response = schema["paths"]["/users"]["get"]["responses"]["200"]["content"]["application/json"]
    page_name = response["schema"]["$ref"].rsplit("/", 1)[-1]
    page = schema["components"]["schemas"][page_name]
    assert page["properties"]["items"]["items"]["$ref"] == "#/components/schemas/UserResponse"
    assert set(page["required"]) == {"items", "total", "page", "page_size", "pages"}
    assert "total_is_exact" in page["properties"]


@pytest.mark.anyio
async def test_pages_serialise_timestamps_in_utc(client: httpx.AsyncClient) -> None:
    body = (await client.get("/users")).json()
    assert body["items"][0]["created_at"] == "2024-05-01T12:00:00Z"
    assert body["total_is_exact"] is True
