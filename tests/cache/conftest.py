"""Fixtures of the cache tests: a backend in memory or in the test Redis, and a clean one."""

from __future__ import annotations

import uuid
from collections.abc import AsyncIterator

import pytest

from tempest.cache import CacheBackend, MemoryCacheBackend, RedisCacheBackend
from tests.conftest import service_url
from tests.services import private_redis

__all__ = ["private_redis"]


async def forget_prefix(url: str, prefix: str) -> None:
    """Delete the keys a test wrote under its own prefix (tests may SCAN; tempest never does)."""
    from redis.asyncio import Redis

    client = Redis.from_url(url)
    try:
        keys = [key async for key in client.scan_iter(match=prefix + "*")]
        if keys:
            await client.delete(*keys)
    finally:
        await client.aclose()


@pytest.fixture
def prefix() -> str:
    """A key prefix of this test alone."""
    return f"tempest:test:{uuid.uuid4().hex[:10]}:"


@pytest.fixture
def redis_url() -> str:
    """The shared test Redis."""
    return service_url("TEMPEST_TEST_REDIS_URL")


@pytest.fixture
async def redis_backend(redis_url: str, prefix: str) -> AsyncIterator[RedisCacheBackend]:
    """A Redis backend on the test Redis, under this test's prefix; its keys removed after."""
    backend = RedisCacheBackend.from_url(redis_url, prefix=prefix)
    try:
        yield backend
    finally:
        await backend.aclose()
        await forget_prefix(redis_url, prefix)


@pytest.fixture(params=["memory", "redis"])
async def backend(request: pytest.FixtureRequest, prefix: str) -> AsyncIterator[CacheBackend]:
    """Each test twice: in memory, and in the test Redis."""
    if request.param == "memory":
        yield MemoryCacheBackend(prefix=prefix)
        return
    url = service_url("TEMPEST_TEST_REDIS_URL")
    redis = RedisCacheBackend.from_url(url, prefix=prefix)
    try:
        yield redis
    finally:
        await redis.aclose()
        await forget_prefix(url, prefix)
