"""Channel events across processes through Redis: a stream for history, pub/sub for delivery.

Publishing runs one Lua script: ``XADD`` to the channel's stream (trimmed to the history
size, expiring after the history TTL) then ``PUBLISH`` of ``"<id> <payload>"`` on the
channel. Redis runs scripts one at a time, so every process receives a channel's events in
the order of their ids. Each process keeps one pub/sub connection, subscribed to the
channels its clients listen to, and one reader task; ``Last-Event-ID`` resumes with
``XRANGE`` over the stream. The stream keeps one event more than the history size: the
oldest kept id tells whether a client's last id is still followed by everything it missed.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
from collections import deque
from collections.abc import Callable
from typing import TYPE_CHECKING, Any

from tempest.sse.backends import Deliver, Replay
from tempest.sse.events import EventId, format_event_id, parse_event_id
from tempest.utils.redis_pool import blocking_redis_client

if TYPE_CHECKING:
    from redis.asyncio import Redis
    from redis.asyncio.client import PubSub

__all__ = ["RedisEventBackend"]

logger = logging.getLogger("tempest.sse")

_PUBLISH = """
local id = redis.call('XADD', KEYS[1], 'MAXLEN', ARGV[1], '*', 'p', ARGV[2])
redis.call('PEXPIRE', KEYS[1], ARGV[3])
redis.call('PUBLISH', KEYS[1], id .. ' ' .. ARGV[2])
return id
"""
_CONTROL = "tempest:sse-control"  # always subscribed: the reader never runs out of channels


def _text(value: Any) -> str:
    return value.decode() if isinstance(value, bytes) else str(value)


class RedisEventBackend:
    """Channels shared by every process connected to one Redis."""

    def __init__(
        self,
        url: str,
        *,
        history_size: int = 1000,
        history_ttl_seconds: int = 86400,
        prefix: str = "tempest:sse:",
        timeout: float = 5.0,
    ) -> None:
        """Configure; nothing connects before the first publish or listen.

        Args:
            url: A Redis URL.
            history_size: Events kept per channel for ``Last-Event-ID`` resumes.
            history_ttl_seconds: A channel's history expires this long after its last event.
            prefix: Prefix of the stream keys and pub/sub channels.
            timeout: Seconds to wait for Redis (connection, reply, subscription).

        Raises:
            ValueError: ``history_size`` is negative or ``history_ttl_seconds`` not positive.
        """
        if history_size < 0:
            raise ValueError("history_size must be >= 0 (SSE_HISTORY_SIZE)")
        if history_ttl_seconds <= 0:
            raise ValueError("history_ttl_seconds must be > 0 (SSE_HISTORY_TTL_SECONDS)")
        self.url = url
        self.history_size = history_size
        self.history_ttl_ms = int(history_ttl_seconds * 1000)
        self.prefix = prefix
        self.timeout = timeout
        self._client: Redis | None = None
        self._script: Any = None
        self._pubsub: PubSub | None = None
        self._listener: Redis | None = None
        self._reader: asyncio.Task[None] | None = None
        self._waiting: dict[str, deque[asyncio.Future[None]]] = {}
        self._deliver: Deliver | None = None
        self._lost: Callable[[], None] | None = None
        self._starting: asyncio.Lock | None = None

    def bind(self, deliver: Deliver, lost: Callable[[], None]) -> None:
        """Route events to ``deliver``; ``lost`` is called when the pub/sub connection breaks."""
        self._deliver, self._lost = deliver, lost

    def _redis(self) -> Redis:
        if self._client is None:
            self._client = blocking_redis_client(
                self.url, needed_by="tempest.sse", timeout=self.timeout, max_connections=32
            )
            self._script = self._client.register_script(_PUBLISH)
        return self._client

    async def publish(self, channel: str, payload: str) -> EventId:
        """Append the event to the channel's stream and publish it to every process.

        Raises:
            redis.exceptions.RedisError: Redis is unreachable (the event is not sent).
        """
        self._redis()
        key = self.prefix + channel
        raw = await self._script(
            keys=[key], args=[self.history_size + 1, payload, self.history_ttl_ms]
        )
        event_id = parse_event_id(_text(raw))
        assert event_id is not None  # Redis stream ids have this form
        return event_id

    async def listen(self, channel: str) -> None:
        """Subscribe to the channel; returns once Redis confirmed the subscription.

        Raises:
            ConnectionError: Redis did not confirm within ``timeout`` seconds.
        """
        pubsub = await self._started()
        key = self.prefix + channel
        confirmed: asyncio.Future[None] = asyncio.get_running_loop().create_future()
        self._waiting.setdefault(key, deque()).append(confirmed)
        await pubsub.subscribe(key)
        try:
            async with asyncio.timeout(self.timeout):
                await confirmed
        except TimeoutError:
            raise ConnectionError(f"Redis did not confirm the subscription to {key}") from None

    async def unlisten(self, channel: str) -> None:
        """Unsubscribe from the channel (nothing to do if the connection was lost)."""
        if self._pubsub is not None and self._reader is not None and not self._reader.done():
            with contextlib.suppress(Exception):
                await self._pubsub.unsubscribe(self.prefix + channel)

    async def since(self, channel: str, after: EventId) -> Replay:
        """The kept events after ``after``, from the channel's stream."""
        key = self.prefix + channel
        async with self._redis().pipeline(transaction=False) as pipe:
            pipe.xinfo_stream(key)
            pipe.xrange(key, "(" + format_event_id(after), "+")
            info, entries = await pipe.execute(raise_on_error=False)
        if isinstance(info, Exception):
            if isinstance(entries, Exception):
                raise entries
            return Replay([], "unknown")  # no such stream: expired, flushed or never used
        last = parse_event_id(_text(info["last-generated-id"]))
        first_entry = info.get("first-entry")
        first = parse_event_id(_text(first_entry[0])) if first_entry else last
        trimmed = int(info["entries-added"]) > int(info["length"])
        if last is None or first is None or after > last or (not trimmed and after < first):
            return Replay([], "unknown")
        if trimmed and after < first:
            return Replay([], "gap")
        events: list[tuple[EventId, str]] = []
        for raw_id, fields in entries:
            event_id = parse_event_id(_text(raw_id))
            if event_id is not None:
                events.append((event_id, _text(fields[b"p"])))
        return Replay(events, "ok")

    async def _started(self) -> PubSub:
        if self._starting is None:
            self._starting = asyncio.Lock()
        async with self._starting:
            if self._pubsub is not None and self._reader is not None and not self._reader.done():
                return self._pubsub
            from redis.asyncio import Redis

            if self._listener is not None:  # the one whose connection broke
                with contextlib.suppress(Exception):
                    await self._listener.aclose(close_connection_pool=True)
            # A connection of its own without a read timeout: it waits for events for hours.
            self._listener = Redis.from_url(self.url, socket_connect_timeout=self.timeout)
            pubsub = self._listener.pubsub()
            await pubsub.subscribe(_CONTROL)
            self._pubsub = pubsub
            self._reader = asyncio.create_task(self._read(pubsub), name="tempest-sse-reader")
            return pubsub

    async def _read(self, pubsub: PubSub) -> None:
        try:
            while True:
                message = await pubsub.get_message(timeout=None)
                if message is None:
                    continue
                kind, key = message["type"], _text(message["channel"])
                if kind == "message":
                    self._dispatch(key, message["data"])
                elif kind == "subscribe":
                    waiting = self._waiting.get(key)
                    if waiting:
                        future = waiting.popleft()
                        if not future.done():
                            future.set_result(None)
                        if not waiting:
                            del self._waiting[key]
        except asyncio.CancelledError:
            raise
        except Exception as error:  # the connection broke: streams end, clients resume
            logger.warning("SSE: lost the Redis pub/sub connection (%s)", error)
            self._forget(pubsub)
            if self._lost is not None:
                self._lost()

    def _dispatch(self, key: str, data: bytes) -> None:
        raw_id, _, payload = data.partition(b" ")
        event_id = parse_event_id(raw_id.decode())
        if event_id is not None and self._deliver is not None:
            self._deliver(key.removeprefix(self.prefix), event_id, payload.decode())

    def _forget(self, pubsub: PubSub) -> None:
        if self._pubsub is pubsub:
            self._pubsub = None
        for waiting in self._waiting.values():
            for future in waiting:
                if not future.done():
                    future.set_exception(ConnectionError("the Redis pub/sub connection broke"))
        self._waiting.clear()

    async def close(self) -> None:
        """Stop the reader, close both connections."""
        reader, self._reader = self._reader, None
        if reader is not None:
            reader.cancel()
            with contextlib.suppress(BaseException):
                await reader
        pubsub, self._pubsub = self._pubsub, None
        if pubsub is not None:
            with contextlib.suppress(Exception):
                await pubsub.aclose()
        for client in (self._listener, self._client):
            if client is not None:
                with contextlib.suppress(Exception):
                    await client.aclose(close_connection_pool=True)
        self._listener = self._client = None
