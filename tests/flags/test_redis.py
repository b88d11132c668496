"""The Redis backend: changes reach other processes' snapshots, and Redis going away.

The suite's Redis (TEMPEST_TEST_REDIS_URL) for the happy path, a private ``redis-server``
for what must count commands or kill the server.
"""

from __future__ import annotations

import asyncio
import json
import logging
import time
import uuid
from collections.abc import AsyncIterator

import pytest
from redis.exceptions import ConnectionError as RedisConnectionError

from tempest.flags import FeatureFlags, FlagState, RedisFeatureFlagBackend
from tests.conftest import service_url
from tests.services import PrivateRedis, private_redis

__all__ = ["private_redis"]

pytestmark = pytest.mark.anyio


async def _wait_for(condition: object, timeout: float) -> float:
    """Seconds until ``condition()`` holds; fails after ``timeout``."""
    started = time.monotonic()
    while not condition():  # type: ignore[operator]
        if time.monotonic() - started > timeout:
            raise AssertionError(f"not within {timeout}s")
        await asyncio.sleep(0.002)
    return time.monotonic() - started


@pytest.fixture
async def key() -> AsyncIterator[str]:
    """A hash of this test alone in the suite's Redis, deleted afterwards."""
    from redis.asyncio import Redis

    url = service_url("TEMPEST_TEST_REDIS_URL")
    name = f"tempest:test-flags:{uuid.uuid4().hex[:8]}"
    yield name
    client = Redis.from_url(url)
    try:
        await client.delete(name)
    finally:
        await client.aclose()


async def test_a_change_reaches_every_snapshot_within_a_second(key: str) -> None:
    url = service_url("TEMPEST_TEST_REDIS_URL")
    writer = FeatureFlags(RedisFeatureFlagBackend.from_url(url, key=key))
    readers = [FeatureFlags(RedisFeatureFlagBackend.from_url(url, key=key)) for _ in range(3)]
    for flags in (writer, *readers):
        await flags.start()
    try:
        await writer.disable("beta")
        await _wait_for(lambda: all("beta" in r for r in readers), 1.0)
        await writer.enable("beta")
        took = await _wait_for(lambda: all(r.is_enabled("beta") for r in readers), 1.0)
        assert took < 1.0
        await writer.set_percentage("beta", 25)
        await _wait_for(lambda: all(r.get("beta") == FlagState(True, 25) for r in readers), 1.0)
        subjects = [f"user-{i}" for i in range(10_000)]
        answers = [[r.is_enabled("beta", s) for s in subjects] for r in readers]
        assert answers[0] == answers[1] == answers[2]
        assert 2350 <= sum(answers[0]) <= 2650
        await writer.reset("beta")
        await _wait_for(lambda: all("beta" not in r for r in readers), 1.0)
    finally:
        for flags in (writer, *readers):
            await flags.aclose()


async def test_fields_that_cannot_be_read_are_skipped_never_unpickled(
    key: str, caplog: pytest.LogCaptureFixture
) -> None:
    import pickle

    url = service_url("TEMPEST_TEST_REDIS_URL")
    backend = RedisFeatureFlagBackend.from_url(url, key=key)
    try:
        await backend.set("good", FlagState(True, 10))
        await backend.redis.hset(key, "pickled", pickle.dumps(FlagState(True)))
        await backend.redis.hset(key, "Bad Name", json.dumps({"enabled": True}))
        await backend.redis.hset(key, "bad-pct", json.dumps({"percentage": 500}))
        with caplog.at_level(logging.WARNING, logger="tempest.flags"):
            assert await backend.load() == {"good": FlagState(True, 10)}
            await backend.load()
        skipped = [r.getMessage() for r in caplog.records if "skipped" in r.getMessage()]
        assert len(skipped) == 3, skipped  # once per field, not per reload
        stored = await backend.redis.hget(key, "good")
        assert stored is not None
        assert json.loads(stored) == {"enabled": True, "percentage": 10.0}
    finally:
        await backend.aclose()


async def _commands(url: str) -> dict[str, int]:
    from redis.asyncio import Redis

    client = Redis.from_url(url)
    try:
        stats = await client.info("commandstats")
    finally:
        await client.aclose()
    return {name.removeprefix("cmdstat_"): int(value["calls"]) for name, value in stats.items()}


async def test_evaluation_makes_no_redis_round_trip(private_redis: PrivateRedis) -> None:
    flags = FeatureFlags(RedisFeatureFlagBackend.from_url(private_redis.url))
    await flags.start()
    try:
        await flags.set_percentage("beta", 50)
        await asyncio.sleep(0.1)  # the change notice's reload is done
        before = await _commands(private_redis.url)
        on = sum(flags.is_enabled("beta", f"user-{i}") for i in range(10_000))
        after = await _commands(private_redis.url)
    finally:
        await flags.aclose()
    assert 4700 <= on <= 5300
    sent = {name: after[name] - before.get(name, 0) for name in after}
    measurement = {"info", "hello", "client|setinfo"}  # the two INFO calls' own
    assert {name for name, count in sent.items() if count} <= measurement, sent


async def test_redis_down_the_last_snapshot_serves_and_it_resubscribes_when_back(
    private_redis: PrivateRedis, caplog: pytest.LogCaptureFixture
) -> None:
    flags = FeatureFlags(RedisFeatureFlagBackend.from_url(private_redis.url), reload_seconds=0.2)
    await flags.start()
    try:
        await flags.set_percentage("beta", 30)
        await flags.enable("kill-switch")
        expected = [flags.is_enabled("beta", i) for i in range(1000)]
        with caplog.at_level(logging.WARNING):
            private_redis.kill()
            await asyncio.sleep(2.5)  # reconnects every second and reloads every 0.2 s fail
            assert [flags.is_enabled("beta", i) for i in range(1000)] == expected
            assert flags.is_enabled("kill-switch")
            with pytest.raises(RedisConnectionError):  # readiness reports it failing
                await flags.health_check()
            private_redis.start()  # the same port, empty: no persistence
            other = RedisFeatureFlagBackend.from_url(private_redis.url)
            try:
                # Resubscribed and reloaded: a write after the restart reaches the snapshot.
                await asyncio.sleep(1.5)
                await other.set("after", FlagState(True))
                await _wait_for(lambda: flags.is_enabled("after"), 1.0)
            finally:
                await other.aclose()
        assert "beta" not in flags  # the restarted Redis is empty, and that is what counts
    finally:
        await flags.aclose()
    messages = [record.getMessage() for record in caplog.records]
    # One line when it went away, one when it was back (tempest.outages), nothing else.
    assert len(messages) == 2, messages
    assert messages[0].startswith(f"feature flags: Redis unreachable at {private_redis.url}")
    assert messages[0].endswith("; serving the last known flags until it is back")
    assert messages[1].startswith("feature flags: Redis answers again")
