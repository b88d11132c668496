from dataclasses import dataclass, field, replace

import httpx
import pytest
from fastapi import FastAPI
from starlette.types import ASGIApp

from tempest.api import CORSMiddleware, apply_cors

pytestmark = pytest.mark.anyio

ORIGIN = "https://app.example.com"


@dataclass(frozen=True)
class CORSConfig:
    CORS_ORIGINS: list[str] = field(default_factory=list)
    CORS_ALLOW_CREDENTIALS: bool = True
    CORS_ALLOW_METHODS: list[str] = field(default_factory=lambda: ["GET", "POST"])
    CORS_ALLOW_HEADERS: list[str] = field(default_factory=lambda: ["X-Token"])
    CORS_EXPOSE_HEADERS: list[str] = field(default_factory=lambda: ["X-Request-ID"])
    CORS_MAX_AGE: int = 300


ENABLED = CORSConfig(CORS_ORIGINS=[ORIGIN])


def build_app() -> FastAPI:
    app = FastAPI()

    @app.get("/ping")
    async def ping() -> dict[str, bool]:
        return {"pong": True}

    return app


async def call(app: ASGIApp, method: str, headers: dict[str, str]) -> httpx.Response:
    transport = httpx.ASGITransport(app)
    async with httpx.AsyncClient(transport=transport, base_url="http://test") as client:
        return await client.request(method, "/ping", headers=headers)


def test_from_settings_without_origins_returns_the_app_itself() -> None:
    app = build_app()

    assert CORSMiddleware.from_settings(app, CORSConfig()) is app


async def test_from_settings_answers_a_preflight() -> None:
    wrapped = CORSMiddleware.from_settings(build_app(), ENABLED)

    response = await call(
        wrapped,
        "OPTIONS",
        {"Origin": ORIGIN, "Access-Control-Request-Method": "POST"},
    )

    assert isinstance(wrapped, CORSMiddleware)
    assert response.status_code == 200
    assert response.headers["access-control-allow-origin"] == ORIGIN
    assert response.headers["access-control-allow-credentials"] == "true"
    assert response.headers["access-control-max-age"] == "300"
    assert response.headers["access-control-allow-methods"] == "GET, POST"
    assert "x-token" in response.headers["access-control-allow-headers"].lower()


async def test_simple_request_from_an_allowed_origin() -> None:
    response = await call(
        CORSMiddleware.from_settings(build_app(), ENABLED), "GET", {"Origin": ORIGIN}
    )

    assert response.json() == {"pong": True}
    assert response.headers["access-control-allow-origin"] == ORIGIN
    assert response.headers["access-control-expose-headers"] == "X-Request-ID"


async def test_simple_request_from_another_origin_gets_no_cors_headers() -> None:
    response = await call(
        CORSMiddleware.from_settings(build_app(), ENABLED),
        "GET",
        {"Origin": "https://evil.example.com"},
    )

    assert response.status_code == 200
    assert "access-control-allow-origin" not in response.headers


async def test_preflight_from_another_origin_is_rejected() -> None:
    response = await call(
        CORSMiddleware.from_settings(build_app(), ENABLED),
        "OPTIONS",
        {"Origin": "https://evil.example.com", "Access-Control-Request-Method": "GET"},
    )

    assert response.status_code == 400


def test_apply_cors_without_origins_adds_nothing() -> None:
    app = build_app()

    apply_cors(app, CORSConfig())

    assert app.user_middleware == []


async def test_apply_cors_adds_configured_middleware() -> None:
    app = build_app()

    apply_cors(app, ENABLED)
    response = await call(app, "GET", {"Origin": ORIGIN})

    assert len(app.user_middleware) == 1
    assert response.headers["access-control-allow-origin"] == ORIGIN


async def test_apply_cors_overrides_win_over_settings() -> None:
    app = build_app()
    other = "https://admin.example.com"

    apply_cors(app, ENABLED, allow_origins=[other], max_age=60)
    preflight = await call(
        app, "OPTIONS", {"Origin": other, "Access-Control-Request-Method": "GET"}
    )
    old_origin = await call(app, "GET", {"Origin": ORIGIN})

    assert preflight.headers["access-control-allow-origin"] == other
    assert preflight.headers["access-control-max-age"] == "60"
    assert "access-control-allow-origin" not in old_origin.headers


async def test_apply_cors_override_can_enable_cors() -> None:
    app = build_app()

    apply_cors(app, replace(ENABLED, CORS_ORIGINS=[]), allow_origin_regex=r"https://.*\.test")
    response = await call(app, "GET", {"Origin": "https://shop.test"})

    assert response.headers["access-control-allow-origin"] == "https://shop.test"
