"""The project's cache: chosen by settings, started by the lifespan, checked by readiness."""

from __future__ import annotations

import textwrap
import uuid
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import httpx
import pytest
from pydantic import ValidationError

from tempest.apps import apps
from tempest.cache import (
    AsyncRedisManager,
    MemoryCacheBackend,
    RedisCacheBackend,
    cached,
    get_cache,
    reset_cache,
)
from tempest.conf import Settings, settings
from tempest.core.asgi import get_asgi_application
from tempest.db import reset_database
from tests.cache.conftest import forget_prefix
from tests.services import PrivateRedis

pytestmark = [pytest.mark.anyio, pytest.mark.usefixtures("restore_root_logging")]

ROUTERS = """
from fastapi import APIRouter

from tempest.cache import cached_route

router = APIRouter()
CALLS = []


@router.get("/menu")
@cached_route(ttl=60, tags=["menu"])
async def menu() -> dict[str, int]:
    CALLS.append(1)
    return {"calls": len(CALLS)}
"""


@pytest.fixture
def build(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Iterator[Callable[..., Any]]:
    """Build the app of an ad-hoc app package with one cached route, from settings values."""
    monkeypatch.syspath_prepend(str(tmp_path))

    def make(**values: Any) -> Any:
        name = f"menus_{uuid.uuid4().hex[:8]}"
        (tmp_path / name).mkdir()
        (tmp_path / name / "__init__.py").write_text("")
        (tmp_path / name / "routers.py").write_text(textwrap.dedent(ROUTERS))
        values.setdefault("DATABASE_URL", f"sqlite+aiosqlite:///{tmp_path / 'db.sqlite3'}")
        settings.configure(Settings(INSTALLED_APPS=[name], **values))  # type: ignore[attr-defined]
        reset_cache()
        return get_asgi_application(), name

    yield make
    reset_cache()
    apps.reset()
    settings.reset()  # type: ignore[attr-defined]
    reset_database()


async def _get(app: Any, path: str) -> httpx.Response:
    transport = httpx.ASGITransport(app=app)
    async with httpx.AsyncClient(transport=transport, base_url="http://test") as http:
        return await http.get(path)


@pytest.mark.parametrize(
    ("values", "kind"),
    [
        ({}, MemoryCacheBackend),
        ({"REDIS_URL": "redis://127.0.0.1:6379/3"}, RedisCacheBackend),
        ({"REDIS_URL": "redis://127.0.0.1:6379/3", "CACHE_URL": "memory://"}, MemoryCacheBackend),
        ({"CACHE_URL": "redis://127.0.0.1:6379/3"}, RedisCacheBackend),
    ],
    ids=["nothing", "redis-url", "explicit-memory", "own-url"],
)
async def test_the_cache_follows_cache_url_then_redis_url(
    values: dict[str, Any], kind: type
) -> None:
    settings.configure(Settings(**values))  # type: ignore[attr-defined]
    reset_cache()
    try:
        backend = get_cache()
        assert type(backend) is kind
        assert backend.prefix == "tempest:cache:"
        await backend.aclose()
    finally:
        reset_cache()
        settings.reset()  # type: ignore[attr-defined]


def test_a_cache_url_of_another_scheme_is_refused() -> None:
    with pytest.raises(ValidationError, match="CACHE_URL"):
        Settings(CACHE_URL="memcached://localhost")
    with pytest.raises(ValidationError, match="CACHE_TTL_SECONDS"):
        Settings(CACHE_TTL_SECONDS=-1)


async def test_a_memory_cache_is_not_a_readiness_check(build: Any) -> None:
    app, name = build()
    async with app.router.lifespan_context(app):
        assert (await _get(app, f"/api/{name}/menu")).json() == {"calls": 1}
        assert (await _get(app, f"/api/{name}/menu")).json() == {"calls": 1}
        readiness = await _get(app, "/health/readiness")
        assert "cache" not in readiness.json()["checks"]


async def test_a_redis_cache_is_connected_checked_and_closed(
    build: Any, redis_url: str, prefix: str
) -> None:
    app, name = build(REDIS_URL=redis_url, CACHE_KEY_PREFIX=prefix)
    try:
        async with app.router.lifespan_context(app):
            backend = get_cache()
            assert isinstance(backend, RedisCacheBackend)
            assert (await _get(app, f"/api/{name}/menu")).json() == {"calls": 1}
            assert (await _get(app, f"/api/{name}/menu")).json() == {"calls": 1}
            readiness = await _get(app, "/health/readiness")
            assert readiness.json()["checks"]["cache"] == "ok"
        assert get_cache() is not backend  # closed and forgotten at shutdown
    finally:
        reset_cache()
        await forget_prefix(redis_url, prefix)


async def test_redis_down_fails_readiness_but_never_a_request(
    build: Any, private_redis: PrivateRedis
) -> None:
    app, name = build(REDIS_URL=private_redis.url)
    async with app.router.lifespan_context(app):
        assert (await _get(app, f"/api/{name}/menu")).json() == {"calls": 1}
        private_redis.kill()
        down = [await _get(app, f"/api/{name}/menu") for _ in range(2)]
        assert [answer.status_code for answer in down] == [200, 200]
        assert [answer.json()["calls"] for answer in down] == [2, 3]  # bypassed: ran each time
        readiness = await _get(app, "/health/readiness")
        assert readiness.status_code == 503
        assert readiness.json()["checks"]["cache"] == "failing"


async def test_the_redis_manager_surface(redis_url: str, prefix: str) -> None:
    manager = AsyncRedisManager(redis_url, key_prefix=prefix)
    assert "AsyncRedisManager('redis://" in repr(manager)
    with pytest.raises(RuntimeError, match="not connected"):
        _ = manager.client
    assert await manager.health_check() is False
    await manager.connect()
    try:
        await manager.client.set(f"{prefix}name", "Ana", ex=30)
        assert await manager.client.get(f"{prefix}name") == "Ana"  # decode_responses
        async with manager.get_client_context() as client:
            assert client is manager.client
        dependency = manager.client_dependency()
        assert await anext(dependency) is manager.client
        assert await manager.health_check() is True

        calls = 0

        @cached(manager, ttl=30)
        async def greeting() -> str:
            nonlocal calls
            calls += 1
            return "hello"

        assert await greeting() == await greeting() == "hello"
        assert calls == 1
        assert manager.cache_backend.prefix == prefix
    finally:
        await manager.disconnect()
        await manager.disconnect()  # twice is fine
        await forget_prefix(redis_url, prefix)
