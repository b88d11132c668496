"""BodySizeLimitMiddleware and the 422 handler's echo rules, on small in-process apps."""

from __future__ import annotations

import json
from collections.abc import AsyncIterator
from typing import Annotated, Any

import httpx
import pytest
from fastapi import APIRouter, FastAPI, Query, Request
from pydantic import BaseModel, Field, SecretStr

from tempest.api import register_exception_handlers
from tempest.api.exception_handlers import REDACTED, is_secret_name
from tempest.api.middleware.body_limit import BodySizeLimitMiddleware, has_invalid_text

pytestmark = pytest.mark.anyio


class Login(BaseModel):
    email: str = Field(max_length=20)
    password: str = Field(min_length=8)


class Wallet(BaseModel):
    label: str
    seed: SecretStr
    nested: Login | None = None


def build(limit: int | None = 1_000, *, include_input: bool = True) -> FastAPI:
    app = FastAPI()
    register_exception_handlers(app, include_input=include_input)
    app.add_middleware(BodySizeLimitMiddleware, max_body_size=limit)

    @app.post("/login")
    async def login(data: Login) -> dict[str, str]:
        return {"email": data.email}

    @app.post("/wallet")
    async def wallet(data: Wallet) -> dict[str, str]:
        return {"label": data.label}

    @app.get("/find")
    async def find(api_key: Annotated[str, Query(min_length=30)]) -> dict[str, str]:
        return {"key": api_key}

    @app.post("/raw")
    async def raw(request: Request) -> dict[str, int]:
        return {"size": len(await request.body())}

    big = APIRouter()

    @big.post("/upload", max_body_size=5_000)
    async def upload(request: Request) -> dict[str, int]:
        return {"size": len(await request.body())}

    app.include_router(big)
    return app


@pytest.fixture
async def http() -> AsyncIterator[httpx.AsyncClient]:
    transport = httpx.ASGITransport(app=build(), raise_app_exceptions=False)
    async with httpx.AsyncClient(transport=transport, base_url="http://test") as client:
        yield client


# -- the raw JSON check ------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("body", "bad"),
    [
        (b'{"a": "plain"}', False),
        (b'{"a": "\\u0000"}', True),
        (b'{"a": "x\\u0000"}', True),
        (b'{"a": "\\\\u0000"}', False),  # an escaped backslash, then the text u0000
        (b'{"a": "\\\\\\u0000"}', True),  # escaped backslash, then a NUL escape
        (b'{"a": "\\ud83d\\ude00"}', False),  # a valid pair (an emoji)
        (b'{"a": "\\uD83D\\uDE00"}', False),
        (b'{"a": "\\ud83d"}', True),  # high alone
        (b'{"a": "\\ude00"}', True),  # low alone
        (b'{"a": "\\ude00\\ud83d"}', True),  # reversed
        (b'{"a": "\\ud83d\\\\ude00"}', True),  # high, then an escaped backslash
        (b'{"a": "\\u00e9\\u0041"}', False),
        (b'{"\\u0000": 1}', True),  # in a key
    ],
)
def test_has_invalid_text_agrees_with_the_json_decoder(body: bytes, bad: bool) -> None:
    assert has_invalid_text(body) is bad
    decoded = json.loads(body)
    texts = [*decoded, *(v for v in decoded.values() if isinstance(v, str))]
    decoder_says = any(
        "\x00" in text or any(0xD800 <= ord(char) <= 0xDFFF for char in text) for text in texts
    )
    assert decoder_says is bad


async def test_an_escape_split_across_chunks_is_seen(http: httpx.AsyncClient) -> None:
    async def chunks() -> AsyncIterator[bytes]:
        yield b'{"email": "a\\'
        yield b'u0000", "password": "long enough"}'

    response = await http.post(
        "/login", content=chunks(), headers={"Content-Type": "application/json"}
    )
    assert response.status_code == 422
    assert response.json()["details"]["errors"][0]["type"] == "string_invalid_character"


async def test_other_content_types_are_not_scanned(http: httpx.AsyncClient) -> None:
    response = await http.post(
        "/raw", content=b"\\u0000 literal", headers={"Content-Type": "text/plain"}
    )
    assert response.status_code == 200


# -- the limit -----------------------------------------------------------------------------


async def test_a_route_limit_overrides_the_app_limit(http: httpx.AsyncClient) -> None:
    assert (await http.post("/raw", content=b"x" * 1_000)).status_code == 200
    over = await http.post("/raw", content=b"x" * 1_001)
    assert over.status_code == 413
    assert over.json()["code"] == "CONTENT_TOO_LARGE"
    assert (await http.post("/upload", content=b"x" * 4_000)).json() == {"size": 4_000}
    bigger = await http.post("/upload", content=b"x" * 5_001)
    assert bigger.status_code == 413
    assert bigger.json()["code"] == "CONTENT_TOO_LARGE"


async def test_no_limit() -> None:
    transport = httpx.ASGITransport(app=build(None), raise_app_exceptions=False)
    async with httpx.AsyncClient(transport=transport, base_url="http://test") as client:
        response = await client.post("/raw", content=b"x" * 100_000)
    assert response.json() == {"size": 100_000}


def test_a_negative_limit_is_refused() -> None:
    with pytest.raises(ValueError, match="non-negative"):
        BodySizeLimitMiddleware(build(), max_body_size=-1)


# -- the echo of input ---------------------------------------------------------------------


@pytest.mark.parametrize(
    ("name", "secret"),
    [
        ("password", True),
        ("new_password", True),
        ("currentPassword", True),
        ("client_secret", True),
        ("refresh_token", True),
        ("apiToken", True),
        ("api_key", True),
        ("apiKey", True),
        ("X-API-Key", True),
        ("code", True),
        ("mfa_code", True),
        ("otp", True),
        ("pin", True),
        ("email", False),
        ("name", False),
        ("monkey", False),
        ("footprint", False),
        ("barcode", False),
        ("description", False),
    ],
)
def test_the_secret_name_rule(name: str, secret: bool) -> None:
    assert is_secret_name(name) is secret


async def test_secret_fields_are_redacted_at_any_depth(http: httpx.AsyncClient) -> None:
    response = await http.post(
        "/wallet",
        json={"seed": ["s33d"], "nested": {"email": "e" * 30, "password": "hunter2"}},
    )
    assert response.status_code == 422
    errors = {tuple(error["loc"]): error for error in response.json()["details"]["errors"]}
    assert errors[("body", "label")]["input"] == {
        "seed": REDACTED,
        "nested": {"email": "e" * 30, "password": REDACTED},
    }
    assert errors[("body", "seed")]["input"] == REDACTED  # typed SecretStr
    assert errors[("body", "nested", "email")]["input"] == "e" * 30
    assert errors[("body", "nested", "password")]["input"] == REDACTED
    assert "hunter2" not in response.text and "s33d" not in response.text


async def test_a_secret_query_parameter_is_redacted(http: httpx.AsyncClient) -> None:
    response = await http.get("/find", params={"api_key": "short-key"})
    assert response.status_code == 422
    assert "short-key" not in response.text


async def test_input_can_be_left_out_entirely() -> None:
    transport = httpx.ASGITransport(app=build(include_input=False), raise_app_exceptions=False)
    async with httpx.AsyncClient(transport=transport, base_url="http://test") as client:
        response = await client.post("/login", json={"email": "e" * 30, "password": "x"})
    errors: list[dict[str, Any]] = response.json()["details"]["errors"]
    assert len(errors) == 2
    assert all("input" not in error for error in errors)
    assert all({"type", "loc", "msg"} <= set(error) for error in errors)


@pytest.mark.parametrize("token", ["NaN", "Infinity", "-Infinity", '"\\ud800"'])
async def test_the_422_is_always_writable(token: str) -> None:
    # Without the middleware: the handler alone copes with what the JSON decoder let in.
    app = FastAPI()
    register_exception_handlers(app)

    @app.post("/login")
    async def login(data: Login) -> None: ...

    transport = httpx.ASGITransport(app=app, raise_app_exceptions=False)
    async with httpx.AsyncClient(transport=transport, base_url="http://test") as client:
        response = await client.post(
            "/login",
            content=f'{{"email": {token}, "password": "long enough"}}',
            headers={"Content-Type": "application/json"},
        )
    assert response.status_code == 422, response.text
    (error,) = response.json()["details"]["errors"]
    assert error["loc"] == ["body", "email"]
    assert isinstance(error["input"], str)


# -- what the database drivers say -----------------------------------------------------------


@pytest.mark.parametrize("value", ["a\x00b", "\ud800"], ids=["nul", "surrogate"])
async def test_the_drivers_refusals_are_recognised(database_url: str, value: str) -> None:
    from sqlalchemy import text
    from sqlalchemy.ext.asyncio import create_async_engine

    from tempest.api.exception_handlers import is_unstorable_text_error

    engine = create_async_engine(database_url)
    try:
        async with engine.connect() as connection:
            await connection.execute(text("SELECT :value"), {"value": value})
    except Exception as error:
        assert is_unstorable_text_error(error), repr(error)
    else:
        assert database_url.startswith("sqlite") and value == "a\x00b"  # SQLite stores NUL
    finally:
        await engine.dispose()


def test_other_errors_are_not_mistaken_for_text() -> None:
    from sqlalchemy.exc import IntegrityError

    from tempest.api.exception_handlers import is_unstorable_text_error

    assert not is_unstorable_text_error(IntegrityError("INSERT", {}, Exception("duplicate")))
    not_ascii = UnicodeEncodeError("ascii", "é", 0, 1, "ordinal not in range(128)")
    assert not is_unstorable_text_error(not_ascii)
