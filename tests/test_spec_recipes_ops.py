"""The spec's operational recipes (tempest-fastapi-sdk 0.72.0 README), run as written.

"Reading logs over HTTP" (``make_logs_router``), the "Tool-spec router recipe", the
"Application bootstrap recipe" (logging, database, Redis, health, logs and token-guarded
routes in one ``create_app()``) and the "Web Push notifications recipe" (against the
loopback push service of tests/contrib/webpush, which decrypts what it receives like a
browser). Replacements are those of tests/spec_recipes.py, plus the ``replace=`` pairs
stated beside each snippet.
"""

from __future__ import annotations

import asyncio
import logging
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import httpx
import pytest
from fastapi import APIRouter, FastAPI

from tests.conftest import service_url
from tests.spec_recipes import run

pytestmark = pytest.mark.anyio

TOKEN = "t" * 40


@pytest.fixture
def anyio_backend() -> str:
    return "asyncio"


@pytest.fixture
def root_logging() -> Iterator[None]:
    """Put the root logger back as it was (configure_logging replaces its handlers)."""
    root = logging.getLogger()
    handlers, level = root.handlers[:], root.level
    yield
    for handler in root.handlers[:]:
        if handler not in handlers:
            root.removeHandler(handler)
            handler.close()
    root.handlers[:] = handlers
    root.setLevel(level)


def client_for(app: FastAPI) -> httpx.AsyncClient:
    return httpx.AsyncClient(transport=httpx.ASGITransport(app=app), base_url="http://test")


# --- Reading logs over HTTP -----------------------------------------------------------------

LOGS_ROUTER = """
from tempest_fastapi_sdk import make_logs_router

app.include_router(
    make_logs_router(log_dir="logs", token_secret=settings.TOKEN_SECRET),
)
"""


async def test_reading_logs_over_http_recipe(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, root_logging: None
) -> None:
    from types import SimpleNamespace

    from tempest import configure_logging, register_exception_handlers

    monkeypatch.chdir(tmp_path)
    configure_logging(level="INFO", json_output=True, log_dir="logs")
    log = logging.getLogger("app.orders")
    for level, message in (
        (logging.INFO, "order placed"),
        (logging.ERROR, "gateway timeout while charging"),
        (logging.ERROR, "card declined"),
    ):
        log.log(level, message)
        await asyncio.sleep(0.003)  # the lines carry milliseconds: keep their order plain

    app = FastAPI()  # the tutorial's create_app() registers the exception handlers
    register_exception_handlers(app)
    settings = SimpleNamespace(TOKEN_SECRET=TOKEN)
    await run(LOGS_ROUTER, {"app": app, "settings": settings}, title="Reading logs over HTTP")
    async with client_for(app) as client:
        assert (await client.get("/logs")).status_code == 401
        latest = await client.get("/logs", headers={"X-Token": TOKEN})
        assert latest.status_code == 200, latest.text
        items = latest.json()["items"]
        messages = [item["message"] for item in items if item["logger"] == "app.orders"]
        assert messages[:3] == ["card declined", "gateway timeout while charging", "order placed"]
        errors = await client.get(
            "/logs",
            params={"source": "error", "q": "TIMEOUT", "start": "2000-05-31T00:00:00Z"},
            headers={"X-Token": TOKEN},
        )
        assert [item["message"] for item in errors.json()["items"]] == [
            "gateway timeout while charging"
        ]
        page = await client.get(
            "/logs", params={"source": "500", "page_size": 50}, headers={"X-Token": TOKEN}
        )
        assert page.status_code == 200 and page.json()["items"] == []
        unknown = await client.get("/logs", params={"source": "../etc"}, headers={"X-Token": TOKEN})
        assert unknown.status_code == 422


# --- Tool-spec router recipe ----------------------------------------------------------------

TOOL_SPEC = """
# src/api/app.py
from tempest_fastapi_sdk import (
    make_health_router,
    make_tool_spec_router,
)


def _tool_spec() -> dict[str, object]:
    \"\"\"Computed per request — keeps version + counts in sync with state.\"\"\"
    return {
        "service": "my-service",
        "version": settings.VERSION,
        "tools": [
            {"path": "/api/users", "method": "GET", "summary": "List users"},
            {"path": "/api/orders", "method": "POST", "summary": "Place order"},
        ],
    }


def create_app() -> FastAPI:
    app = FastAPI(...)
    app.include_router(make_health_router(db=db))
    app.include_router(make_tool_spec_router(_tool_spec))
    ...
    return app
"""

# The spec elides the app's arguments and the rest of create_app().
ELIDED_APP = (("FastAPI(...)", "FastAPI()"), ("    ...\n", ""))


async def test_tool_spec_router_recipe() -> None:
    from types import SimpleNamespace

    from tempest import AsyncDatabaseManager

    settings = SimpleNamespace(VERSION="1.2.3")
    db = AsyncDatabaseManager("sqlite+aiosqlite:///:memory:")
    await db.connect()
    try:
        names = await run(
            TOOL_SPEC,
            {"settings": settings, "db": db, "FastAPI": FastAPI},
            replace=ELIDED_APP,
            title="Tool-spec router recipe",
        )
        app = names["create_app"]()
        async with client_for(app) as client:
            first = (await client.get("/tool-spec")).json()
            settings.VERSION = "1.2.4"  # computed per request
            second = (await client.get("/tool-spec")).json()
            ready = await client.get("/health/readiness")
    finally:
        await db.disconnect()
    assert first["service"] == "my-service" and first["version"] == "1.2.3"
    assert [tool["path"] for tool in first["tools"]] == ["/api/users", "/api/orders"]
    assert second["version"] == "1.2.4"
    assert ready.status_code == 200


# --- Application bootstrap recipe -----------------------------------------------------------

SETTINGS = """
from pydantic import Field

from tempest_fastapi_sdk.settings import (
    BaseAppSettings,
    CORSSettings,
    DatabaseSettings,
    LogSettings,
    RedisSettings,
    TokenSettings,
)


class Settings(
    LogSettings, DatabaseSettings, RedisSettings, CORSSettings, TokenSettings, BaseAppSettings
):
    VERSION: str = Field(default="0.0.0")


settings = Settings()
"""

BOOTSTRAP = """
# src/api/app.py
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager

from fastapi import Depends, FastAPI

from tempest_fastapi_sdk import (
    AsyncDatabaseManager,
    RequestIDMiddleware,
    apply_cors,
    configure_logging,
    make_health_router,
    make_logs_router,
    make_token_dependency,
    register_exception_handlers,
)
from tempest_fastapi_sdk.cache import AsyncRedisManager

from src.core.settings import settings


configure_logging(
    level=settings.LOG_LEVEL,
    json_output=settings.LOG_JSON,
    log_dir=settings.LOG_DIR,
)

db = AsyncDatabaseManager(
    settings.DATABASE_URL,
    echo=settings.DATABASE_ECHO,
    pool_size=settings.DATABASE_POOL_SIZE,
    max_overflow=settings.DATABASE_MAX_OVERFLOW,
    pool_recycle=settings.DATABASE_POOL_RECYCLE,
)
redis = AsyncRedisManager(settings.REDIS_URL)
require_token = make_token_dependency(settings.TOKEN_SECRET)


@asynccontextmanager
async def lifespan(_: FastAPI) -> AsyncIterator[None]:
    await db.connect()
    await redis.connect()
    try:
        yield
    finally:
        await redis.disconnect()
        await db.disconnect()


def create_app() -> FastAPI:
    \"\"\"Build and configure the FastAPI app.\"\"\"
    app = FastAPI(
        title="my-service",
        version=settings.VERSION,
        lifespan=lifespan,
    )

    app.add_middleware(RequestIDMiddleware)
    apply_cors(app, settings)
    register_exception_handlers(app)

    # Meta endpoints at the root prefix.
    app.include_router(
        make_health_router(
            db=db,
            checks={"redis": redis.health_check},
            version=settings.VERSION,
        ),
    )
    app.include_router(
        make_logs_router(
            log_dir=settings.LOG_DIR,
            token_secret=settings.TOKEN_SECRET,
        ),
    )

    # Business endpoints under /api/<domain>, guarded by the shared secret.
    from src.api.routers import users

    app.include_router(
        users.router,
        prefix="/api",
        dependencies=[Depends(require_token)],
    )
    return app


app = create_app()
"""


async def test_application_bootstrap_recipe(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, root_logging: None
) -> None:
    from types import SimpleNamespace

    monkeypatch.chdir(tmp_path)
    for name, value in {
        "DATABASE_URL": service_url("TEMPEST_TEST_DATABASE_URL"),
        "REDIS_URL": service_url("TEMPEST_TEST_REDIS_URL"),
        "TOKEN_SECRET": TOKEN,
        "LOG_DIR": str(tmp_path / "logs"),
        "LOG_JSON": "true",
        "CORS_ORIGINS": '["https://app.example.com"]',
        "VERSION": "2.0.0",
    }.items():
        monkeypatch.setenv(name, value)
    reader = await run(SETTINGS, title="src/core/settings.py")

    router = APIRouter(prefix="/users")

    @router.get("/")
    async def list_users() -> list[str]:
        logging.getLogger("app.users").warning("listing users")
        return ["ana"]

    reader["users"] = SimpleNamespace(router=router)
    names = await run(BOOTSTRAP, reader, title="src/api/app.py")
    app = names["app"]
    async with app.router.lifespan_context(app), client_for(app) as client:
        ready = await client.get("/health/readiness")
        assert ready.status_code == 200, ready.text
        assert ready.json()["checks"] == {"database": "ok", "redis": "ok"}
        live = await client.get("/health/liveness")
        assert live.json()["version"] == "2.0.0"
        assert (await client.get("/api/users/")).status_code == 401
        listed = await client.get(
            "/api/users/", headers={"X-Token": TOKEN, "X-Request-ID": "req-42"}
        )
        assert listed.json() == ["ana"] and listed.headers["X-Request-ID"] == "req-42"
        preflight = await client.options(
            "/api/users/",
            headers={
                "Origin": "https://app.example.com",
                "Access-Control-Request-Method": "GET",
            },
        )
        assert preflight.headers["access-control-allow-origin"] == "https://app.example.com"
        logs = await client.get("/logs", params={"source": "warning"}, headers={"X-Token": TOKEN})
        entry = logs.json()["items"][0]
        assert (entry["message"], entry["request_id"]) == ("listing users", "req-42")


# --- Web Push notifications recipe ----------------------------------------------------------

WEB_PUSH = """
# src/services/notifications.py
from tempest_fastapi_sdk import (
    WebPushDispatcher,
    WebPushGoneError,
    WebPushPayloadSchema,
    WebPushSubscriptionSchema,
)


dispatcher = WebPushDispatcher(
    settings.VAPID_PRIVATE_KEY,
    vapid_subject="mailto:ops@example.com",
    ttl_seconds=60,
)


async def notify_order_paid(
    subscription: WebPushSubscriptionSchema,
    order_id: str,
) -> None:
    payload = WebPushPayloadSchema(
        title="Pagamento confirmado",
        body=f"Pedido {order_id} aprovado.",
        icon="/static/icons/order.png",
        data={"orderId": order_id, "url": f"/orders/{order_id}"},
    )
    try:
        await dispatcher.send(subscription, payload)
    except WebPushGoneError:
        # Prune the subscription from your store.
        await subscriptions_repo.delete_by_endpoint(subscription.endpoint)


async def broadcast(subs: list[WebPushSubscriptionSchema], payload: WebPushPayloadSchema) -> None:
    gone = await dispatcher.send_many(subs, payload)
    if gone:
        await subscriptions_repo.delete_by_endpoints(gone)
"""


class SubscriptionStore:
    """The reader's subscription repository: the endpoints it was told to delete."""

    def __init__(self) -> None:
        self.deleted: list[str] = []

    async def delete_by_endpoint(self, endpoint: str) -> None:
        self.deleted.append(endpoint)

    async def delete_by_endpoints(self, endpoints: list[str]) -> None:
        self.deleted.extend(endpoints)


@pytest.fixture
def vapid_settings() -> Iterator[Any]:
    """DEBUG on, so the loopback push service's http:// endpoints are accepted."""
    from tempest.conf import Settings, settings
    from tempest.webpush import generate_vapid_keys

    keys = generate_vapid_keys()
    value = Settings(
        DEBUG=True, VAPID_PRIVATE_KEY=keys.private_key, VAPID_PUBLIC_KEY=keys.public_key
    )
    settings.configure(value)  # type: ignore[attr-defined]
    yield value
    settings.reset()  # type: ignore[attr-defined]


async def test_web_push_notifications_recipe(vapid_settings: Any) -> None:
    import json

    from tempest import WebPushPayloadSchema, WebPushSubscriptionSchema
    from tests.contrib.webpush.push_service import push_service

    store = SubscriptionStore()
    names = await run(
        WEB_PUSH,
        {"settings": vapid_settings, "subscriptions_repo": store},
        title="src/services/notifications.py",
    )
    dispatcher = names["dispatcher"]
    try:
        async with push_service() as service:
            # The browser's PushSubscription.toJSON(), stored verbatim.
            alice = WebPushSubscriptionSchema.model_validate(service.subscribe("alice"))
            await names["notify_order_paid"](alice, "17")
            (delivery,) = service.delivered("alice")
            assert json.loads(delivery.plaintext or b"") == {
                "title": "Pagamento confirmado",
                "body": "Pedido 17 aprovado.",
                "icon": "/static/icons/order.png",
                "data": {"orderId": "17", "url": "/orders/17"},
            }
            assert delivery.ttl == 60
            assert delivery.claims["sub"] == "mailto:ops@example.com"
            assert not service.problems

            old = WebPushSubscriptionSchema.model_validate(service.subscribe("old", status=410))
            await names["notify_order_paid"](old, "18")
            assert store.deleted == [old.endpoint]

            subs = [
                WebPushSubscriptionSchema.model_validate(service.subscribe(name, status=status))
                for name, status in (("bob", 201), ("gone", 404), ("carol", 201))
            ]
            await names["broadcast"](subs, WebPushPayloadSchema(title="Promoção"))
            assert store.deleted == [old.endpoint, subs[1].endpoint]
            assert {d.receiver for d in service.deliveries} >= {"bob", "carol"}
    finally:
        await dispatcher.aclose()


# --- Programmatic server entry point recipe -------------------------------------------------
# `python main.py` in a project written to a temporary folder: run_server starts uvicorn
# on the port SERVER_PORT names, read through the tutorial's ServerSettings.

SERVER = """
# src/server.py
from tempest_fastapi_sdk import run_server

from src.api.app import app  # noqa: F401 — re-exported for external runners
from src.core.settings import settings


def run() -> None:
    \"\"\"Start the API server programmatically.\"\"\"
    run_server("src.api.app:app", settings=settings)


__all__: list[str] = ["app", "run"]
"""

MAIN = """
# main.py
from src.server import run

if __name__ == "__main__":
    run()
"""

# The reader's app: any FastAPI app at src.api.app:app.
READER_APP = """
from fastapi import FastAPI

app = FastAPI()


@app.get("/ping")
async def ping() -> dict[str, str]:
    return {"pong": "ok"}
"""


def test_programmatic_server_entry_point_recipe(tmp_path: Path) -> None:
    import subprocess
    import sys
    import textwrap

    from tests.helpers import clean_env, free_port, stop_group, wait_for_http
    from tests.spec_recipes import apply_moves
    from tests.test_spec_recipes import TUTORIAL_SETTINGS

    files = {
        "src/__init__.py": "",
        "src/core/__init__.py": "",
        "src/api/__init__.py": "",
        "src/core/settings.py": TUTORIAL_SETTINGS,
        "src/api/app.py": READER_APP,
        "src/server.py": SERVER,
        "main.py": MAIN,
    }
    for path, source in files.items():
        target = tmp_path / path
        target.parent.mkdir(parents=True, exist_ok=True)
        target.write_text(apply_moves(textwrap.dedent(source)).lstrip(), encoding="utf-8")
    port = free_port()
    env = clean_env(
        SERVER_PORT=str(port),
        JWT_SECRET="s" * 48,
        DATABASE_URL=f"sqlite+aiosqlite:///{tmp_path / 'app.db'}",
    )
    server = subprocess.Popen(
        [sys.executable, "main.py"],
        cwd=tmp_path,
        env=env,
        stdout=subprocess.DEVNULL,
        stderr=subprocess.PIPE,
        start_new_session=True,
    )
    try:
        assert wait_for_http(f"http://127.0.0.1:{port}/ping") == b'{"pong":"ok"}'
    finally:
        stop_group(server)
        assert server.stderr is not None
        server.stderr.close()
