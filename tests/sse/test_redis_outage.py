"""A private Redis killed under open streams: they end, publishing fails, then all resumes."""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator

import pytest
import redis.exceptions

from tempest.sse import EventStream, project, publish
from tempest.sse.hub import EventHub
from tempest.sse.redis_backend import RedisEventBackend
from tests.services import PrivateRedis, private_redis

__all__ = ["private_redis"]

pytestmark = pytest.mark.anyio


@pytest.fixture
async def hub(private_redis: PrivateRedis) -> AsyncIterator[EventHub]:
    made = EventHub(RedisEventBackend(private_redis.url, timeout=1.0), shutdown_retry_ms=700)
    project._hub, project._hub_loop = made, asyncio.get_running_loop()
    try:
        yield made
    finally:
        await made.close()
        project.reset_event_hub()


async def test_open_streams_end_and_resume_across_a_redis_crash(
    hub: EventHub, private_redis: PrivateRedis
) -> None:
    stream = EventStream("news", retry=1)
    frames = stream.stream()
    await anext(frames)  # subscribed
    seen = await publish("news", "before")
    assert await anext(frames) == f"data: before\nid: {seen}\n\n".encode()

    private_redis.kill()
    async with asyncio.timeout(5):
        notice = await anext(frames)
    assert notice == b": lost the event channel; reconnect to resume\nretry: 700\n\n"
    with pytest.raises(StopAsyncIteration):
        await anext(frames)
    assert not hub.streams and not hub.channels
    with pytest.raises(redis.exceptions.ConnectionError):
        await publish("news", "while down")

    # Down: a new stream says so and ends, its client retries later.
    down = [frame async for frame in EventStream("news").stream()]
    assert down == [b": the event channel is unavailable; reconnect later\nretry: 700\n\n"]

    private_redis.start()  # empty: the old history is gone with the crash
    again = EventStream("news", last_event_id=seen, retry=1).stream()
    await anext(again)
    assert b"is unknown to this channel" in await anext(again)
    live = await publish("news", "after")
    assert await anext(again) == f"data: after\nid: {live}\n\n".encode()
    await again.aclose()  # type: ignore[attr-defined]
