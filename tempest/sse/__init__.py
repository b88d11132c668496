"""Server-Sent Events: :class:`EventStream`, :class:`ServerSentEvent`, :func:`sse_response`.

A stream is one client's queue of frames; given a channel, it receives what
:func:`publish` sends to that channel from any process of the project (Redis when
``SSE_URL``/``REDIS_URL`` is set, this process otherwise), and a reconnecting client
resumes after its ``Last-Event-ID``. The frame encoding and the response class are
FastAPI's (:mod:`fastapi.sse`). Names are resolved lazily (PEP 562).
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

from tempest._lazy import lazy_attributes

# Public name -> the module that defines it, loaded on first use. The TYPE_CHECKING block
# below imports exactly these names, and __all__ lists them (tests/test_exports.py).
_LAZY: dict[str, str] = {
    "EventStream": "tempest.sse.stream",
    "ServerSentEvent": "tempest.sse.events",
    "sse_response": "tempest.sse.response",
    "EventStreamResponse": "tempest.sse.response",
    "publish": "tempest.sse.project",
    "get_event_hub": "tempest.sse.project",
    "close_event_hub": "tempest.sse.project",
    "EventHub": "tempest.sse.hub",
    "EventBackend": "tempest.sse.backends",
    "MemoryEventBackend": "tempest.sse.backends",
    "RedisEventBackend": "tempest.sse.redis_backend",
}

__all__ = [*_LAZY]

_load = lazy_attributes(__name__, _LAZY)


def __getattr__(name: str) -> Any:
    return _load(name)


def __dir__() -> list[str]:
    return sorted(__all__)


if TYPE_CHECKING:  # pragma: no cover - the table's names, for type checkers and IDEs
    from tempest.sse.backends import (
        EventBackend as EventBackend,
        MemoryEventBackend as MemoryEventBackend,
    )
    from tempest.sse.events import ServerSentEvent as ServerSentEvent
    from tempest.sse.hub import EventHub as EventHub
    from tempest.sse.project import (
        close_event_hub as close_event_hub,
        get_event_hub as get_event_hub,
        publish as publish,
    )
    from tempest.sse.redis_backend import RedisEventBackend as RedisEventBackend
    from tempest.sse.response import (
        EventStreamResponse as EventStreamResponse,
        sse_response as sse_response,
    )
    from tempest.sse.stream import EventStream as EventStream
