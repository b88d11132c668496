"""State shared by every worker follows REDIS_URL: throttles, signed-out sessions, the lease."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

from tempest.conf import Settings, settings
from tempest.conf.shared_state import in_memory_shared_state
from tempest.contrib.admin.sessions import (
    MemoryRevokedSessions,
    RedisRevokedSessions,
    revoked_sessions_from_url,
)
from tempest.contrib.auth.throttling import build_sign_in_throttle
from tempest.tasks.lease import PostgresLease, RedisLease, scheduler_lease
from tempest.utils.throttle import MemoryThrottleBackend, RedisThrottleBackend
from tests.services import PrivateRedis, private_redis

__all__ = ["private_redis"]

REDIS = "redis://127.0.0.1:6379/9"


@pytest.fixture
def configure() -> Iterator[Any]:
    def apply(**values: Any) -> None:
        settings.configure(Settings(**values))  # type: ignore[attr-defined]

    yield apply
    settings.reset()  # type: ignore[attr-defined]


@pytest.mark.parametrize(
    ("values", "backend"),
    [
        ({}, MemoryThrottleBackend),
        ({"REDIS_URL": REDIS}, RedisThrottleBackend),
        ({"REDIS_URL": REDIS, "AUTH_THROTTLE_URL": "memory://"}, MemoryThrottleBackend),
        ({"AUTH_THROTTLE_URL": REDIS}, RedisThrottleBackend),
    ],
    ids=["nothing", "redis-url", "explicit-memory", "own-url"],
)
@pytest.mark.anyio
async def test_the_sign_in_throttle_follows_redis_url(
    values: dict[str, Any], backend: type
) -> None:
    throttle = build_sign_in_throttle(Settings(**values))
    try:
        assert type(throttle.accounts.backend) is backend
    finally:
        await throttle.aclose()


@pytest.mark.parametrize(
    ("values", "store"),
    [
        ({}, MemoryRevokedSessions),
        ({"REDIS_URL": REDIS}, RedisRevokedSessions),
        ({"REDIS_URL": REDIS, "ADMIN_REVOKED_SESSIONS_URL": "memory://"}, MemoryRevokedSessions),
        ({"ADMIN_REVOKED_SESSIONS_URL": ""}, MemoryRevokedSessions),
    ],
    ids=["nothing", "redis-url", "explicit-memory", "empty-as-before"],
)
def test_signed_out_admin_sessions_follow_redis_url(values: dict[str, Any], store: type) -> None:
    from tempest.conf import shared_state_url

    configured = Settings(**values)
    url = shared_state_url(configured, configured.ADMIN_REVOKED_SESSIONS_URL)
    assert type(revoked_sessions_from_url(url)) is store


def test_the_scheduler_lease_falls_back_to_redis_url(configure: Any) -> None:
    database = "postgresql+asyncpg://u@127.0.0.1:5432/app"
    configure(DATABASE_URL=database)
    assert isinstance(scheduler_lease(), PostgresLease)
    configure(DATABASE_URL=database, REDIS_URL=REDIS)
    lease = scheduler_lease()
    assert isinstance(lease, RedisLease)
    assert "6379" in str(lease)
    configure(DATABASE_URL="sqlite+aiosqlite:///x.db")
    assert scheduler_lease() is None


def test_serve_names_the_state_that_stays_in_memory() -> None:
    apps = ["tempest.contrib.auth", "tempest.contrib.admin"]
    limited = ["tempest.api.middleware.RateLimitMiddleware"]
    assert in_memory_shared_state(Settings()) == []
    assert in_memory_shared_state(Settings(INSTALLED_APPS=apps)) == [
        "AUTH_THROTTLE_URL",
        "ADMIN_REVOKED_SESSIONS_URL",
    ]
    # A limiter in MIDDLEWARE but switched off keeps nothing.
    assert in_memory_shared_state(Settings(MIDDLEWARE=limited)) == []
    assert in_memory_shared_state(Settings(MIDDLEWARE=limited, RATE_LIMIT_REQUESTS=5)) == [
        "RATE_LIMIT_URL"
    ]
    everything = Settings(
        INSTALLED_APPS=apps, MIDDLEWARE=limited, RATE_LIMIT_REQUESTS=5, REDIS_URL=REDIS
    )
    assert in_memory_shared_state(everything) == []
    assert in_memory_shared_state(
        Settings(INSTALLED_APPS=apps, REDIS_URL=REDIS, AUTH_THROTTLE_URL="memory://")
    ) == ["AUTH_THROTTLE_URL"]


@pytest.mark.anyio
async def test_the_app_closes_the_shared_state_clients_at_shutdown(
    private_redis: PrivateRedis, tmp_path: Path
) -> None:
    from redis.asyncio import Redis

    from tempest.apps import apps
    from tempest.contrib.auth.throttling import get_sign_in_throttle
    from tempest.core.asgi import get_asgi_application
    from tempest.db import reset_database

    settings.configure(  # type: ignore[attr-defined]
        Settings(
            INSTALLED_APPS=["tempest.contrib.auth", "tempest.contrib.admin"],
            DATABASE_URL=f"sqlite+aiosqlite:///{tmp_path / 'db.sqlite3'}",
            REDIS_URL=private_redis.url,
            JWT_SECRET="j" * 64,
            SECRET_KEY="k" * 64,
        )
    )
    observer = Redis.from_url(private_redis.url)
    try:
        app = get_asgi_application()
        async with app.router.lifespan_context(app):
            backend = get_sign_in_throttle().accounts.backend
            assert isinstance(backend, RedisThrottleBackend)  # REDIS_URL, nothing else set
            await backend.check("someone", window_seconds=60)  # opens a connection
            # The throttle's, and the cache's and feature flags' (REDIS_URL too).
            assert len(await observer.client_list()) >= 3
        assert len(await observer.client_list()) == 1  # the observer alone
    finally:
        await observer.aclose()
        apps.reset()
        settings.reset()  # type: ignore[attr-defined]
        reset_database()
