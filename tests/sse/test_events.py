"""The frame encoding and the single-connection stream (the spec's recipe)."""

from __future__ import annotations

import asyncio
from datetime import datetime
from typing import Any

import pytest
from fastapi import FastAPI
from fastapi.sse import EventSourceResponse
from fastapi.testclient import TestClient
from pydantic import BaseModel, ValidationError
from starlette.background import BackgroundTask

import tempest
from tempest.sse import EventStream, ServerSentEvent, sse_response
from tempest.sse.events import check_channel, parse_event_id
from tempest.sse.response import EventStreamResponse

pytestmark = pytest.mark.anyio


class Order(BaseModel):
    id: int
    name: str


@pytest.mark.parametrize(
    ("data", "frame"),
    [
        ("hello", b"data: hello\n\n"),
        (b"bytes", b"data: bytes\n\n"),
        ({"n": 1}, b'data: {"n":1}\n\n'),
        ([1, "x"], b'data: [1,"x"]\n\n'),
        (Order(id=1, name="a"), b'data: {"id":1,"name":"a"}\n\n'),
        ("two\nlines", b"data: two\ndata: lines\n\n"),
        (datetime(2026, 1, 2, 3, 4, 5), b'data: "2026-01-02T03:04:05"\n\n'),
    ],
    ids=["str", "bytes", "dict", "list", "model", "multiline", "datetime"],
)
async def test_text_goes_out_as_is_and_the_rest_as_json(data: Any, frame: bytes) -> None:
    assert ServerSentEvent(data).encode() == frame


async def test_every_field_is_encoded_by_fastapi() -> None:
    event = ServerSentEvent({"n": 1}, event="counter", id="7", retry=3000, comment="hi")
    assert event.encode() == b': hi\nevent: counter\ndata: {"n":1}\nid: 7\nretry: 3000\n\n'
    assert ServerSentEvent(data="named").encode() == b"data: named\n\n"


async def test_the_names_are_importable_from_tempest() -> None:
    assert tempest.EventStream is EventStream
    assert tempest.ServerSentEvent is ServerSentEvent
    assert tempest.sse_response is sse_response


async def test_unserializable_data_is_a_clear_type_error() -> None:
    with pytest.raises(TypeError, match="ServerSentEvent data of type object"):
        ServerSentEvent(object()).encode()
    with pytest.raises(TypeError, match="not JSON-serializable"):
        ServerSentEvent({"x": float("nan")}).encode()


@pytest.mark.parametrize(
    "fields",
    [{"event": "a\nb"}, {"id": "1\n2"}, {"id": "a\0b"}, {"retry": -1}],
    ids=["event-newline", "id-newline", "id-nul", "negative-retry"],
)
async def test_fields_that_would_break_the_framing_are_refused(fields: dict[str, Any]) -> None:
    with pytest.raises(ValidationError):
        ServerSentEvent("x", **fields)


@pytest.mark.parametrize("name", ["", "a b", "orders.*", "a?", "x\n", "é", "x" * 201])
async def test_bad_channel_names_are_refused(name: str) -> None:
    with pytest.raises(ValueError, match="invalid SSE channel name"):
        check_channel(name)
    with pytest.raises(ValueError, match="invalid SSE channel name"):
        EventStream(name)


@pytest.mark.parametrize(
    "value", ["", "abc", "1", "1-", "-1", "1-2-3", "\u0661-\u0662", "9" * 21 + "-1", "1 - 2"]
)
async def test_garbage_event_ids_do_not_parse(value: str) -> None:
    assert parse_event_id(value) is None


async def test_the_bad_stream_options_are_refused() -> None:
    with pytest.raises(ValueError, match="heartbeat_seconds"):
        EventStream(heartbeat_seconds=0)
    with pytest.raises(ValueError, match="max_queued"):
        EventStream(max_queued=0)
    with pytest.raises(ValueError, match="retry"):
        EventStream(retry=-5)


async def _collect(stream: EventStream, limit: int = 50) -> list[bytes]:
    frames: list[bytes] = []
    async with asyncio.timeout(5):
        async for frame in stream.stream():
            frames.append(frame)
            if len(frames) >= limit:
                break
    return frames


async def test_the_spec_recipe_streams_then_ends() -> None:
    stream = EventStream(heartbeat_seconds=15.0, retry=2000)

    async def producer() -> None:
        for n in range(1, 4):
            await stream.publish({"n": n}, event="counter", id=str(n))
        await stream.close()

    task = asyncio.create_task(producer())
    frames = await _collect(stream)
    await task
    assert frames == [
        b"retry: 2000\n\n",
        *[f'event: counter\ndata: {{"n":{n}}}\nid: {n}\n\n'.encode() for n in (1, 2, 3)],
    ]
    with pytest.raises(RuntimeError, match="streamed once"):
        await anext(stream.stream())


async def test_an_idle_stream_sends_keepalive_comments() -> None:
    stream = EventStream(heartbeat_seconds=0.05)
    frames: list[bytes] = []
    async with asyncio.timeout(5):
        async for frame in stream.stream():
            frames.append(frame)
            if len(frames) == 2:
                await stream.publish("after")
            if len(frames) == 3:
                await stream.close()
    assert frames == [b": keepalive\n\n", b": keepalive\n\n", b"data: after\n\n"]


async def test_a_full_queue_drops_the_client_and_never_blocks_the_publisher() -> None:
    stream = EventStream(max_queued=10)
    started = asyncio.get_running_loop().time()
    for n in range(10_000):
        await stream.publish(n)
    assert asyncio.get_running_loop().time() - started < 2
    assert stream.dropped and stream.closed and stream.queued == 0
    frames = await _collect(stream)
    assert frames == [
        b": dropped: this client read too slowly; reconnect with Last-Event-ID to resume\n\n"
    ]


async def test_sse_response_serves_a_generator_with_fastapi_headers() -> None:
    app = FastAPI()

    @app.get("/numbers", response_class=EventStreamResponse)
    async def numbers() -> EventStreamResponse:
        async def events() -> Any:
            yield ServerSentEvent("one", id="1")
            yield {"two": 2}
            yield b"data: three\n\n"

        return sse_response(events())

    with TestClient(app) as client:
        response = client.get("/numbers")
    assert response.status_code == 200
    assert response.headers["content-type"].startswith("text/event-stream")
    assert response.headers["cache-control"] == "no-cache"
    assert response.headers["x-accel-buffering"] == "no"
    assert response.text == 'data: one\nid: 1\n\ndata: {"two":2}\n\ndata: three\n\n'
    assert "text/event-stream" in str(app.openapi()["paths"]["/numbers"])


async def test_the_event_class_works_in_fastapi_native_sse_routes() -> None:
    app = FastAPI()

    @app.get("/native", response_class=EventSourceResponse)
    async def native() -> Any:
        yield ServerSentEvent("plain text", event="note")
        yield ServerSentEvent({"n": 1})

    with TestClient(app) as client:
        text = client.get("/native").text
    assert text == 'event: note\ndata: plain text\n\ndata: {"n": 1}\n\n'


async def test_sse_response_of_a_stream_generator_as_in_the_spec() -> None:
    app = FastAPI()

    @app.get("/countdown", response_class=EventStreamResponse)
    async def countdown() -> EventStreamResponse:
        stream = EventStream(heartbeat_seconds=15.0)

        async def producer() -> None:
            for n in (3, 2, 1):
                await stream.publish({"n": n}, event="tick", id=str(n))
            await stream.close()

        running = asyncio.create_task(producer())
        return sse_response(stream.stream(), background=BackgroundTask(running.cancel))

    with TestClient(app) as client:
        text = client.get("/countdown").text
    assert [line for line in text.splitlines() if line.startswith("data")] == [
        'data: {"n":3}',
        'data: {"n":2}',
        'data: {"n":1}',
    ]
