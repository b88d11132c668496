"""A process's open SSE streams and the channels they listen to: :class:`EventHub`."""

from __future__ import annotations

import asyncio
import json
import logging
from typing import TYPE_CHECKING, Any, Protocol

from fastapi.sse import format_sse_event

from tempest.sse.events import (
    ServerSentEvent,
    check_channel,
    comment_frame,
    event_data,
    format_event_id,
    parse_event_id,
)

if TYPE_CHECKING:
    from tempest.sse.backends import EventBackend
    from tempest.sse.events import EventId

__all__ = ["EventHub"]

logger = logging.getLogger("tempest.sse")

_GARBAGE = "Last-Event-ID is not an event id of this channel; resuming from now"
_UNKNOWN = "Last-Event-ID is unknown to this channel (expired or reset); resuming from now"
_GAP = "events after Last-Event-ID are no longer kept; resuming from now"
_SHUTDOWN = "the server is shutting down; reconnect to resume"
_LOST = "lost the event channel; reconnect to resume"
_UNAVAILABLE = "the event channel is unavailable; reconnect later"


class EventStream(Protocol):
    """What the hub uses of a stream (:class:`tempest.sse.EventStream`)."""

    channel: str | None
    last_event_id: str | None
    _pending: list[tuple[EventId, bytes]] | None
    _last: EventId | None

    def _deliver(self, event_id: EventId, frame: bytes) -> None: ...

    def _end(self, notice: str, retry: int | None) -> None: ...


class EventHub:
    """The streams open in this process, fanning each channel event out to its listeners.

    One per process and event loop (:func:`tempest.sse.project.get_event_hub`). A
    channel event is encoded once per process, then queued for each listening stream.
    """

    def __init__(
        self, backend: EventBackend, *, max_queued: int = 256, shutdown_retry_ms: int = 1000
    ) -> None:
        """Fan out the events of ``backend``.

        Args:
            backend: Where channel events travel (memory or Redis).
            max_queued: Default queue bound of the streams.
            shutdown_retry_ms: Reconnect delay sent as streams end at shutdown.
        """
        self.backend = backend
        self.max_queued = max_queued
        self.shutdown_retry_ms = shutdown_retry_ms
        self.streams: set[EventStream] = set()
        self.channels: dict[str, set[EventStream]] = {}
        self.closing = False
        self._listening: dict[str, asyncio.Future[None]] = {}
        backend.bind(self._deliver, self._lost)

    async def publish(
        self,
        channel: str,
        data: Any = None,
        *,
        event: str | None = None,
        retry: int | None = None,
    ) -> str:
        """Publish one event to every stream listening to ``channel``, in every process.

        Args:
            channel: The channel's name.
            data: A string, bytes, a JSON-serializable value or a :class:`ServerSentEvent`
                (without an id: the channel gives ids).
            event: The event type.
            retry: Reconnect delay hint in milliseconds.

        Returns:
            The event's id, as clients see it (and send back as ``Last-Event-ID``).

        Raises:
            ValueError: Invalid channel name, or an event that carries its own id.
            TypeError: ``data`` is not JSON-serializable.
            redis.exceptions.RedisError: The Redis backend is unreachable.
        """
        check_channel(channel)
        if isinstance(data, ServerSentEvent):
            message = data
            if event is not None or retry is not None:
                message = message.model_copy(
                    update={
                        "event": message.event if event is None else event,
                        "retry": message.retry if retry is None else retry,
                    }
                )
        else:
            message = ServerSentEvent(data, event=event, retry=retry)
        if message.id is not None:
            raise ValueError(
                "events published to a channel get their id from the channel (it is what "
                "Last-Event-ID resumes from); publish them without id="
            )
        payload = json.dumps(
            {
                "e": message.event,
                "d": event_data(message),
                "r": message.retry,
                "c": message.comment,
            },
            separators=(",", ":"),
        )
        return format_event_id(await self.backend.publish(channel, payload))

    @staticmethod
    def _encode(event_id: EventId, payload: str) -> bytes:
        fields = json.loads(payload)
        return format_sse_event(
            data_str=fields.get("d"),
            event=fields.get("e"),
            id=format_event_id(event_id),
            retry=fields.get("r"),
            comment=fields.get("c"),
        )

    def _deliver(self, channel: str, event_id: EventId, payload: str) -> None:
        listeners = self.channels.get(channel)
        if not listeners:
            return
        frame = self._encode(event_id, payload)
        for stream in tuple(listeners):
            stream._deliver(event_id, frame)

    def _lost(self) -> None:
        """Live delivery broke: end the channel streams; their clients resume on reconnect."""
        self._listening.clear()
        for listeners in self.channels.values():
            for stream in tuple(listeners):
                stream._end(_LOST, self.shutdown_retry_ms)
        self.channels.clear()

    async def attach(self, stream: EventStream) -> list[bytes]:
        """Register a starting stream; subscribe it to its channel and replay what it missed.

        Returns:
            Frames to send before the live ones: notices and the missed events. A stream
            whose channel is unavailable is ended with a notice instead.
        """
        self.streams.add(stream)
        if self.closing:
            stream._end(_SHUTDOWN, self.shutdown_retry_ms)
            return []
        channel = stream.channel
        if channel is None:
            return []
        stream._pending = []
        self.channels.setdefault(channel, set()).add(stream)
        try:
            await self._listen(channel)
            frames = await self._replay(stream, channel)
        except Exception as error:  # Redis unreachable: the client retries later
            logger.warning("SSE: cannot subscribe to channel %r (%s)", channel, error)
            self.forget(stream)
            stream._pending = None
            stream._end(_UNAVAILABLE, self.shutdown_retry_ms)
            return []
        pending, stream._pending = stream._pending or [], None
        for event_id, frame in pending:
            stream._deliver(event_id, frame)
        return frames

    async def _listen(self, channel: str) -> None:
        ready = self._listening.get(channel)
        if ready is None:
            ready = self._listening[channel] = asyncio.get_running_loop().create_future()
            try:
                await self.backend.listen(channel)
            except BaseException as error:
                self._listening.pop(channel, None)
                # The streams waiting for this subscription end with a notice and retry.
                failure = (
                    error
                    if isinstance(error, Exception)
                    else ConnectionError(f"the subscription to {channel!r} was interrupted")
                )
                ready.set_exception(failure)
                ready.exception()  # retrieved: no "never retrieved" warning
                raise
            ready.set_result(None)
        else:
            await asyncio.shield(ready)

    async def _replay(self, stream: EventStream, channel: str) -> list[bytes]:
        sent = stream.last_event_id
        if not sent:
            return []
        after = parse_event_id(sent)
        if after is None:
            return [comment_frame(_GARBAGE)]
        replay = await self.backend.since(channel, after)
        if replay.status != "ok":
            return [comment_frame(_UNKNOWN if replay.status == "unknown" else _GAP)]
        stream._last = replay.events[-1][0] if replay.events else after
        return [self._encode(event_id, payload) for event_id, payload in replay.events]

    def forget(self, stream: EventStream) -> None:
        """Stop delivering channel events to ``stream`` (dropped, ending)."""
        channel = stream.channel
        listeners = self.channels.get(channel) if channel is not None else None
        if listeners is not None:
            listeners.discard(stream)

    async def detach(self, stream: EventStream) -> None:
        """Unregister an ending stream; unsubscribe its channel when it was the last one."""
        self.streams.discard(stream)
        self.forget(stream)
        channel = stream.channel
        if channel is None or self.channels.get(channel, True):
            return
        del self.channels[channel]
        if self._listening.pop(channel, None) is not None:
            try:
                await self.backend.unlisten(channel)
            except Exception as error:  # the connection is gone already
                logger.info("SSE: could not unsubscribe from %r (%s)", channel, error)

    def shutdown(self) -> None:
        """End every open stream now, with a retry hint; refuse new ones."""
        self.closing = True
        for stream in tuple(self.streams):
            stream._end(_SHUTDOWN, self.shutdown_retry_ms)

    async def close(self) -> None:
        """End the streams and release the backend's connections."""
        self.shutdown()
        await self.backend.close()
