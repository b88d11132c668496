import asyncio
from collections.abc import AsyncIterator
from pathlib import Path

import httpx
import pytest
from fastapi import APIRouter, FastAPI

from tempest.api import HealthCheck, make_health_router
from tempest.db import AsyncDatabaseManager

pytestmark = pytest.mark.anyio


async def ok() -> bool:
    return True


async def reports_false() -> bool:
    return False


async def raises() -> bool:
    raise ConnectionError("broker unreachable")


async def hangs() -> bool:
    await asyncio.sleep(60)
    return True


async def get(router: APIRouter, path: str) -> httpx.Response:
    app = FastAPI()
    app.include_router(router)
    transport = httpx.ASGITransport(app)
    async with httpx.AsyncClient(transport=transport, base_url="http://test") as client:
        return await client.get(path)


@pytest.fixture
async def db(tmp_path: Path) -> AsyncIterator[AsyncDatabaseManager]:
    manager = AsyncDatabaseManager(f"sqlite+aiosqlite:///{tmp_path / 'health.db'}")
    await manager.connect()
    yield manager
    await manager.disconnect()


async def test_liveness_reports_the_version() -> None:
    response = await get(make_health_router(version="1.2.3"), "/health/liveness")

    assert response.status_code == 200
    assert response.json() == {"status": "ok", "version": "1.2.3"}


async def test_liveness_without_version() -> None:
    response = await get(make_health_router(), "/health/liveness")

    assert response.json() == {"status": "ok", "version": None}


async def test_readiness_without_checks_is_ok() -> None:
    response = await get(make_health_router(), "/health/readiness")

    assert response.status_code == 200
    assert response.json() == {"status": "ok", "checks": {}}


async def test_readiness_with_a_connected_database(db: AsyncDatabaseManager) -> None:
    response = await get(make_health_router(db=db, checks={"cache": ok}), "/health/readiness")

    assert response.status_code == 200
    assert response.json() == {"status": "ok", "checks": {"database": "ok", "cache": "ok"}}


async def test_readiness_with_a_disconnected_database(tmp_path: Path) -> None:
    db = AsyncDatabaseManager(f"sqlite+aiosqlite:///{tmp_path / 'never.db'}")

    response = await get(make_health_router(db=db), "/health/readiness")

    assert response.status_code == 503
    assert response.json() == {"status": "unavailable", "checks": {"database": "failing"}}


@pytest.mark.parametrize("failing", [reports_false, raises], ids=["returns-false", "raises"])
async def test_readiness_fails_when_a_check_fails(failing: HealthCheck) -> None:
    router = make_health_router(checks={"cache": ok, "queue": failing})

    response = await get(router, "/health/readiness")

    assert response.status_code == 503
    assert response.json() == {
        "status": "unavailable",
        "checks": {"cache": "ok", "queue": "failing"},
    }


async def test_readiness_fails_when_a_check_times_out() -> None:
    router = make_health_router(checks={"slow": hangs, "cache": ok}, timeout=0.05)

    response = await get(router, "/health/readiness")

    assert response.status_code == 503
    assert response.json()["checks"] == {"slow": "failing", "cache": "ok"}


async def test_checks_run_concurrently() -> None:
    # Each check waits for the other to start: run one after the other, both time out.
    first_started, second_started = asyncio.Event(), asyncio.Event()

    async def first() -> bool:
        first_started.set()
        await second_started.wait()
        return True

    async def second() -> bool:
        second_started.set()
        await first_started.wait()
        return True

    router = make_health_router(checks={"first": first, "second": second}, timeout=2)

    response = await get(router, "/health/readiness")

    assert response.status_code == 200


async def test_custom_prefix() -> None:
    router = make_health_router(prefix="/_meta")

    assert (await get(router, "/_meta/liveness")).status_code == 200
    assert (await get(router, "/health/liveness")).status_code == 404
