"""One SSE connection's queue of frames: :class:`EventStream`."""

from __future__ import annotations

import asyncio
from collections import deque
from collections.abc import AsyncIterator
from typing import TYPE_CHECKING, Any

from fastapi.sse import format_sse_event

from tempest.sse.events import EventId, ServerSentEvent, check_channel, comment_frame

if TYPE_CHECKING:
    from tempest.sse.hub import EventHub

__all__ = ["EventStream"]

KEEPALIVE = comment_frame("keepalive")
_DROPPED = "dropped: this client read too slowly; reconnect with Last-Event-ID to resume"


class EventStream:
    """The frames waiting for one SSE client, with heartbeats while idle.

    On its own it is the spec's in-memory queue: ``await stream.publish(...)`` and
    ``sse_response(stream)`` (or ``sse_response(stream.stream())``). Given a ``channel``,
    it also receives every event published to that channel with
    :func:`tempest.sse.publish` by any process of the project (through Redis when
    ``SSE_URL``/``REDIS_URL`` is set), and resumes after ``last_event_id`` from the
    channel's kept history (:func:`tempest.sse.sse_response` reads the ``Last-Event-ID``
    header for it).

    The queue is bounded: a client that does not read fast enough is dropped (its stream
    ends with a comment saying so; a browser reconnects and resumes), and a publisher
    never waits for it. On SIGTERM every open stream ends within a moment, with a
    ``retry`` hint, so that the server can stop.

    Example:
        ```python
        @router.get("/orders/events", response_class=EventStreamResponse)
        async def order_events() -> EventStreamResponse:
            return sse_response(EventStream("orders"))
        ```
    """

    def __init__(
        self,
        channel: str | None = None,
        *,
        last_event_id: str | None = None,
        heartbeat_seconds: float | None = 15.0,
        max_queued: int | None = None,
        retry: int | None = None,
    ) -> None:
        """Create the queue of one connection.

        Args:
            channel: A channel to subscribe to when the stream starts, or None.
            last_event_id: Resume the channel after this event id (the browser's
                ``Last-Event-ID``); None: from now, or from the request's header when the
                stream is served by :func:`~tempest.sse.sse_response`.
            heartbeat_seconds: Send a ``: keepalive`` comment after this many idle
                seconds, so that proxies keep the connection open; None: never.
            max_queued: Frames that may wait for the client before it is dropped;
                None: ``SSE_MAX_QUEUED`` (256).
            retry: Reconnect delay (ms) sent to the browser when the stream starts.

        Raises:
            ValueError: Invalid channel name, non-positive heartbeat or queue size, or a
                negative retry.
        """
        if channel is not None:
            check_channel(channel)
        if heartbeat_seconds is not None and heartbeat_seconds <= 0:
            raise ValueError("heartbeat_seconds must be > 0, or None for no heartbeat")
        if max_queued is not None and max_queued < 1:
            raise ValueError("max_queued must be >= 1")
        if retry is not None and retry < 0:
            raise ValueError("retry must be >= 0 milliseconds")
        self.channel = channel
        self.last_event_id = last_event_id
        self.heartbeat_seconds = heartbeat_seconds
        self.max_queued = max_queued
        self.retry = retry
        self._frames: deque[bytes] = deque()
        self._wake = asyncio.Event()
        self._closed = False
        self._dropped = False
        self._started = False
        self._final: bytes | None = None
        self._last: EventId | None = None
        self._pending: list[tuple[EventId, bytes]] | None = None
        self._hub: EventHub | None = None

    @property
    def closed(self) -> bool:
        """Whether the stream ends once the queued frames are sent."""
        return self._closed

    @property
    def dropped(self) -> bool:
        """Whether the client was dropped for reading too slowly."""
        return self._dropped

    @property
    def queued(self) -> int:
        """Frames waiting for the client."""
        return len(self._frames)

    async def publish(
        self,
        data: Any = None,
        *,
        event: str | None = None,
        id: str | None = None,
        retry: int | None = None,
        comment: str | None = None,
    ) -> None:
        """Queue one event for this client (never waits; see the class for a full queue).

        Args:
            data: A string or bytes (sent as is) or a JSON-serializable value.
            event: The event type (the browser's ``addEventListener`` name).
            id: The event id (the browser's ``Last-Event-ID`` when it reconnects).
            retry: Reconnect delay hint in milliseconds.
            comment: Comment line(s), ignored by browsers.

        Raises:
            TypeError: ``data`` is not JSON-serializable.
            pydantic.ValidationError: ``event``/``id`` span lines or ``retry`` < 0.
        """
        self._offer(
            ServerSentEvent(data, event=event, id=id, retry=retry, comment=comment).encode()
        )

    async def send(self, event: ServerSentEvent) -> None:
        """Queue an event built beforehand."""
        self._offer(event.encode())

    async def close(self) -> None:
        """End the stream once the frames already queued are sent."""
        self._closed = True
        self._wake.set()

    def _bound(self) -> int:
        if self.max_queued is None:
            from tempest.sse.project import default_options

            self.max_queued = default_options().max_queued
        return self.max_queued

    def _offer(self, frame: bytes) -> bool:
        if self._closed:
            return False
        if len(self._frames) >= self._bound():
            self._drop()
            return False
        self._frames.append(frame)
        self._wake.set()
        return True

    def _drop(self) -> None:
        self._dropped = True
        self._frames.clear()
        self._end(_DROPPED, None)
        if self._hub is not None:
            self._hub.forget(self)

    def _deliver(self, event_id: EventId, frame: bytes) -> None:
        """A channel event: held during the replay, skipped if already sent."""
        if self._pending is not None:
            self._pending.append((event_id, frame))
        elif (self._last is None or event_id > self._last) and self._offer(frame):
            self._last = event_id

    def _end(self, notice: str, retry: int | None) -> None:
        """End the stream after the queued frames, with a last comment (and retry hint)."""
        if self._final is None:
            self._final = format_sse_event(comment=notice, retry=retry)
        self._closed = True
        self._wake.set()

    async def stream(self) -> AsyncIterator[bytes]:
        """The frames for the client, until the stream is closed, dropped or shut down.

        Subscribes to the channel (and replays what the client missed) when iteration
        starts; unsubscribes when it ends, however it ends (client gone, cancelled).

        Raises:
            RuntimeError: The stream is iterated a second time.
        """
        if self._started:
            raise RuntimeError("an EventStream can be streamed once")
        self._started = True
        from tempest.sse.project import get_event_hub, hook_signals

        hub = get_event_hub()
        hook_signals()
        self._hub = hub
        try:
            replay = await hub.attach(self)
            if self.retry is not None:
                yield format_sse_event(retry=self.retry)
            for frame in replay:
                yield frame
            frames, wake, heartbeat = self._frames, self._wake, self.heartbeat_seconds
            while True:
                if frames:
                    yield frames.popleft()
                    continue
                if self._closed:
                    if self._final is not None:
                        yield self._final
                    return
                wake.clear()
                if heartbeat is None:
                    await wake.wait()
                    continue
                try:
                    async with asyncio.timeout(heartbeat):
                        await wake.wait()
                except TimeoutError:
                    yield KEEPALIVE
        finally:
            self._closed = True
            self._frames.clear()
            await hub.detach(self)
