"""The HTTP response of an SSE stream: :func:`sse_response`."""

from __future__ import annotations

import contextlib
from collections.abc import AsyncIterable, AsyncIterator, Mapping
from typing import Any

import anyio
from starlette.background import BackgroundTask
from starlette.responses import StreamingResponse
from starlette.types import Receive, Scope, Send

from tempest.sse.events import ServerSentEvent
from tempest.sse.stream import EventStream

__all__ = ["EventStreamResponse", "sse_response"]

_HEADERS = {"Cache-Control": "no-cache", "X-Accel-Buffering": "no"}


class EventStreamResponse(StreamingResponse):
    """A ``text/event-stream`` response that ends with its client.

    Declare routes that return it with ``response_class=EventStreamResponse`` (the
    OpenAPI document then names the media type). FastAPI's own
    :class:`~fastapi.sse.EventSourceResponse` is for routes written as generators:
    FastAPI 0.165 runs any route declared with it as one, so a route returning
    :func:`sse_response` must not be declared with it.

    The stream stops as soon as the client disconnects (whatever the ASGI server's spec
    version: the request's ``receive`` is watched, not only failed writes), and the source
    is closed then, so that a gone client's subscription and queue are freed at once.
    For an :class:`EventStream` of a channel without ``last_event_id``, the request's
    ``Last-Event-ID`` header is used.
    """

    media_type = "text/event-stream"

    def __init__(
        self,
        content: AsyncIterable[Any],
        status_code: int = 200,
        headers: Mapping[str, str] | None = None,
        background: BackgroundTask | None = None,
        event_stream: EventStream | None = None,
    ) -> None:
        """Stream ``content`` (frames as bytes) as ``text/event-stream``."""
        super().__init__(
            content,
            status_code=status_code,
            headers={**_HEADERS, **(headers or {})},
            background=background,
        )
        self.event_stream = event_stream

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        """Send the stream until it ends or the client goes away."""
        stream = self.event_stream
        if stream is not None and stream.channel is not None and stream.last_event_id is None:
            for name, value in scope.get("headers", ()):
                if name == b"last-event-id":
                    stream.last_event_id = value.decode("latin-1")
                    break
        try:
            async with anyio.create_task_group() as group:

                async def watch() -> None:
                    await self.listen_for_disconnect(receive)
                    group.cancel_scope.cancel()

                group.start_soon(watch)
                with contextlib.suppress(OSError):  # the client is gone
                    await self.stream_response(send)
                group.cancel_scope.cancel()
        finally:
            close = getattr(self.body_iterator, "aclose", None)
            if close is not None:
                with anyio.CancelScope(shield=True):
                    await close()
        if self.background is not None:
            await self.background()


async def _frames(source: AsyncIterable[Any]) -> AsyncIterator[bytes]:
    try:
        async for item in source:
            if isinstance(item, bytes):
                yield item
            elif isinstance(item, ServerSentEvent):
                yield item.encode()
            else:
                yield ServerSentEvent(item).encode()
    finally:
        close = getattr(source, "aclose", None)
        if close is not None:
            await close()


def sse_response(
    source: EventStream | AsyncIterable[Any],
    *,
    status_code: int = 200,
    headers: Mapping[str, str] | None = None,
    background: BackgroundTask | None = None,
) -> EventStreamResponse:
    """A ``text/event-stream`` response for an :class:`EventStream` or an async iterable.

    Args:
        source: An :class:`EventStream`, or an async iterable of frames (bytes, as
            ``EventStream.stream()`` yields), :class:`ServerSentEvent` objects, or other
            values (each sent as one event's data: strings as they are, others as JSON).
        status_code: The HTTP status (200).
        headers: Extra headers; ``Cache-Control: no-cache`` and ``X-Accel-Buffering: no``
            (no proxy buffering) are set unless given here.
        background: A task to run once the stream has ended.

    Returns:
        The response; declare the route with ``response_class=EventStreamResponse``
        for the OpenAPI document.
    """
    if isinstance(source, EventStream):
        return EventStreamResponse(
            source.stream(), status_code, headers, background, event_stream=source
        )
    return EventStreamResponse(_frames(source), status_code, headers, background)
