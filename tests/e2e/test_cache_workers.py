"""The cache across processes: ``manage.py serve --workers 2``, the cache in Redis.

A generated project (``startapp orders``, PostgreSQL) whose cache moves to Redis with
``REDIS_URL`` alone. Its cached route is slow and writes a row each time it really runs,
so the loader's runs are counted in PostgreSQL.
"""

from __future__ import annotations

import asyncio
import uuid
from collections.abc import Iterator

import httpx
import pytest

from tests.cache.conftest import forget_prefix
from tests.conftest import service_url
from tests.helpers import manage, serve_project, tempest
from tests.services import fetch_rows, scratch_database

pytestmark = pytest.mark.e2e

REQUESTS = 100

CACHED_ROUTES = '''

# -- added by tests/e2e/test_cache_workers.py ---------------------------------------------
import asyncio
import os

from sqlalchemy import text
from sqlalchemy.ext.asyncio import AsyncSession
from tempest.cache import CacheInvalidator, cached_route
from tempest.db import get_session


@router.get("/cached/menu")
@cached_route(ttl=300, tags=["menu"])
async def cached_menu(
    controller: Controller, session: Annotated[AsyncSession, Depends(get_session)]
) -> dict[str, int]:
    """Slow on purpose: every cold request arrives while the first one loads."""
    await controller.create(OrderCreateSchema(name="cache-load"))
    await asyncio.sleep(0.5)
    loads = await session.scalar(text("SELECT count(*) FROM \\"order\\" WHERE name = 'cache-load'"))
    return {"loads": int(loads or 0)}


@router.post("/cached/invalidate")
async def invalidate_menu() -> dict[str, bool]:
    return {"done": await CacheInvalidator().invalidate_tags("menu")}


@router.get("/cached/pid")
async def worker_pid() -> dict[str, int]:
    return {"pid": os.getpid()}
'''


@pytest.fixture(scope="module")
def served(tmp_path_factory: pytest.TempPathFactory) -> Iterator[tuple[str, str]]:
    """The project served by two workers: (base URL, database URL)."""
    redis_url = service_url("TEMPEST_TEST_REDIS_URL")
    server = service_url("TEMPEST_TEST_DATABASE_URL")
    prefix = f"tempest:e2e:{uuid.uuid4().hex[:8]}:"
    root = tmp_path_factory.mktemp("cache")
    created = tempest(root, "startproject", "shop")
    assert created.returncode == 0, created.stderr
    project = root / "shop"
    app = manage(project, "startapp", "orders")
    assert app.returncode == 0, app.stderr
    routers = project / "orders" / "routers.py"
    routers.write_text(routers.read_text() + CACHED_ROUTES)
    with scratch_database(server, f"tempest_cache_{uuid.uuid4().hex[:8]}") as database_url:
        env: dict[str, str] = {
            "DATABASE_URL": database_url,
            "REDIS_URL": redis_url,
            "CACHE_KEY_PREFIX": prefix,
        }
        for step in ("makemigrations", "migrate"):
            result = manage(project, step, **env)  # type: ignore[arg-type]
            assert result.returncode == 0, result.stderr
        try:
            with serve_project(project, "serve", "--workers", "2", env=env) as (base, _):
                yield base, database_url
        finally:
            asyncio.run(forget_prefix(redis_url, prefix))


def _loads(database_url: str) -> int:
    query = "SELECT count(*) AS n FROM \"order\" WHERE name = 'cache-load'"
    return int(asyncio.run(fetch_rows(database_url, query))[0]["n"])


async def _burst(base: str) -> list[httpx.Response]:
    async def get() -> httpx.Response:
        # A client of its own: a new connection, which either worker may accept.
        async with httpx.AsyncClient(base_url=base, timeout=30) as client:
            return await client.get("/api/orders/cached/menu")

    return list(await asyncio.gather(*(get() for _ in range(REQUESTS))))


async def _one_client_per_worker(base: str) -> dict[int, httpx.AsyncClient]:
    """Keep-alive clients, each pinned to one worker by its connection."""
    pinned: dict[int, httpx.AsyncClient] = {}
    for _ in range(60):
        client = httpx.AsyncClient(base_url=base, timeout=30)
        pid = (await client.get("/api/orders/cached/pid")).json()["pid"]
        if pid in pinned:
            await client.aclose()
        else:
            pinned[pid] = client
        if len(pinned) == 2:
            return pinned
    for client in pinned.values():
        await client.aclose()
    raise AssertionError("60 new connections all reached the same worker")


def test_a_hundred_cold_requests_on_two_workers_run_the_loader_once(
    served: tuple[str, str],
) -> None:
    base, database_url = served
    responses = asyncio.run(_burst(base))
    assert {response.status_code for response in responses} == {200}
    assert {response.content for response in responses} == {b'{"loads":1}'}
    assert len({response.headers["etag"] for response in responses}) == 1
    assert _loads(database_url) == 1


def test_after_an_invalidation_every_worker_reads_a_reloaded_value(
    served: tuple[str, str],
) -> None:
    base, database_url = served

    async def scenario() -> None:
        pinned = await _one_client_per_worker(base)
        clients = list(pinned.values())
        try:
            before = [await client.get("/api/orders/cached/menu") for client in clients]
            loads = before[0].json()["loads"]
            assert [answer.json()["loads"] for answer in before] == [loads, loads]
            etag = before[0].headers["etag"]
            unchanged = await clients[1].get(
                "/api/orders/cached/menu", headers={"If-None-Match": etag}
            )
            assert unchanged.status_code == 304

            # Invalidated through one worker, then both read at once: one reload.
            assert (await clients[0].post("/api/orders/cached/invalidate")).json() == {"done": True}
            after = await asyncio.gather(
                *(
                    client.get("/api/orders/cached/menu", headers={"If-None-Match": etag})
                    for client in clients
                )
            )
            assert [answer.status_code for answer in after] == [200, 200]
            assert [answer.json()["loads"] for answer in after] == [loads + 1, loads + 1]
            assert _count_later(database_url) == loads + 1

            # Invalidated through the other worker, then read one after the other.
            await clients[1].post("/api/orders/cached/invalidate")
            again = [await client.get("/api/orders/cached/menu") for client in clients]
            assert [answer.json()["loads"] for answer in again] == [loads + 2, loads + 2]
        finally:
            for client in clients:
                await client.aclose()

    asyncio.run(scenario())
    assert _loads(database_url) >= 3


def _count_later(database_url: str) -> int:
    # Called inside the scenario's event loop: count in a thread of its own.
    import concurrent.futures

    with concurrent.futures.ThreadPoolExecutor(1) as pool:
        return pool.submit(_loads, database_url).result()
