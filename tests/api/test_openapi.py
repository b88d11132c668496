"""The OpenAPI document declares the error envelope, and error_responses() declares statuses."""

from __future__ import annotations

from typing import Any

import httpx
import pytest
from fastapi import APIRouter, FastAPI
from pydantic import BaseModel

from tempest.api import document_error_envelope, register_exception_handlers
from tempest.schemas import ErrorResponse, error_responses


class Item(BaseModel):
    name: str


def build_app() -> FastAPI:
    app = FastAPI()
    register_exception_handlers(app)
    document_error_envelope(app)
    router = APIRouter()

    @router.post("/items", responses=error_responses(409))
    async def create(item: Item) -> Item:
        return item

    @router.get("/ping")
    async def ping() -> dict[str, str]:
        return {"ping": "pong"}

    app.include_router(router, prefix="/api")
    return app


def _error_schema(document: dict[str, Any], path: str, method: str, status: str) -> Any:
    response = document["paths"][path][method]["responses"][status]
    return response["content"]["application/json"]["schema"]


def test_every_422_is_the_envelope() -> None:
    document = build_app().openapi()

    assert _error_schema(document, "/api/items", "post", "422") == {
        "$ref": "#/components/schemas/ErrorResponse"
    }
    schemas = document["components"]["schemas"]
    assert "HTTPValidationError" not in schemas
    assert "ValidationError" not in schemas
    assert schemas["ErrorResponse"]["required"] == ["detail", "code", "details"]
    assert "422" not in document["paths"]["/api/ping"]["get"]["responses"]


def test_declared_statuses_use_the_same_component() -> None:
    document = build_app().openapi()

    assert _error_schema(document, "/api/items", "post", "409") == {
        "$ref": "#/components/schemas/ErrorResponse"
    }
    assert document["paths"]["/api/items"]["post"]["responses"]["409"]["description"] == (
        "Conflict"
    )


def test_the_document_follows_routes_added_later() -> None:
    app = build_app()
    app.openapi()

    @app.put("/later/{key}")
    async def later(key: int) -> None: ...

    document = app.openapi()
    assert _error_schema(document, "/later/{key}", "put", "422") == {
        "$ref": "#/components/schemas/ErrorResponse"
    }
    assert "HTTPValidationError" not in document["components"]["schemas"]


@pytest.mark.anyio
async def test_the_422_answered_fits_the_declared_schema() -> None:
    app = build_app()
    transport = httpx.ASGITransport(app, raise_app_exceptions=False)
    async with httpx.AsyncClient(transport=transport, base_url="http://test") as client:
        response = await client.post("/api/items", json={})
        served = (await client.get("/openapi.json")).json()

    assert response.status_code == 422
    ErrorResponse.model_validate(response.json())  # the body has the declared shape
    assert served["components"]["schemas"]["ErrorResponse"]


def test_error_responses_refuses_success_statuses() -> None:
    with pytest.raises(ValueError, match="error statuses"):
        error_responses(404, 200)


def test_error_responses_describes_each_status() -> None:
    assert error_responses(401, 404) == {
        401: {"model": ErrorResponse, "description": "Unauthorized"},
        404: {"model": ErrorResponse, "description": "Not Found"},
    }
