"""Drain a server process on SIGTERM before uvicorn stops it.

uvicorn's own shutdown (``Server.shutdown``) closes the listening socket within 0.1 s of
SIGTERM, closes idle keep-alive connections, waits for the requests in flight (up to
``--timeout-graceful-shutdown``, then cancels them) and only then sends the ASGI
``lifespan.shutdown`` event. An application therefore learns of the shutdown too late to
say anything: from the first 0.1 s on, a new connection is refused, and a load balancer
that has not yet taken the instance out of rotation sees errors.

:class:`GracefulShutdownMiddleware` hooks SIGTERM itself (at ``lifespan.startup``, after
uvicorn installed its handler) and puts a drain period in front of uvicorn's shutdown:

1. SIGTERM: the process starts draining. ``GET /health/readiness`` answers 503 (the
   readiness body, with the ``shutdown`` check failing), so the load balancer stops
   routing here; liveness still answers 200 (the process must not be restarted); every
   other new request answers 503 ``SERVICE_SHUTTING_DOWN`` with ``Connection: close``
   (the client's keep-alive connection ends, its next connection goes elsewhere) and
   ``Retry-After``. Requests already in flight go on.
2. ``drain_seconds`` later the signal is handed to uvicorn, which stops listening and
   lets the requests in flight finish within ``timeout_graceful_shutdown`` seconds
   (``manage.py serve`` passes ``GRACEFUL_SHUTDOWN_TIMEOUT``), then cancels them.

A second SIGTERM during the drain hands the signal to uvicorn at once.
"""

from __future__ import annotations

import asyncio
import json
import logging
import os
import signal
import threading
from collections.abc import Callable, Collection
from types import FrameType
from typing import Any

from starlette.types import ASGIApp, Message, Receive, Scope, Send

from tempest.api.error_locale import localized_body

__all__ = ["GracefulShutdownMiddleware"]

logger = logging.getLogger("tempest.shutdown")

_CODE = "SERVICE_SHUTTING_DOWN"
# Set by runserver in its reloader's server process (runserver.APPLICATION_VARIABLE).
_RELOADER_VARIABLE = "TEMPEST_RUNSERVER_APPLICATION"
_SignalHandler = Callable[[int, FrameType | None], Any] | int | None


class GracefulShutdownMiddleware:
    """Answer 503 to new requests and fail readiness while the process drains.

    Pure ASGI; outside a drain a request costs one attribute test. Add it outermost of
    ``MIDDLEWARE`` (``"tempest.api.middleware.GracefulShutdownMiddleware"``), or
    ``app.add_middleware(GracefulShutdownMiddleware, drain_seconds=5.0)``.
    """

    def __init__(
        self,
        app: ASGIApp,
        *,
        drain_seconds: float = 5.0,
        retry_after: int = 5,
        readiness_path: str = "/health/readiness",
        exempt_paths: Collection[str] = ("/health/liveness",),
        handle_signals: bool = True,
    ) -> None:
        """Wrap ``app``.

        Args:
            app: The ASGI application to wrap.
            drain_seconds: Seconds between SIGTERM and uvicorn's shutdown, during which
                readiness fails and new requests get 503; set it a little above the time
                the load balancer takes to notice a failing readiness probe.
            retry_after: Value of the ``Retry-After`` header of the 503, in seconds.
            readiness_path: The readiness probe's path, answered 503 during the drain.
            exempt_paths: Paths served as usual during the drain (liveness).
            handle_signals: Hook SIGTERM at ``lifespan.startup``; False leaves the drain
                to :meth:`start_draining`.

        Raises:
            ValueError: ``drain_seconds`` or ``retry_after`` is negative.
        """
        if drain_seconds < 0:
            raise ValueError("drain_seconds must be >= 0 (GRACEFUL_SHUTDOWN_DRAIN_SECONDS)")
        if isinstance(retry_after, bool) or retry_after < 0:
            raise ValueError("retry_after must be a non-negative integer")
        self.app = app
        self.drain_seconds = float(drain_seconds)
        self.readiness_path = readiness_path
        self.exempt_paths = frozenset(exempt_paths)
        self.handle_signals = handle_signals
        self.draining = False
        self._hooked = False
        self._forwarded = False
        self._envelope = {
            "detail": "The server is shutting down; retry the request.",
            "code": _CODE,
            "details": {"retry_after": retry_after},
        }
        self._refusal = json.dumps(self._envelope, separators=(",", ":")).encode()
        self._not_ready = json.dumps(
            {"status": "unavailable", "checks": {"shutdown": "failing"}}, separators=(",", ":")
        ).encode()
        self._retry_after = str(retry_after).encode()

    @classmethod
    def from_settings(cls, app: ASGIApp, settings: Any) -> GracefulShutdownMiddleware:
        """Build from ``GRACEFUL_SHUTDOWN_DRAIN_SECONDS``.

        Under ``runserver``'s reloader the drain is 0: the reloader stops its server
        process with SIGTERM on every saved change, and nothing balances its load.
        """
        drain = settings.GRACEFUL_SHUTDOWN_DRAIN_SECONDS
        if os.environ.get(_RELOADER_VARIABLE):
            drain = 0.0
        return cls(app, drain_seconds=drain)

    def start_draining(self) -> None:
        """Start the drain (what SIGTERM does), without stopping the server."""
        if not self.draining:
            self.draining = True
            logger.warning(
                "Shutting down: draining for %ss (readiness 503, new requests 503)",
                self.drain_seconds,
            )

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        """Serve one scope: hook SIGTERM at start-up, refuse new requests while draining."""
        if self.draining and scope["type"] == "http":
            path: str = scope["path"]
            if path not in self.exempt_paths:
                await self._refuse(scope, send, path == self.readiness_path)
                return
        elif scope["type"] == "lifespan" and self.handle_signals and not self._hooked:
            await self.app(scope, self._hooking(receive), send)
            return
        await self.app(scope, receive, send)

    def _hooking(self, receive: Receive) -> Receive:
        async def hooked_receive() -> Message:
            message = await receive()
            if message["type"] == "lifespan.startup":
                self._hook_sigterm()
            return message

        return hooked_receive

    def _hook_sigterm(self) -> None:
        # Signal handlers can only be set from the main thread (uvicorn's constraint too).
        if threading.current_thread() is not threading.main_thread():
            logger.info("Not in the main thread: SIGTERM is not hooked, no drain period")
            return
        loop = asyncio.get_running_loop()
        previous: _SignalHandler = signal.getsignal(signal.SIGTERM)

        def on_sigterm(signum: int, frame: FrameType | None) -> None:
            if self.draining:  # a second SIGTERM: stop now
                loop.call_soon_threadsafe(self._forward, previous, signum)
                return
            self.start_draining()
            # From a signal handler only the thread-safe call may touch the loop.
            loop.call_soon_threadsafe(
                loop.call_later, self.drain_seconds, self._forward, previous, signum
            )

        signal.signal(signal.SIGTERM, on_sigterm)
        self._hooked = True

    def _forward(self, previous: _SignalHandler, signum: int) -> None:
        if self._forwarded:
            return
        self._forwarded = True
        logger.info("Drain over: the server stops accepting connections")
        if callable(previous):
            previous(signum, None)
        elif previous == signal.SIG_DFL:
            signal.signal(signum, signal.SIG_DFL)
            signal.raise_signal(signum)

    async def _refuse(self, scope: Scope, send: Send, readiness: bool) -> None:
        if readiness:
            body = self._not_ready
        else:
            body = localized_body(scope, self._envelope, _CODE, english=self._refusal)
        await send(
            {
                "type": "http.response.start",
                "status": 503,
                "headers": [
                    (b"content-type", b"application/json"),
                    (b"content-length", str(len(body)).encode()),
                    (b"connection", b"close"),
                    (b"retry-after", self._retry_after),
                    (b"cache-control", b"no-store"),
                ],
            }
        )
        await send(
            {"type": "http.response.body", "body": b"" if scope["method"] == "HEAD" else body}
        )
