import json
import logging
from collections.abc import AsyncIterator
from pathlib import Path

import httpx
import pytest
from fastapi import FastAPI, HTTPException
from pydantic import BaseModel, Field, field_validator
from starlette.requests import Request

from tempest.api import RequestIDMiddleware, app_exception_handler, register_exception_handlers
from tempest.core.logging import UNCAUGHT_500_FLAG, configure_logging
from tempest.exceptions import NotFoundException, TooManyRequestsException

pytestmark = pytest.mark.anyio


class Item(BaseModel):
    name: str
    quantity: int = Field(gt=0)

    @field_validator("name")
    @classmethod
    def name_is_not_reserved(cls, value: str) -> str:
        if value == "admin":
            raise ValueError("the name 'admin' is reserved")
        return value


def build_app(*, debug: bool = False) -> FastAPI:
    app = FastAPI()
    register_exception_handlers(app, debug=debug)

    @app.get("/orders/{order_id}")
    async def get_order(order_id: str) -> dict[str, str]:
        raise NotFoundException(
            "Order not found", code="ORDER_NOT_FOUND", details={"order_id": order_id}
        )

    @app.get("/throttled")
    async def throttled() -> None:
        raise TooManyRequestsException(retry_after=30)

    @app.post("/items")
    async def create_item(item: Item) -> Item:
        return item

    @app.get("/teapot")
    async def teapot() -> None:
        raise HTTPException(418, detail="I brew tea", headers={"X-Tea": "green"})

    @app.get("/boom")
    async def boom() -> float:
        return 1 / 0

    return app


@pytest.fixture
async def client() -> AsyncIterator[httpx.AsyncClient]:
    transport = httpx.ASGITransport(build_app(), raise_app_exceptions=False)
    async with httpx.AsyncClient(transport=transport, base_url="http://test") as client:
        yield client


async def test_app_exception_becomes_envelope(client: httpx.AsyncClient) -> None:
    response = await client.get("/orders/42")

    assert response.status_code == 404
    assert response.json() == {
        "detail": "Order not found",
        "code": "ORDER_NOT_FOUND",
        "details": {"order_id": "42"},
    }


async def test_app_exception_headers_are_sent(client: httpx.AsyncClient) -> None:
    response = await client.get("/throttled")

    assert response.status_code == 429
    assert response.headers["retry-after"] == "30"
    assert response.json()["code"] == "TOO_MANY_REQUESTS"


async def test_missing_field_is_a_validation_envelope(client: httpx.AsyncClient) -> None:
    response = await client.post("/items", json={"quantity": 1})

    assert response.status_code == 422
    body = response.json()
    assert body["detail"] == "Validation error"
    assert body["code"] == "VALIDATION_ERROR"
    [error] = body["details"]["errors"]
    assert error["type"] == "missing"
    assert error["loc"] == ["body", "name"]


async def test_malformed_json_is_a_validation_envelope(client: httpx.AsyncClient) -> None:
    response = await client.post(
        "/items", content=b'{"name": "pen", ', headers={"Content-Type": "application/json"}
    )

    assert response.status_code == 422
    body = response.json()
    assert body["code"] == "VALIDATION_ERROR"
    assert body["details"]["errors"][0]["type"] == "json_invalid"


async def test_validator_exception_in_ctx_is_made_json_safe(client: httpx.AsyncClient) -> None:
    response = await client.post("/items", json={"name": "admin", "quantity": 0})

    assert response.status_code == 422
    errors = {error["type"]: error for error in response.json()["details"]["errors"]}
    assert errors["value_error"]["ctx"] == {"error": "the name 'admin' is reserved"}
    assert errors["greater_than"]["ctx"] == {"gt": 0}


async def test_unknown_route_is_a_not_found_envelope(client: httpx.AsyncClient) -> None:
    response = await client.get("/nowhere")

    assert response.status_code == 404
    assert response.json() == {"detail": "Not Found", "code": "NOT_FOUND", "details": {}}


async def test_wrong_method_is_a_method_not_allowed_envelope(client: httpx.AsyncClient) -> None:
    response = await client.delete("/items")

    assert response.status_code == 405
    assert response.json() == {
        "detail": "Method Not Allowed",
        "code": "METHOD_NOT_ALLOWED",
        "details": {},
    }
    assert response.headers["allow"] == "POST"


async def test_http_exception_keeps_detail_and_headers(client: httpx.AsyncClient) -> None:
    response = await client.get("/teapot")

    assert response.status_code == 418
    assert response.json() == {"detail": "I brew tea", "code": "IM_A_TEAPOT", "details": {}}
    assert response.headers["x-tea"] == "green"


async def test_unhandled_exception_is_a_500_without_traceback(
    client: httpx.AsyncClient, caplog: pytest.LogCaptureFixture
) -> None:
    with caplog.at_level(logging.ERROR, logger="tempest.request"):
        response = await client.get("/boom")

    assert response.status_code == 500
    assert response.json() == {
        "detail": "Internal server error",
        "code": "INTERNAL_SERVER_ERROR",
        "details": {},
    }
    assert "Traceback" not in response.text
    assert "ZeroDivisionError" not in response.text
    [record] = [r for r in caplog.records if r.name == "tempest.request"]
    assert record.levelno == logging.ERROR
    assert record.exc_info is not None
    assert record.exc_info[0] is ZeroDivisionError
    assert record.__dict__[UNCAUGHT_500_FLAG] is True
    assert (record.__dict__["method"], record.__dict__["path"]) == ("GET", "/boom")


async def test_unhandled_exception_in_debug_carries_the_traceback() -> None:
    transport = httpx.ASGITransport(build_app(debug=True), raise_app_exceptions=False)
    async with httpx.AsyncClient(transport=transport, base_url="http://test") as client:
        response = await client.get("/boom")

    assert response.status_code == 500
    body = response.json()
    assert body["code"] == "INTERNAL_SERVER_ERROR"
    assert body["details"]["exception"] == "ZeroDivisionError: division by zero"
    traceback_lines = body["details"]["traceback"]
    assert traceback_lines[0] == "Traceback (most recent call last):"
    assert traceback_lines[-1] == "ZeroDivisionError: division by zero"
    assert all("\n" not in line for line in traceback_lines)


@pytest.mark.usefixtures("restore_root_logging")
async def test_500_goes_to_500_log_with_the_request_id(tmp_path: Path) -> None:
    configure_logging(level="INFO", json_output=True, log_dir=tmp_path)
    app = build_app()
    app.add_middleware(RequestIDMiddleware)
    transport = httpx.ASGITransport(app, raise_app_exceptions=False)
    async with httpx.AsyncClient(transport=transport, base_url="http://test") as client:
        await client.get("/orders/1", headers={"X-Request-ID": "req-404"})
        response = await client.get("/boom", headers={"X-Request-ID": "req-500"})

    assert response.status_code == 500
    [line] = (tmp_path / "500.log").read_text().splitlines()
    record = json.loads(line)
    assert record["request_id"] == "req-500"
    assert record["logger"] == "tempest.request"
    assert record["level"] == "ERROR"
    assert "ZeroDivisionError" in record["exception"]
    assert (tmp_path / "error.log").read_text().count("req-500") == 1


async def test_app_exception_handler_reraises_other_exceptions() -> None:
    request = Request({"type": "http", "method": "GET", "path": "/", "headers": []})

    with pytest.raises(KeyError):
        await app_exception_handler(request, KeyError("x"))


@pytest.mark.parametrize("prefix", ["", "/api/shop"])
async def test_allow_lists_every_method_of_the_path(prefix: str) -> None:
    from fastapi import APIRouter

    app = FastAPI()
    register_exception_handlers(app)
    router = APIRouter()

    @router.get("/things/{thing_id}")
    async def read(thing_id: str) -> None: ...

    @router.patch("/things/{thing_id}")
    async def change(thing_id: str) -> None: ...

    @router.delete("/things/{thing_id}")
    async def remove(thing_id: str) -> None: ...

    @router.post("/things")
    async def create() -> None: ...

    app.include_router(router, prefix=prefix)
    transport = httpx.ASGITransport(app, raise_app_exceptions=False)
    async with httpx.AsyncClient(transport=transport, base_url="http://test") as client:
        one = await client.put(f"{prefix}/things/7")
        collection = await client.get(f"{prefix}/things")

    assert one.status_code == 405
    assert one.headers["allow"] == "GET, PATCH, DELETE"  # FastAPI routes take no HEAD
    assert one.json()["code"] == "METHOD_NOT_ALLOWED"
    assert collection.status_code == 405
    assert collection.headers["allow"] == "POST"
