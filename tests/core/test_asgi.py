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


NESTED_ROUTERS = """
from fastapi import APIRouter, Body, Depends, Header, Request
from fastapi.responses import JSONResponse, PlainTextResponse
from starlette.responses import Response

from tempest.exceptions import ForbiddenException


def needs_key(x_key: str = Header(default="")) -> None:
    if x_key != "open":
        raise ForbiddenException("Key required", code="KEY_REQUIRED")


inner = APIRouter(
    tags=["inner"],
    responses={418: {"description": "Teapot"}},
    max_body_size=16,
    default_response_class=JSONResponse,
)


@inner.get("/item/{item_id}", name="item-detail")
async def item(item_id: int, request: Request) -> dict[str, object]:
    return {"id": item_id, "url": str(request.url_for("item-detail", item_id=item_id))}


@inner.post("/echo")
async def echo(text: str = Body(embed=True)) -> dict[str, str]:
    return {"text": text}


async def plain(request: Request) -> Response:
    return PlainTextResponse("plain")


router = APIRouter(default_response_class=PlainTextResponse)
router.include_router(inner, prefix="/inner", dependencies=[Depends(needs_key)])
router.add_route("/plain", plain, methods=["GET"], name="plain")


@router.get("/text")
async def text() -> str:
    return "text"
"""


@pytest.mark.anyio
async def test_app_routers_are_mounted_flat_with_what_inclusion_gives(build: Build) -> None:
    """App routers land in the app's own route table (no lazy inclusion to walk per
    request), keeping what FastAPI's inclusion resolves: prefixes, dependencies, tags,
    responses, the default response class, body limits, route names for url_for."""
    from fastapi import routing as fastapi_routing

    app = build(NESTED_ROUTERS)
    label = apps.get_app_configs()[0].label
    included = getattr(fastapi_routing, "_IncludedRouter", ())
    assert not [route for route in app.router.routes if isinstance(route, included)]
    paths = [getattr(route, "path", None) for route in app.router.routes]
    assert f"/api/{label}/inner/item/{{item_id}}" in paths
    assert paths.index(f"/api/{label}/text") < paths.index("/health/liveness")
    async with client(app) as http:
        refused = await http.get(f"/api/{label}/inner/item/3")
        assert refused.status_code == 403
        assert refused.json()["code"] == "KEY_REQUIRED"
        found = await http.get(f"/api/{label}/inner/item/3", headers={"X-Key": "open"})
        assert found.json() == {"id": 3, "url": f"http://test/api/{label}/inner/item/3"}
        url = f"/api/{label}/inner/echo"
        short = await http.post(url, json={"text": "ok"}, headers={"X-Key": "open"})
        assert short.json() == {"text": "ok"}
        long = await http.post(url, json={"text": "x" * 20}, headers={"X-Key": "open"})
        assert long.status_code == 413
        text = await http.get(f"/api/{label}/text")
        assert text.headers["content-type"].startswith("text/plain") and text.text == "text"
        assert (await http.get(f"/api/{label}/plain")).text == "plain"
        operation = (await http.get("/openapi.json")).json()["paths"][
            f"/api/{label}/inner/item/{{item_id}}"
        ]["get"]
    assert operation["tags"] == [label, "inner"]
    assert "418" in operation["responses"]
    assert app.url_path_for("item-detail", item_id=5) == f"/api/{label}/inner/item/5"


TELEMETRY_SCRIPT = """
import sys
from opentelemetry import trace
from starlette.testclient import TestClient
from tempest.conf import Settings, settings
from tempest.core.asgi import get_asgi_application

spans = []
lookups = []


class Tracer(trace.NoOpTracer):
    def start_span(self, name, *args, **kwargs):
        spans.append(name)
        return super().start_span(name, *args, **kwargs)


class Provider(trace.TracerProvider):
    def get_tracer(self, *args, **kwargs):
        return Tracer()


lookup = trace.get_tracer_provider
trace.get_tracer_provider = lambda: lookups.append(1) or lookup()
when = sys.argv[1]
settings.configure(Settings(INSTALLED_APPS=[], DATABASE_URL=sys.argv[2], ALLOWED_HOSTS=["*"]))
if when == "before":
    trace.set_tracer_provider(Provider())
app = get_asgi_application()
if when == "after":
    trace.set_tracer_provider(Provider())
with TestClient(app) as http:
    lookups.clear()  # start-up looks once; requests must not
    for _ in range(3):
        assert http.get("/health/liveness").status_code == 200
print(len(spans), len(lookups))
"""


@pytest.mark.parametrize(
    ("when", "traced"),
    [("never", False), ("before", True), ("after", True)],
)
def test_telemetry_costs_nothing_until_a_provider_is_configured(
    tmp_path: Path, when: str, traced: bool
) -> None:
    """With no OpenTelemetry provider, requests skip FastAPI's per-request provider
    lookups; one configured before the build, or after it but before start-up, still
    gets FastAPI's request spans."""
    import subprocess
    import sys

    url = f"sqlite+aiosqlite:///{tmp_path / 'db.sqlite3'}"
    result = subprocess.run(
        [sys.executable, "-c", TELEMETRY_SCRIPT, when, url],
        capture_output=True,
        text=True,
        cwd=tmp_path,
        timeout=120,
        check=False,
    )
    assert result.returncode == 0, result.stderr[-2000:]
    spans, lookups = map(int, result.stdout.split()[-2:])
    if traced:
        assert spans >= 3
    else:
        assert (spans, lookups) == (0, 0)
