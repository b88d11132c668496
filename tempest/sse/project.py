"""The project's event hub, from settings: :func:`get_event_hub`, :func:`publish`, shutdown.

``SSE_URL`` (else ``REDIS_URL``, else memory) chooses where channel events travel, with
no code change (see :func:`tempest.conf.shared_state.shared_state_url`). Outside a
configured project (no settings module) the hub is in-process with the defaults.

The first stream of a process hooks SIGTERM and SIGINT (in the main thread, in
front of uvicorn's handlers and of ``GracefulShutdownMiddleware``'s): the signal ends
every open stream at once, with a ``retry`` hint, then goes on to the previous handler.
Without it uvicorn would wait for the streams, which never end by themselves, until
``GRACEFUL_SHUTDOWN_TIMEOUT``.
"""

from __future__ import annotations

import asyncio
import signal
import threading
from dataclasses import dataclass
from functools import cache
from types import FrameType
from typing import Any

from tempest.sse.hub import EventHub

__all__ = [
    "close_event_hub",
    "default_options",
    "get_event_hub",
    "hook_signals",
    "publish",
    "reset_event_hub",
    "shutdown_streams",
]

_SIGNALS = (signal.SIGTERM, signal.SIGINT)
_hub: EventHub | None = None
_hub_loop: asyncio.AbstractEventLoop | None = None
_previous: dict[int, Any] = {}


@dataclass(frozen=True)
class Options:
    """What the hub is built from (the SSE_* settings)."""

    url: str = "memory://"
    history_size: int = 1000
    history_ttl_seconds: int = 86400
    max_queued: int = 256
    shutdown_retry_ms: int = 1000


@cache
def default_options() -> Options:
    """The SSE_* settings of the project, read once; the defaults without a project."""
    from tempest.conf import ImproperlyConfigured, settings
    from tempest.conf.shared_state import shared_state_url

    try:
        configured = settings.INSTALLED_APPS is not None
    except ImproperlyConfigured:
        configured = False
    if not configured:
        return Options()
    retry = getattr(settings, "SSE_SHUTDOWN_RETRY_MS", None)
    if retry is None:
        middleware = [str(path).rsplit(".", 1)[-1] for path in settings.MIDDLEWARE]
        drain = getattr(settings, "GRACEFUL_SHUTDOWN_DRAIN_SECONDS", 0.0)
        # Reconnecting during the drain would meet a 503, which ends an EventSource.
        retry = int((drain if "GracefulShutdownMiddleware" in middleware else 0) * 1000) + 1000
    return Options(
        url=shared_state_url(settings, getattr(settings, "SSE_URL", None)),
        history_size=getattr(settings, "SSE_HISTORY_SIZE", 1000),
        history_ttl_seconds=getattr(settings, "SSE_HISTORY_TTL_SECONDS", 86400),
        max_queued=getattr(settings, "SSE_MAX_QUEUED", 256),
        shutdown_retry_ms=retry,
    )


def build_event_hub(options: Options) -> EventHub:
    """A hub on the backend ``options.url`` names."""
    from tempest.sse.backends import EventBackend, MemoryEventBackend

    backend: EventBackend
    if options.url.startswith("memory://"):
        backend = MemoryEventBackend(
            history_size=options.history_size, history_ttl_seconds=options.history_ttl_seconds
        )
    else:
        from tempest.sse.redis_backend import RedisEventBackend

        backend = RedisEventBackend(
            options.url,
            history_size=options.history_size,
            history_ttl_seconds=options.history_ttl_seconds,
        )
    return EventHub(
        backend, max_queued=options.max_queued, shutdown_retry_ms=options.shutdown_retry_ms
    )


def get_event_hub() -> EventHub:
    """This process's hub, for the running event loop (a new loop gets a new hub).

    Raises:
        RuntimeError: No event loop is running.
    """
    global _hub, _hub_loop
    loop = asyncio.get_running_loop()
    if _hub is None or _hub_loop is not loop:
        _hub, _hub_loop = build_event_hub(default_options()), loop
    return _hub


async def publish(
    channel: str, data: Any = None, *, event: str | None = None, retry: int | None = None
) -> str:
    """Publish an event to every client of ``channel``, whichever process serves it.

    Call it from a route, a task run by ``manage.py worker``, a command...: with Redis
    configured, every server process delivers it to its clients of the channel.

    Args:
        channel: The channel's name (letters, digits, ``_ . : / @ -``).
        data: A string or bytes (sent as is), a JSON-serializable value, or a
            :class:`~tempest.sse.ServerSentEvent` without an id.
        event: The event type (the browser's ``addEventListener`` name).
        retry: Reconnect delay hint in milliseconds.

    Returns:
        The event's id (what a client sends back as ``Last-Event-ID``).

    Raises:
        ValueError: Invalid channel name or an event with its own id.
        TypeError: ``data`` is not JSON-serializable.
        redis.exceptions.RedisError: Redis is configured and unreachable.
    """
    return await get_event_hub().publish(channel, data, event=event, retry=retry)


async def close_event_hub() -> None:
    """End this process's open streams and close the hub's connections (app shutdown)."""
    global _hub, _hub_loop
    hub, _hub, _hub_loop = _hub, None, None
    if hub is not None:
        await hub.close()


def reset_event_hub() -> None:
    """Forget the hub and the settings read (tests that change settings)."""
    global _hub, _hub_loop
    _hub = _hub_loop = None
    default_options.cache_clear()


def shutdown_streams() -> None:
    """End every open stream of this process now (what SIGTERM does)."""
    if _hub is not None:
        _hub.shutdown()


def hook_signals() -> None:
    """End the streams on SIGTERM/SIGINT, then run the previous handlers (first stream).

    Only streams need it: a process that only publishes (``manage.py worker``) keeps its
    handlers as they are. Signal handlers can only be set from the main thread; elsewhere
    (a test client's thread) nothing is hooked and the streams end with the hub.
    """
    if threading.current_thread() is not threading.main_thread():
        return
    for signum in _SIGNALS:
        current = signal.getsignal(signum)
        if current is _on_signal:
            continue
        _previous[signum] = current
        signal.signal(signum, _on_signal)


def _on_signal(signum: int, frame: FrameType | None) -> None:
    hub, loop = _hub, _hub_loop
    if hub is not None and loop is not None and not loop.is_closed():
        loop.call_soon_threadsafe(hub.shutdown)
    previous = _previous.get(signum)
    if callable(previous):
        previous(signum, frame)
    elif previous == signal.SIG_DFL:
        signal.signal(signum, signal.SIG_DFL)
        signal.raise_signal(signum)
