"""Single flight, stale while revalidate, race-safe invalidation, and Redis going away.

"Two processes" here are two decorations of the same function, each with its own Redis
client and its own in-process state, as two workers have; the served test in
tests/e2e/test_cache_workers.py does the same with real processes.
"""

from __future__ import annotations

import asyncio
import logging
from collections.abc import Callable, Coroutine
from typing import Any

import pytest

from tempest.cache import (
    CacheBackend,
    CacheInvalidator,
    MemoryCacheBackend,
    RedisCacheBackend,
    cached,
)
from tempest.cache.keys import lock_key
from tests.cache.conftest import forget_prefix
from tests.services import PrivateRedis

pytestmark = pytest.mark.anyio


def _slow_counter(
    calls: list[int], seconds: float = 0.05
) -> Callable[[int], Coroutine[Any, Any, int]]:
    async def load(number: int) -> int:
        calls.append(number)
        await asyncio.sleep(seconds)
        return number * 10

    load.__qualname__ = "load"  # every decoration of it has the same key
    return load


async def test_concurrent_cold_calls_in_one_process_run_once(backend: CacheBackend) -> None:
    calls: list[int] = []
    load = cached(backend, ttl=60)(_slow_counter(calls))
    results = await asyncio.gather(*(load(7) for _ in range(100)))
    assert results == [70] * 100
    assert calls == [7]


async def test_concurrent_cold_calls_in_two_processes_run_once(redis_url: str, prefix: str) -> None:
    calls: list[int] = []
    first = RedisCacheBackend.from_url(redis_url, prefix=prefix)
    second = RedisCacheBackend.from_url(redis_url, prefix=prefix)
    try:
        workers = [
            cached(backend, ttl=60)(_slow_counter(calls, 0.2)) for backend in (first, second)
        ]
        results = await asyncio.gather(*(workers[index % 2](3) for index in range(100)))
        assert results == [30] * 100
        assert calls == [3]
    finally:
        await first.aclose()
        await second.aclose()
        await forget_prefix(redis_url, prefix)


async def test_a_loader_that_died_frees_its_lease(redis_backend: RedisCacheBackend) -> None:
    """A lease left by a crashed process expires; a waiter then loads the value itself."""
    calls: list[int] = []
    load = cached(redis_backend, ttl=60, lock_timeout=0.3)(_slow_counter(calls, 0))
    key = load.cache_key(5)  # type: ignore[attr-defined]
    assert await redis_backend.acquire(lock_key(key, redis_backend.prefix), "dead", 0.3)
    started = asyncio.get_running_loop().time()
    assert await load(5) == 50
    assert 0.2 <= asyncio.get_running_loop().time() - started < 2
    assert calls == [5]


async def test_the_lease_is_renewed_while_a_slow_loader_runs(redis_url: str, prefix: str) -> None:
    calls: list[int] = []
    first = RedisCacheBackend.from_url(redis_url, prefix=prefix)
    second = RedisCacheBackend.from_url(redis_url, prefix=prefix)
    try:
        slow = [
            cached(backend, ttl=60, lock_timeout=0.3)(_slow_counter(calls, 1.0))
            for backend in (first, second)
        ]
        leader = asyncio.create_task(slow[0](1))
        await asyncio.sleep(0.1)
        assert list(await asyncio.gather(slow[1](1), leader)) == [10, 10]
        assert calls == [1]  # the lease (0.3 s) outlived by a 1 s load was renewed
    finally:
        await first.aclose()
        await second.aclose()
        await forget_prefix(redis_url, prefix)


async def test_an_exception_reaches_every_waiter_and_is_not_cached(backend: CacheBackend) -> None:
    attempts = 0

    @cached(backend, ttl=60)
    async def flaky() -> int:
        nonlocal attempts
        attempts += 1
        await asyncio.sleep(0.02)
        if attempts == 1:
            raise RuntimeError("boom")
        return attempts

    results = await asyncio.gather(*(flaky() for _ in range(5)), return_exceptions=True)
    assert all(isinstance(result, RuntimeError) for result in results)
    assert await flaky() == 2


async def test_stale_while_revalidate_serves_the_old_value_and_reloads(
    backend: CacheBackend,
) -> None:
    version = 0

    @cached(backend, ttl=0.2, stale_ttl=5)
    async def current() -> int:
        nonlocal version
        version += 1
        await asyncio.sleep(0.05)
        return version

    assert await current() == 1
    await asyncio.sleep(0.25)  # stale now
    # One caller reloads (in its own call), the others get the stale value at once.
    assert sorted(await asyncio.gather(*(current() for _ in range(5)))) == [1, 1, 1, 1, 2]
    assert await current() == 2
    assert version == 2


async def test_stale_values_are_served_by_every_process_while_one_reloads(
    redis_url: str, prefix: str
) -> None:
    version = 0
    backends = [RedisCacheBackend.from_url(redis_url, prefix=prefix) for _ in range(2)]
    try:

        def worker(backend: CacheBackend) -> Callable[[], Coroutine[Any, Any, int]]:
            @cached(backend, ttl=0.2, stale_ttl=5)
            async def current() -> int:
                nonlocal version
                version += 1
                await asyncio.sleep(0.3)
                return version

            return current

        first, second = (worker(backend) for backend in backends)
        assert await first() == 1
        await asyncio.sleep(0.25)
        reloading = asyncio.create_task(first())
        await asyncio.sleep(0.05)
        started = asyncio.get_running_loop().time()
        assert await second() == 1  # stale, at once: the other process holds the lease
        assert asyncio.get_running_loop().time() - started < 0.2
        assert await reloading == 2
        assert await second() == 2
    finally:
        for backend in backends:
            await backend.aclose()
        await forget_prefix(redis_url, prefix)


async def test_an_invalidation_during_a_load_is_not_lost(backend: CacheBackend) -> None:
    """The value loaded before the invalidation is stored, but the next read misses."""
    release = asyncio.Event()
    loaded: list[str] = []

    @cached(backend, ttl=60, tags=["prices"])
    async def price() -> str:
        loaded.append("load")
        await release.wait()
        return f"price {len(loaded)}"

    first = asyncio.create_task(price())
    await asyncio.sleep(0.05)
    await CacheInvalidator(backend).invalidate_tags("prices")  # the price changed meanwhile
    release.set()
    assert await first == "price 1"
    assert await price() == "price 2"
    assert loaded == ["load", "load"]


async def test_an_invalidation_is_seen_by_every_process(redis_url: str, prefix: str) -> None:
    calls: list[str] = []
    backends = [RedisCacheBackend.from_url(redis_url, prefix=prefix) for _ in range(2)]
    try:

        def worker(backend: CacheBackend) -> Callable[[], Coroutine[Any, Any, str]]:
            @cached(backend, ttl=60, tags=["menu"])
            async def menu() -> str:
                calls.append("load")
                return f"menu {len(calls)}"

            return menu

        workers = [worker(backend) for backend in backends]
        assert [await each() for each in workers] == ["menu 1", "menu 1"]
        await CacheInvalidator(backends[0]).invalidate_tags("menu")
        assert [await each() for each in workers] == ["menu 2", "menu 2"]
        assert calls == ["load", "load"]
    finally:
        for backend in backends:
            await backend.aclose()
        await forget_prefix(redis_url, prefix)


async def test_invalidation_sends_no_keys_or_scan(redis_backend: RedisCacheBackend) -> None:
    from redis.asyncio import Redis

    client: Redis = redis_backend.redis
    before = await client.info("commandstats")

    @cached(redis_backend, ttl=60, tags=["a"], namespace="n")
    async def value() -> int:
        return 1

    await value()
    await CacheInvalidator(redis_backend).invalidate_tags("a")
    await CacheInvalidator(redis_backend).invalidate_namespaces("n")
    after = await client.info("commandstats")
    for command in ("cmdstat_keys", "cmdstat_scan"):
        assert after.get(command, {}).get("calls", 0) == before.get(command, {}).get("calls", 0)


# -- Redis down ---------------------------------------------------------------------------


async def test_redis_down_bypasses_the_cache_and_warns_once(
    private_redis: PrivateRedis, caplog: pytest.LogCaptureFixture
) -> None:
    backend = RedisCacheBackend.from_url(private_redis.url, timeout=0.5)
    backend.retry_seconds = 0.2
    calls = 0

    @cached(backend, ttl=60, tags=["t"])
    async def value() -> int:
        nonlocal calls
        calls += 1
        return calls

    try:
        assert await value() == 1
        assert await value() == 1
        private_redis.kill()
        with caplog.at_level(logging.WARNING):
            results = [await value() for _ in range(3)]
            await asyncio.sleep(0.25)  # past the retry delay: Redis is tried again
            results += [await value() for _ in range(2)]
            assert await CacheInvalidator(backend).invalidate_tags("t") is False
        assert results == [2, 3, 4, 5, 6]  # the function ran each time, nothing raised
        messages = [record.getMessage() for record in caplog.records]
        unreachable = [message for message in messages if "Redis unreachable at" in message]
        assert len(unreachable) == 1, messages  # once for the outage, not once per call
        assert "run uncached until it is back" in unreachable[0]
        assert any("could not invalidate tags" in message for message in messages)
        assert await backend.health_check() is False
        private_redis.start()  # empty: this Redis keeps nothing
        await asyncio.sleep(0.25)
        caplog.clear()
        with caplog.at_level(logging.WARNING):
            assert await value() == 7
            assert await value() == 7  # cached again
        assert any("answers again" in r.getMessage() for r in caplog.records)
        assert await backend.health_check() is True
    finally:
        await backend.aclose()


async def test_redis_down_while_waiting_for_another_loader(private_redis: PrivateRedis) -> None:
    backend = RedisCacheBackend.from_url(private_redis.url, timeout=0.5)
    other = RedisCacheBackend.from_url(private_redis.url, timeout=0.5)
    calls: list[int] = []
    try:
        slow = cached(other, ttl=60)(_slow_counter(calls, 0.5))
        waiting = cached(backend, ttl=60)(_slow_counter(calls, 0))
        leader = asyncio.create_task(slow(1))
        await asyncio.sleep(0.1)
        follower = asyncio.create_task(waiting(1))
        await asyncio.sleep(0.1)
        private_redis.kill()
        results: list[Any] = list(await asyncio.gather(leader, follower))
        assert results == [10, 10]
    finally:
        await backend.aclose()
        await other.aclose()


async def test_the_memory_backend_is_bounded() -> None:
    backend = MemoryCacheBackend(max_entries=3)

    @cached(backend, ttl=60)
    async def echo(number: int) -> int:
        return number

    for number in range(10):
        await echo(number)
    assert len(backend) == 3
    with pytest.raises(ValueError, match="max_entries must be positive"):
        MemoryCacheBackend(max_entries=0)
