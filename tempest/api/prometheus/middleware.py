"""``PrometheusMiddleware``: count, time and size HTTP requests by route template.

A pure ASGI middleware. The route label is read from the ASGI scope *after* routing
(``scope["route"]``, which Starlette's router sets on the scope it was given): the
template ``/api/orders/{id}``, never the raw path, so 10,000 ids make one series. Routes
inside mounted sub-applications get the mount's prefix (``/static/{path}`` for a mounted
``StaticFiles``); a path no route matches is one series, ``<unmatched>``. An exception
that escapes the application counts as a 500 and is re-raised.

Everything that does not depend on the request is resolved in ``__init__``, and the
labelled children of each (method, route, status) are cached, so a request costs a few
dictionary look-ups and four value updates.
"""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from time import perf_counter
from typing import TYPE_CHECKING, Any

from tempest.api.prometheus.registry import (
    DEFAULT_LATENCY_BUCKETS,
    DEFAULT_SIZE_BUCKETS,
    http_metrics,
)

if TYPE_CHECKING:
    from prometheus_client import CollectorRegistry
    from starlette.types import ASGIApp, Message, Receive, Scope, Send

__all__ = ["UNMATCHED_ROUTE", "PrometheusMiddleware"]

UNMATCHED_ROUTE = "<unmatched>"
"""The route label of requests no route matched (404s, slash redirects)."""

_METHODS = frozenset(
    ("GET", "HEAD", "POST", "PUT", "PATCH", "DELETE", "OPTIONS", "TRACE", "CONNECT", "QUERY")
)


class PrometheusMiddleware:
    """Record every HTTP request in Prometheus families, labelled by route template.

    Families (``namespace`` ``tempest`` by default):
    ``tempest_http_requests_total{method, route, status}``,
    ``tempest_http_request_duration_seconds{method, route}``,
    ``tempest_http_request_size_bytes{method, route}`` and
    ``tempest_http_requests_in_progress{method}``. Methods outside the standard set are
    labelled ``OTHER``. WebSocket and lifespan traffic passes through untouched.

    Example:
        >>> app.add_middleware(PrometheusMiddleware, skip_paths=["/metrics"])
    """

    def __init__(
        self,
        app: ASGIApp,
        *,
        registry: CollectorRegistry | None = None,
        namespace: str = "tempest",
        skip_paths: Iterable[str] = (),
        latency_buckets: Sequence[float] = DEFAULT_LATENCY_BUCKETS,
        size_buckets: Sequence[float] = DEFAULT_SIZE_BUCKETS,
    ) -> None:
        """Wrap ``app``.

        Args:
            app: The ASGI application.
            registry: Where the families are registered; None: prometheus-client's
                default registry (what :func:`make_prometheus_registry` reads).
            namespace: Prefix of the family names.
            skip_paths: Exact paths not recorded at all (the scrape route itself).
            latency_buckets: Upper bounds of the duration histogram, in seconds.
            size_buckets: Upper bounds of the request size histogram, in bytes.
        """
        self.app = app
        metrics = http_metrics(registry, namespace, latency_buckets, size_buckets)
        self._requests = metrics.requests
        self._latency = metrics.latency
        self._size = metrics.size
        self._in_flight = metrics.in_flight
        self._skip = frozenset(skip_paths)
        self._labels: dict[tuple[int, str], str] = {}
        self._series: dict[tuple[str, str, int], tuple[Any, Any, Any]] = {}
        self._gauges: dict[str, Any] = {}

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        """Answer one ASGI event, recording it when it is an HTTP request."""
        if scope["type"] != "http" or scope["path"] in self._skip:
            await self.app(scope, receive, send)
            return
        method = scope["method"]
        gauge = self._gauges.get(method)
        if gauge is None:
            gauge = self._gauge(method)
        size = -1
        chunked = False
        for name, value in scope["headers"]:
            if name == b"content-length":
                try:
                    size = int(value)
                except ValueError:
                    size = 0
                break
            if name == b"transfer-encoding":
                chunked = True
        status = 500

        async def send_status(message: Message) -> None:
            nonlocal status
            if message["type"] == "http.response.start":
                status = message["status"]
            await send(message)

        if size < 0 and chunked:
            received = [0]

            async def counting_receive() -> Message:
                message = await receive()
                received[0] += len(message.get("body", b""))
                return message

            inner_receive: Receive = counting_receive
        else:
            received = None
            inner_receive = receive
        gauge.inc()
        start = perf_counter()
        try:
            await self.app(scope, inner_receive, send_status)
        except BaseException:
            status = 500
            raise
        finally:
            elapsed = perf_counter() - start
            gauge.dec()
            key = (method, self._route(scope), status)
            series = self._series.get(key)
            if series is None:
                series = self._children(key)
            series[0].inc()
            series[1].observe(elapsed)
            if received is not None:
                size = received[0]
            series[2].observe(size if size > 0 else 0)

    def _route(self, scope: Scope) -> str:
        # FastAPI routes put themselves in scope["route"]; a plain Starlette route or a
        # mount (StaticFiles...) under FastAPI's router leaves only scope["endpoint"].
        route = scope.get("route")
        if route is None:
            route = scope.get("endpoint")
            if route is None:
                return UNMATCHED_ROUTE
        root = scope.get("root_path", "")
        label = self._labels.get((id(route), root))
        if label is None:
            label = self._labels[id(route), root] = _template(route, scope)
        return label

    def _gauge(self, method: str) -> Any:
        label = method if method in _METHODS else "OTHER"
        gauge = self._gauges[method] = self._in_flight.labels(label)
        return gauge

    def _children(self, key: tuple[str, str, int]) -> tuple[Any, Any, Any]:
        method, route, status = key
        if method not in _METHODS:
            method = "OTHER"
        series = (
            self._requests.labels(method, route, str(status)),
            self._latency.labels(method, route),
            self._size.labels(method, route),
        )
        self._series[key] = series
        return series


def _template(found: Any, scope: Scope) -> str:
    """The path template of the route (or endpoint) that answered, with its mounts' prefix."""
    from starlette.routing import Mount

    # A Mount sets root_path to the prefix it matched and remembers the original root
    # in app_root_path: the difference is the path of the mounts the request went through.
    base = scope.get("app_root_path")
    root: str = scope.get("root_path", "")
    mounted = isinstance(base, str) and root.startswith(base)
    prefix = root[len(base) :] if isinstance(base, str) and mounted else ""
    route = found if hasattr(found, "path_format") else _route_of(scope.get("router"), found)
    if isinstance(route, Mount) or (route is None and mounted):
        # Nothing routed inside it (StaticFiles, a plain ASGI app): the mount's own path.
        return f"{prefix}/{{path}}"
    path = getattr(route, "path_format", None)
    if not isinstance(path, str) or not path:
        return UNMATCHED_ROUTE
    return prefix + path


def _route_of(router: Any, endpoint: Any, depth: int = 0) -> Any:
    """The route of ``router`` (or of a router mounted in it) whose endpoint is ``endpoint``."""
    for route in getattr(router, "routes", None) or ():
        if getattr(route, "endpoint", None) is endpoint or getattr(route, "app", None) is endpoint:
            return route
        if depth < 8 and hasattr(route, "routes"):
            inner = _route_of(route, endpoint, depth + 1)
            if inner is not None:
                return inner
    return None
