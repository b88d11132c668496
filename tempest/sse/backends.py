"""Where channel events travel and are kept: the backend protocol and the in-process one.

A backend assigns each published event an id (``"<ms>-<seq>"``, increasing per
channel), keeps the last ``history_size`` events of each channel for clients that resume
with ``Last-Event-ID``, and hands every event to the :class:`~tempest.sse.hub.EventHub`
of each process listening to its channel. :class:`MemoryEventBackend` does it inside one
process; :class:`~tempest.sse.redis.RedisEventBackend` across processes.
"""

from __future__ import annotations

import time
from collections import deque
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Literal, Protocol

from tempest.sse.events import EventId

__all__ = ["Deliver", "EventBackend", "MemoryEventBackend", "Replay"]

Deliver = Callable[[str, EventId, str], None]
"""Called with (channel, event id, payload) for each event of a listened channel."""


@dataclass(frozen=True, slots=True)
class Replay:
    """The events of a channel after a given id, as far as the history reaches.

    Attributes:
        events: (id, payload) pairs, oldest first.
        status: ``"ok"``: every event after the id is in ``events``; ``"gap"``: some were
            already dropped from the history; ``"unknown"``: the id was never given by
            this channel (another deployment, a flushed Redis, an expired history).
    """

    events: list[tuple[EventId, str]]
    status: Literal["ok", "gap", "unknown"]


class EventBackend(Protocol):
    """What the hub needs from a backend."""

    def bind(self, deliver: Deliver, lost: Callable[[], None]) -> None:
        """Route listened events to ``deliver``; call ``lost`` when live delivery broke."""

    async def publish(self, channel: str, payload: str) -> EventId:
        """Append one event to the channel's history and deliver it; return its id."""

    async def listen(self, channel: str) -> None:
        """Start delivering the channel's events (returns once they will be delivered)."""

    async def unlisten(self, channel: str) -> None:
        """Stop delivering the channel's events."""

    async def since(self, channel: str, after: EventId) -> Replay:
        """The kept events of ``channel`` published after ``after``."""

    async def close(self) -> None:
        """Release connections and tasks."""


@dataclass(slots=True)
class _History:
    events: deque[tuple[EventId, str]]
    first: EventId = (0, 0)  # the first event this history ever had
    last: EventId = (0, 0)
    dropped: EventId = (0, 0)  # the newest event that fell out of the history
    listened: bool = field(default=False)


class MemoryEventBackend:
    """Channels inside this process: right for one process (tests, ``runserver``)."""

    def __init__(self, *, history_size: int = 1000, history_ttl_seconds: float = 86400) -> None:
        """Keep ``history_size`` events per channel, for ``history_ttl_seconds`` after the last.

        A channel nobody listens to is forgotten once its last event is older than the TTL
        (checked as events are published), so channels named per user or per order do not
        pile up in the process.

        Raises:
            ValueError: ``history_size`` is negative or ``history_ttl_seconds`` not positive.
        """
        if history_size < 0:
            raise ValueError("history_size must be >= 0 (SSE_HISTORY_SIZE)")
        if history_ttl_seconds <= 0:
            raise ValueError("history_ttl_seconds must be > 0 (SSE_HISTORY_TTL_SECONDS)")
        self.history_size = history_size
        self.history_ttl_ms = int(history_ttl_seconds * 1000)
        self._swept = 0
        self._channels: dict[str, _History] = {}
        self._deliver: Deliver | None = None

    def bind(self, deliver: Deliver, lost: Callable[[], None]) -> None:
        """Route events to ``deliver`` (nothing here can be lost)."""
        self._deliver = deliver

    def _history(self, channel: str) -> _History:
        history = self._channels.get(channel)
        if history is None:
            history = self._channels[channel] = _History(deque())
        return history

    async def publish(self, channel: str, payload: str) -> EventId:
        """Append, trim to ``history_size``, deliver; the id is (now in ms, sequence)."""
        now = time.time_ns() // 1_000_000
        if now - self._swept > self.history_ttl_ms // 10 + 1:
            self._sweep(now)
        history = self._history(channel)
        last = history.last
        event_id = (now, 0) if now > last[0] else (last[0], last[1] + 1)
        history.last = event_id
        if history.first == (0, 0):
            history.first = event_id
        if self.history_size:
            events = history.events
            if len(events) >= self.history_size:
                history.dropped = events.popleft()[0]
            events.append((event_id, payload))
        else:
            history.dropped = event_id
        if history.listened and self._deliver is not None:
            self._deliver(channel, event_id, payload)
        return event_id

    def _sweep(self, now: int) -> None:
        self._swept = now
        expired = now - self.history_ttl_ms
        for name in [
            name
            for name, history in self._channels.items()
            if not history.listened and history.last[0] < expired
        ]:
            del self._channels[name]

    async def listen(self, channel: str) -> None:
        """Deliver the channel's events from now on."""
        self._history(channel).listened = True

    async def unlisten(self, channel: str) -> None:
        """Stop delivering; a channel with nothing kept is forgotten."""
        history = self._channels.get(channel)
        if history is not None:
            history.listened = False
            if not history.events:
                del self._channels[channel]

    async def since(self, channel: str, after: EventId) -> Replay:
        """The kept events after ``after``; see :class:`Replay` for the status."""
        history = self._channels.get(channel)
        if history is None or after > history.last or after < history.first:
            # Not an id this channel gave (e.g. one from before the process restarted).
            return Replay([], "unknown")
        if history.dropped > after:
            return Replay([], "gap")
        return Replay([item for item in history.events if item[0] > after], "ok")

    async def close(self) -> None:
        """Nothing to release."""
