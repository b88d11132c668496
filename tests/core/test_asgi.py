"""get_asgi_application(): middleware from settings, error envelope, health, app routers."""

from __future__ import annotations

import textwrap
import uuid
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import httpx
import pytest

from tempest.apps import apps
from tempest.conf import ImproperlyConfigured, Settings, settings
from tempest.core.asgi import get_asgi_application
from tempest.db import reset_database

Build = Callable[..., Any]
pytestmark = pytest.mark.usefixtures("restore_root_logging")


@pytest.fixture
def build(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Iterator[Build]:
    """Build the app from an ad-hoc app package and settings values."""
    monkeypatch.syspath_prepend(str(tmp_path))
    monkeypatch.chdir(tmp_path)

    def make(routers: str | None = None, **values: Any) -> Any:
        installed = []
        if routers is not None:
            name = f"web_{uuid.uuid4().hex[:8]}"
            (tmp_path / name).mkdir()
            (tmp_path / name / "__init__.py").write_text("")
            (tmp_path / name / "routers.py").write_text(textwrap.dedent(routers))
            installed.append(name)
        values.setdefault("DATABASE_URL", f"sqlite+aiosqlite:///{tmp_path / 'db.sqlite3'}")
        settings.configure(Settings(INSTALLED_APPS=installed, **values))  # type: ignore[attr-defined]
        return get_asgi_application()

    yield make
    apps.reset()
    settings.reset()  # type: ignore[attr-defined]
    reset_database()


def client(app: Any) -> httpx.AsyncClient:
    transport = httpx.ASGITransport(app=app, raise_app_exceptions=False)
    return httpx.AsyncClient(transport=transport, base_url="http://test")


ROUTERS = """
from fastapi import APIRouter

from tempest.exceptions import NotFoundException

router = APIRouter()


@router.get("/hello")
async def hello() -> dict[str, str]:
    return {"hello": "world"}


@router.get("/missing")
async def missing() -> None:
    raise NotFoundException("No such thing", code="THING_NOT_FOUND", details={"id": 7})


@router.get("/crash")
async def crash() -> None:
    raise ZeroDivisionError("secret detail")
"""


@pytest.mark.anyio
async def test_app_routes_are_mounted_under_api_label(build: Build) -> None:
    app = build(ROUTERS, TITLE="Shop", VERSION="2.0.0", DESCRIPTION="The shop API")
    label = apps.get_app_configs()[0].label
    async with client(app) as http:
        response = await http.get(f"/api/{label}/hello")
        assert response.json() == {"hello": "world"}
        info = (await http.get("/openapi.json")).json()["info"]
    assert info == {"title": "Shop", "version": "2.0.0", "description": "The shop API"}


@pytest.mark.anyio
async def test_error_envelope_and_request_id(build: Build) -> None:
    app = build(ROUTERS)
    label = apps.get_app_configs()[0].label
    async with client(app) as http:
        response = await http.get(f"/api/{label}/missing", headers={"X-Request-ID": "abc-123"})
        assert response.status_code == 404
        assert response.json() == {
            "detail": "No such thing",
            "code": "THING_NOT_FOUND",
            "details": {"id": 7},
        }
        assert response.headers["x-request-id"] == "abc-123"
        generated = await http.get("/health/liveness")
        assert len(generated.headers["x-request-id"]) == 32


@pytest.mark.anyio
async def test_500_hides_the_traceback_unless_debug(build: Build) -> None:
    app = build(ROUTERS)
    label = apps.get_app_configs()[0].label
    async with client(app) as http:
        response = await http.get(f"/api/{label}/crash", headers={"X-Request-ID": "req-500"})
    assert response.status_code == 500
    assert response.headers["x-request-id"] == "req-500"
    assert response.json() == {
        "detail": "Internal server error",
        "code": "INTERNAL_SERVER_ERROR",
        "details": {},
    }
    assert "secret detail" not in response.text


@pytest.mark.anyio
async def test_500_shows_the_traceback_in_debug(build: Build) -> None:
    app = build(ROUTERS, DEBUG=True)
    label = apps.get_app_configs()[0].label
    async with client(app) as http:
        response = await http.get(f"/api/{label}/crash")
    assert response.status_code == 500
    assert "ZeroDivisionError: secret detail" in response.json()["details"]["exception"]


@pytest.mark.anyio
async def test_cors_follows_settings(build: Build) -> None:
    app = build(ROUTERS, CORS_ORIGINS=["https://shop.example"])
    async with client(app) as http:
        preflight = await http.options(
            "/health/liveness",
            headers={"Origin": "https://shop.example", "Access-Control-Request-Method": "GET"},
        )
        other = await http.get("/health/liveness", headers={"Origin": "https://evil.example"})
    assert preflight.headers["access-control-allow-origin"] == "https://shop.example"
    assert "access-control-allow-origin" not in other.headers


MIDDLEWARE_MODULE = """
class Tag:
    def __init__(self, app, tag="plain"):
        self.app, self.tag = app, tag.encode()

    @classmethod
    def from_settings(cls, app, settings):
        return cls(app, tag=settings.TITLE)

    async def __call__(self, scope, receive, send):
        async def tagged(message):
            if message["type"] == "http.response.start":
                message.setdefault("headers", []).append((b"x-tag", self.tag))
            await send(message)

        await self.app(scope, receive, tagged)


class Outer(Tag):
    from_settings = None

    def __init__(self, app):
        super().__init__(app, tag="outer")
"""


@pytest.mark.anyio
async def test_middleware_setting_order_and_from_settings(build: Build, tmp_path: Path) -> None:
    (tmp_path / "my_middleware.py").write_text(MIDDLEWARE_MODULE)
    app = build(
        ROUTERS,
        TITLE="from-settings",
        MIDDLEWARE=["my_middleware.Outer", "my_middleware.Tag"],
    )
    async with client(app) as http:
        response = await http.get("/health/liveness")
    # The inner middleware adds its header first; the outer one appends after it.
    assert response.headers.get_list("x-tag") == ["from-settings", "outer"]
    assert "x-request-id" not in response.headers


def test_unknown_middleware_is_a_clear_error(build: Build) -> None:
    with pytest.raises(ImproperlyConfigured, match=r"MIDDLEWARE entry 'nope\.Middleware'"):
        build(ROUTERS, MIDDLEWARE=["nope.Middleware"])


def test_routers_module_without_router(build: Build) -> None:
    with pytest.raises(ImproperlyConfigured, match="must define `router`"):
        build("routes = []\n")


@pytest.mark.anyio
async def test_readiness_checks_the_database(build: Build) -> None:
    app = build(ROUTERS)
    async with client(app) as http, app.router.lifespan_context(app):
        response = await http.get("/health/readiness")
    assert response.status_code == 200
    assert response.json()["checks"] == {"database": "ok"}
