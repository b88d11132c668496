"""Channels on both backends: fan-out, Last-Event-ID resume, slow clients, hang-ups, shutdown."""

from __future__ import annotations

import asyncio
import gc
import tracemalloc

import pytest
from fastapi import FastAPI

from tempest.sse import EventStream, publish, sse_response
from tempest.sse.hub import EventHub
from tempest.sse.response import EventStreamResponse
from tests.sse.conftest import Connection

pytestmark = pytest.mark.anyio


def channel_app() -> FastAPI:
    app = FastAPI()

    @app.get("/events/{channel}", response_class=EventStreamResponse)
    async def events(channel: str) -> EventStreamResponse:
        return sse_response(EventStream(channel, retry=500))

    return app


async def started(stream: EventStream) -> tuple[object, bytes]:
    """Start a stream (it subscribes); its first frame is the retry hint."""
    iterator = stream.stream()
    first = await anext(iterator)
    return iterator, first


async def test_an_event_reaches_every_subscriber_of_its_channel_only(hub: EventHub) -> None:
    app = channel_app()
    orders = [Connection(app, "/events/orders").open() for _ in range(3)]
    other = Connection(app, "/events/other").open()
    for connection in (*orders, other):
        await connection.read_until("retry: 500")
    event_id = await publish("orders", {"id": 1}, event="created")
    for connection in orders:
        body = await connection.read_until(f"id: {event_id}")
        assert f'event: created\ndata: {{"id":1}}\nid: {event_id}\n\n' in body
        assert connection.response_headers[b"content-type"].startswith(b"text/event-stream")
    await asyncio.sleep(0.05)
    assert "created" not in other.body.decode()
    for connection in (*orders, other):
        await connection.hang_up()
    assert not hub.streams and not hub.channels


async def test_last_event_id_replays_exactly_the_missed_events(hub: EventHub) -> None:
    app = channel_app()
    first = Connection(app, "/events/feed").open()
    await first.read_until("retry: 500")
    seen = await publish("feed", "one")
    await first.read_until(seen)
    await first.hang_up()
    missed = [await publish("feed", f"missed {n}") for n in range(3)]
    again = Connection(app, "/events/feed", [(b"last-event-id", seen.encode())]).open()
    body = await again.read_until(missed[-1])
    live = await publish("feed", "live")
    body = await again.read_until(live)
    await again.hang_up()
    frames = [frame for frame in body.split("\n\n") if frame.startswith("data:")]
    assert frames == [
        *[f"data: missed {n}\nid: {missed[n]}" for n in range(3)],
        f"data: live\nid: {live}",
    ]
    assert seen not in body.replace(f"id: {seen}", "")


@pytest.mark.parametrize(
    ("last_event_id", "notice"),
    [
        ("garbage", "is not an event id of this channel"),
        ("99999999999999-0", "is unknown to this channel"),
    ],
    ids=["garbage", "from-the-future"],
)
async def test_a_bad_last_event_id_resumes_from_now_and_says_so(
    hub: EventHub, last_event_id: str, notice: str
) -> None:
    await publish("bad", "before")
    stream = EventStream("bad", last_event_id=last_event_id, retry=1)
    iterator, _ = await started(stream)
    comment = await anext(iterator)  # type: ignore[call-overload]
    assert comment.startswith(b": Last-Event-ID ") and notice.encode() in comment
    assert b"resuming from now" in comment
    live = await publish("bad", "after")
    assert await anext(iterator) == f"data: after\nid: {live}\n\n".encode()  # type: ignore[call-overload]
    await iterator.aclose()  # type: ignore[attr-defined]


async def test_a_last_event_id_older_than_the_history_resumes_from_now(hub: EventHub) -> None:
    old = await publish("long", "old")
    for n in range(10):  # the fixture keeps 5 events
        await publish("long", n)
    stream = EventStream("long", last_event_id=old, retry=1)
    iterator, _ = await started(stream)
    comment = await anext(iterator)  # type: ignore[call-overload]
    assert comment == (b": events after Last-Event-ID are no longer kept; resuming from now\n\n")
    live = await publish("long", "now")
    assert await anext(iterator) == f"data: now\nid: {live}\n\n".encode()  # type: ignore[call-overload]
    await iterator.aclose()  # type: ignore[attr-defined]


async def test_a_subscriber_that_never_reads_is_dropped_and_the_publisher_goes_on(
    hub: EventHub,
) -> None:
    slow = EventStream("busy", retry=1, max_queued=10)
    reader = EventStream("busy", retry=1)
    slow_iterator, _ = await started(slow)
    reader_iterator, _ = await started(reader)
    loop = asyncio.get_running_loop()
    began = loop.time()
    ids = [await publish("busy", n) for n in range(50)]
    assert loop.time() - began < 5
    for _ in range(50):  # Redis delivers a moment later
        if slow.dropped:
            break
        await asyncio.sleep(0.05)
    assert slow.dropped and slow.queued == 0
    assert slow not in hub.channels["busy"]
    assert await anext(slow_iterator) == (  # type: ignore[call-overload]
        b": dropped: this client read too slowly; reconnect with Last-Event-ID to resume\n\n"
    )
    with pytest.raises(StopAsyncIteration):
        await anext(slow_iterator)  # type: ignore[call-overload]
    received = [await anext(reader_iterator) for _ in ids]  # type: ignore[call-overload]
    assert received[-1] == f"data: 49\nid: {ids[-1]}\n\n".encode()
    await reader_iterator.aclose()  # type: ignore[attr-defined]
    assert not hub.streams and not hub.channels


async def test_shutdown_ends_open_streams_with_a_retry_hint(hub: EventHub) -> None:
    app = channel_app()
    connections = [Connection(app, f"/events/room{n % 2}").open() for n in range(4)]
    for connection in connections:
        await connection.read_until("retry: 500")
    hub.shutdown()
    for connection in connections:
        async with asyncio.timeout(2):
            await connection.ended.wait()
        assert connection.body.decode().endswith(
            ": the server is shutting down; reconnect to resume\nretry: 1000\n\n"
        )
    late = Connection(app, "/events/room0").open()
    async with asyncio.timeout(2):
        await late.ended.wait()
    assert "shutting down" in late.body.decode()
    for connection in (*connections, late):
        await connection.hang_up()
    assert not hub.streams and not hub.channels


async def test_a_thousand_connect_disconnect_cycles_leave_nothing_behind(hub: EventHub) -> None:
    app = channel_app()

    async def cycle(n: int) -> None:
        connection = Connection(app, f"/events/cycle{n % 3}").open()
        await connection.read_until("retry: 500")
        await connection.hang_up()

    for n in range(50):  # warm up: first-use allocations (connections, caches)
        await cycle(n)
    gc.collect()
    tasks = len(asyncio.all_tasks())
    tracemalloc.start()
    before = tracemalloc.take_snapshot()
    for n in range(1000):
        await cycle(n)
    gc.collect()
    after = tracemalloc.take_snapshot()
    tracemalloc.stop()
    growth = sum(stat.size_diff for stat in after.compare_to(before, "filename"))
    assert not hub.streams and not hub.channels
    assert len(asyncio.all_tasks()) == tasks
    print(f"growth after 1,000 cycles: {growth} bytes")
    assert growth < 200_000, f"{growth} bytes more after 1,000 cycles"


async def test_memory_forgets_channels_nobody_listens_to_after_the_ttl() -> None:
    from tempest.sse.backends import MemoryEventBackend

    backend = MemoryEventBackend(history_size=5, history_ttl_seconds=0.05)
    backend.bind(lambda *_: None, lambda: None)
    await backend.listen("kept")
    old = await backend.publish("user:1", "x")
    await backend.publish("kept", "y")
    await asyncio.sleep(0.1)
    await backend.publish("user:2", "z")
    assert (await backend.since("user:1", old)).status == "unknown"
    assert set(backend._channels) == {"kept", "user:2"}


async def test_publish_refuses_bad_channels_and_events_with_their_own_id(hub: EventHub) -> None:
    from tempest.sse import ServerSentEvent

    with pytest.raises(ValueError, match="invalid SSE channel name"):
        await publish("news *", "x")
    with pytest.raises(ValueError, match="get their id from the channel"):
        await publish("news", ServerSentEvent("x", id="7"))
    with pytest.raises(TypeError, match="not JSON-serializable"):
        await publish("news", object())
    stream = EventStream("news", retry=1)
    frames = stream.stream()
    await anext(frames)
    event_id = await publish("news", ServerSentEvent("x", event="a", retry=5), event="b", retry=0)
    assert await anext(frames) == f"event: b\ndata: x\nid: {event_id}\nretry: 0\n\n".encode()
    await frames.aclose()  # type: ignore[attr-defined]
