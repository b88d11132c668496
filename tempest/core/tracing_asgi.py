"""The request's span: :class:`TracingMiddleware`, wrapped around the whole ASGI stack.

FastAPI 0.165 traces requests itself (``FastAPI(telemetry=...)``), but its request span
costs about 80 µs on a hello request (measured, bench/tracing.py's machine): it parses the
headers twice, builds a dozen attributes, URL-encodes the query, and walks the middleware
stack on every request. This middleware records the same server span (route-template
name, ``traceparent`` continued, status, errors) for a fraction of that, which keeps a
traced request within twice the cost of an untraced one. FastAPI's telemetry is used
instead when TRACING_OPERATION_SPANS asks for its operation spans (dependencies,
endpoint, serialization); this middleware then only applies the exclusions.

It also keeps excluded requests (health probes, metrics scrapes) out of tracing
entirely: they run with OpenTelemetry's instrumentation suppressed, so the SQL and HTTP
calls they make start no trace of their own.
"""

from __future__ import annotations

from collections.abc import Callable, MutableMapping
from typing import TYPE_CHECKING, Any

from opentelemetry import context as otel_context, propagate, trace
from opentelemetry.instrumentation.utils import suppress_instrumentation
from starlette.routing import Mount

if TYPE_CHECKING:
    from starlette.types import ASGIApp, Message, Receive, Scope, Send

__all__ = ["UNTRACED_SCOPE_KEY", "TracingMiddleware"]

UNTRACED_SCOPE_KEY = "tempest.untraced"
"""Set on the scope of a request excluded from tracing."""

_SERVER = trace.SpanKind.SERVER
_ERROR = trace.StatusCode.ERROR


class TracingMiddleware:
    """Server spans for HTTP requests, exclusions, and optional receive/send sub-spans.

    Args:
        app: The ASGI application (the built middleware stack).
        tracer: The tracer of the server spans.
        exclude: True for a scope that must not be traced (it may mark the scope).
        server_spans: Record the request's server span (False when FastAPI does).
        subspans: Also a span per ``receive`` and ``send``.
    """

    def __init__(
        self,
        app: ASGIApp,
        *,
        tracer: trace.Tracer,
        exclude: Callable[[MutableMapping[str, Any]], bool],
        server_spans: bool = True,
        subspans: bool = False,
    ) -> None:
        self.app = app
        self.tracer = tracer
        self.exclude = exclude
        self.server_spans = server_spans
        self.subspans = subspans
        # The header names the configured propagators read (traceparent, tracestate,
        # baggage by default), as bytes: a request without them skips extraction.
        self.fields = frozenset(
            name.lower().encode("latin-1") for name in propagate.get_global_textmap().fields
        )

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        """Run the request inside its span, or untraced when it is excluded."""
        if scope["type"] not in ("http", "websocket"):
            await self.app(scope, receive, send)
            return
        if scope.get(UNTRACED_SCOPE_KEY) or self.exclude(scope):
            with suppress_instrumentation():
                await self.app(scope, receive, send)
            return
        if not self.server_spans or scope["type"] != "http":
            await self._call(scope, receive, send)
            return
        parent = self._parent(scope)
        method = scope.get("method", "")
        span = self.tracer.start_span(
            method,
            context=parent,
            kind=_SERVER,
            attributes={
                "http.request.method": method,
                "url.path": scope.get("path", ""),
                "url.scheme": scope.get("scheme", "http"),
            },
        )
        token = otel_context.attach(trace.set_span_in_context(span, parent))
        status = 0

        async def send_status(message: Message) -> None:
            nonlocal status
            if message["type"] == "http.response.start":
                status = message["status"]
            await send(message)

        try:
            await self._call(scope, receive, send_status)
        except BaseException as error:
            span.set_attribute("error.type", type(error).__qualname__)
            span.set_status(_ERROR)
            raise
        finally:
            route = _route_of(scope)
            if route is not None:
                span.update_name(f"{method} {route}")
                span.set_attribute("http.route", route)
            if status:
                span.set_attribute("http.response.status_code", status)
                if status >= 500:
                    span.set_status(_ERROR)
            span.end()
            otel_context.detach(token)

    def _parent(self, scope: Scope) -> Any:
        carrier: dict[str, str] | None = None
        for name, value in scope.get("headers", ()):
            if name in self.fields:
                if carrier is None:
                    carrier = {}
                key = name.decode("latin-1")
                text = value.decode("latin-1")
                carrier[key] = f"{carrier[key]},{text}" if key in carrier else text
        return propagate.extract(carrier) if carrier else None

    async def _call(self, scope: Scope, receive: Receive, send: Send) -> None:
        if self.subspans and scope["type"] == "http":
            await self.app(scope, self._traced_receive(receive), self._traced_send(send))
        else:
            await self.app(scope, receive, send)

    def _traced_receive(self, receive: Receive) -> Receive:
        async def traced() -> Message:
            with self.tracer.start_as_current_span("http receive") as span:
                message = await receive()
                span.set_attribute("asgi.event.type", message["type"])
                return message

        return traced

    def _traced_send(self, send: Send) -> Send:
        async def traced(message: Message) -> None:
            with self.tracer.start_as_current_span("http send") as span:
                span.set_attribute("asgi.event.type", message["type"])
                if message["type"] == "http.response.start":
                    span.set_attribute("http.response.status_code", message["status"])
                await send(message)

        return traced


def _route_of(scope: Scope) -> str | None:
    """The matched route's template (``/api/orders/{id}``); None when nothing matched."""
    route = scope.get("route")
    path_format = getattr(route, "path_format", None)
    if not isinstance(path_format, str):
        return None
    if isinstance(route, Mount):  # its template holds its own prefix: /static/{path}
        return path_format
    return scope.get("root_path", "").rstrip("/") + path_format or "/"
