"""The spec's spelling of the throttle: ``check()`` answers a ThrottleStatus, and
``RedisThrottleBackend(redis_manager=...)`` reads its client from a Redis manager."""

from __future__ import annotations

import uuid

import pytest

from tempest.cache import AsyncRedisManager
from tempest.utils.throttle import (
    AttemptThrottle,
    MemoryThrottleBackend,
    RedisThrottleBackend,
    ThrottleResult,
    ThrottleStatus,
    ThrottleUnavailableError,
)
from tests.conftest import service_url

pytestmark = pytest.mark.anyio


@pytest.fixture
def anyio_backend() -> str:
    return "asyncio"


async def test_check_answers_the_status_so_that_is_locked_locks_the_user_out() -> None:
    throttle = AttemptThrottle(MemoryThrottleBackend(), max_attempts=2)
    assert await throttle.check("login:ana") is ThrottleStatus.ALLOWED
    await throttle.record_failure("login:ana")
    assert await throttle.check("login:ana") is ThrottleStatus.ALLOWED
    await throttle.record_failure("login:ana")
    status = await throttle.check("login:ana")
    assert status is ThrottleStatus.LOCKED


async def test_inspect_keeps_the_detailed_result() -> None:
    throttle = AttemptThrottle(MemoryThrottleBackend(), max_attempts=3, lock_seconds=60)
    assert await throttle.inspect("k") == ThrottleResult(ThrottleStatus.ALLOWED, 3, 0)
    await throttle.record_failure("k")
    assert await throttle.inspect("k") == ThrottleResult(ThrottleStatus.ALLOWED, 2, 0)
    for _ in range(2):
        await throttle.record_failure("k")
    result = await throttle.inspect("k")
    assert result.locked and result.status is ThrottleStatus.LOCKED
    assert result.attempts_left == 0 and 59 <= result.retry_after_seconds <= 60


async def test_check_refuses_a_bad_key_like_inspect() -> None:
    with pytest.raises(ValueError, match="must not be empty"):
        await AttemptThrottle().check("")
    with pytest.raises(TypeError, match="must be a string"):
        await AttemptThrottle().inspect(42)  # type: ignore[arg-type]


def _redis_url() -> str:
    return service_url("TEMPEST_TEST_REDIS_URL")


async def test_redis_backend_takes_a_redis_manager_connected_later() -> None:
    manager = AsyncRedisManager(_redis_url())
    prefix = f"tempest-test:throttle:{uuid.uuid4().hex}:"
    # Built at import time in the spec's recipe, before the lifespan connects the manager.
    throttle = AttemptThrottle(
        backend=RedisThrottleBackend(redis_manager=manager, prefix=prefix),
        max_attempts=2,
        window_seconds=300,
        lock_seconds=900,
    )
    with pytest.raises(ThrottleUnavailableError, match=r"not connected.*connect\(\)"):
        await throttle.check("login:ana")
    await manager.connect()
    try:
        assert await throttle.check("login:ana") is ThrottleStatus.ALLOWED
        await throttle.record_failure("login:ana")
        await throttle.record_failure("login:ana")
        assert await throttle.check("login:ana") is ThrottleStatus.LOCKED
        await throttle.reset("login:ana")
        assert await throttle.check("login:ana") is ThrottleStatus.ALLOWED
        assert (await throttle.attempt("login:bob")).status is ThrottleStatus.ALLOWED
    finally:
        keys = [key async for key in manager.client.scan_iter(match=prefix + "*")]
        if keys:
            await manager.client.delete(*keys)
        await manager.disconnect()


async def test_redis_backend_follows_a_reconnected_manager() -> None:
    manager = AsyncRedisManager(_redis_url())
    prefix = f"tempest-test:throttle:{uuid.uuid4().hex}:"
    backend = RedisThrottleBackend(redis_manager=manager, prefix=prefix)
    throttle = AttemptThrottle(backend, max_attempts=1)
    await manager.connect()
    await throttle.record_failure("k")
    await manager.disconnect()
    await manager.connect()  # a new client: the scripts are registered on it again
    try:
        assert await throttle.check("k") is ThrottleStatus.LOCKED
        await backend.aclose()  # the manager's client is the manager's to close
        assert await manager.health_check()
    finally:
        await manager.client.delete(*(await manager.client.keys(prefix + "*")))
        await manager.disconnect()


def test_redis_backend_needs_exactly_one_of_client_and_manager() -> None:
    from redis.asyncio import Redis

    with pytest.raises(TypeError, match="either a client or redis_manager="):
        RedisThrottleBackend()
    client = Redis.from_url("redis://127.0.0.1:6379/0")
    with pytest.raises(TypeError, match="either a client or redis_manager="):
        RedisThrottleBackend(client, redis_manager=AsyncRedisManager("redis://127.0.0.1"))
    with pytest.raises(TypeError, match=r"redis_manager must have a \.client"):
        RedisThrottleBackend(redis_manager="redis://localhost")  # type: ignore[arg-type]
