"""Pure ASGI middleware giving every request a correlation ID."""

from __future__ import annotations

import os
import re

from starlette.types import ASGIApp, Message, Receive, Scope, Send

from tempest.utils.context import request_id_ctx, reset_actor, set_actor

__all__ = ["RequestIDMiddleware"]

# Only short, log- and header-safe IDs are trusted from clients.
_SAFE_REQUEST_ID = re.compile(rb"[A-Za-z0-9._-]{1,128}")


class RequestIDMiddleware:
    """Attach a request ID to every HTTP request, its log lines and its response.

    The ID is taken from the request header when it is safe (at most 128 characters of
    ``A-Z a-z 0-9 . _ -``) and generated (32 random hex digits) otherwise. While the request runs
    it is in :data:`tempest.core.context.request_id_ctx` and ``request.state.request_id``;
    the response carries it in the same header. WebSocket connections get the ID in the
    context only; other scopes (lifespan) pass straight through.
    """

    def __init__(self, app: ASGIApp, header_name: str = "X-Request-ID") -> None:
        """Wrap ``app``.

        Args:
            app: The ASGI application to wrap.
            header_name: Header read from requests and written to responses.
        """
        self.app = app
        self.header_name = header_name
        self._header_key = header_name.lower().encode("latin-1")

    @classmethod
    def from_settings(cls, app: ASGIApp, settings: object) -> ASGIApp:
        """Build the middleware for the ``MIDDLEWARE`` setting.

        Args:
            app: The ASGI application to wrap.
            settings: The project settings (unused: the middleware has no options).

        Returns:
            The wrapped application.
        """
        return cls(app)

    def _incoming_id(self, scope: Scope) -> str | None:
        for name, value in scope["headers"]:
            if name == self._header_key:
                if _SAFE_REQUEST_ID.fullmatch(value):
                    return str(value.decode("ascii"))
                return None
        return None

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        """Run the request with its ID set; see the class docstring."""
        scope_type = scope["type"]
        if scope_type != "http" and scope_type != "websocket":
            await self.app(scope, receive, send)
            return

        # os.urandom(16).hex() is 5x cheaper than uuid4().hex and just as unique.
        request_id = self._incoming_id(scope) or os.urandom(16).hex()
        # Kept in the state too: the 500 handler runs after the context is reset.
        state = scope.setdefault("state", {})
        state["request_id"] = request_id
        state["request_id_header"] = self.header_name
        token = request_id_ctx.set(request_id)
        # The request's user (set by the auth dependency) ends with the request, even when
        # requests share a context (an in-process test client).
        actor_token = set_actor("user", None)
        try:
            if scope_type == "websocket":
                await self.app(scope, receive, send)
                return

            header = (self._header_key, request_id.encode("ascii"))
            header_key = self._header_key

            async def send_with_request_id(message: Message) -> None:
                if message["type"] == "http.response.start":
                    headers = [
                        item for item in message.get("headers", ()) if item[0].lower() != header_key
                    ]
                    headers.append(header)
                    message["headers"] = headers
                await send(message)

            await self.app(scope, receive, send_with_request_id)
        finally:
            reset_actor(actor_token)
            request_id_ctx.reset(token)
