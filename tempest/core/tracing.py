"""Distributed tracing: :func:`setup_tracing` and what a project's processes call.

One trace follows a request through its SQL statements, the tasks it kicks (run by
``manage.py worker``), the messages it publishes (handled by ``manage.py consumer``) and
its outgoing HTTP calls. The parts, and where each comes from:

- Request spans: :class:`~tempest.core.tracing_asgi.TracingMiddleware` around the whole
  stack (route-template names, ``traceparent`` continued), or FastAPI's own telemetry
  (``FastAPI(telemetry=...)``) when TRACING_OPERATION_SPANS asks for its operation spans;
  TRACING_EXCLUDED_ROUTES and METRICS_PATH are excluded, with everything they run
  (OpenTelemetry's suppression).
- SQL: OpenTelemetry's SQLAlchemy instrumentation on every engine, once
  (:mod:`tempest.core.tracing_sql`).
- Tasks: :class:`tempest.tasks.tracing.TaskTracingMiddleware` carries the context in the
  task's labels; queue messages: FastStream's ``RabbitTelemetryMiddleware``
  (:mod:`tempest.queue.tracing`).
- Outgoing HTTP: httpx's instrumentation (a client span, ``traceparent`` sent).
- Export: OTLP/HTTP in a background thread, one warning while the collector is down
  (:mod:`tempest.core.tracing_export`); log records carry ``trace_id``/``span_id``.

With TRACING_ENABLED off none of this is imported and FastAPI's telemetry stays off
(``tempest.core.asgi``).
"""

from __future__ import annotations

import logging
import os
import threading
import weakref
from collections.abc import Callable, MutableMapping, Sequence
from typing import TYPE_CHECKING, Any

from tempest.exceptions.framework import ImproperlyConfigured

if TYPE_CHECKING:
    from fastapi import FastAPI
    from opentelemetry.sdk.trace import SpanProcessor, TracerProvider
    from starlette.types import ASGIApp

    from tempest.conf import Settings

__all__ = [
    "flush_tracing",
    "setup_tracing",
    "setup_tracing_from_settings",
    "tracing_enabled",
]

_lock = threading.Lock()
_provider: TracerProvider | None = None
_traced_apps: weakref.WeakSet[FastAPI] = weakref.WeakSet()


def tracing_enabled() -> bool:
    """Whether the project's settings turn tracing on (TRACING_ENABLED)."""
    from tempest.conf import settings

    return bool(getattr(settings, "TRACING_ENABLED", False))


def setup_tracing(
    app: FastAPI | None = None,
    *,
    service_name: str | None = None,
    endpoint: str | None = None,
    sample_ratio: float | None = None,
    export: bool = True,
    span_processors: Sequence[SpanProcessor] = (),
) -> TracerProvider:
    """Set up tracing for this process and, given ``app``, for its requests.

    The first call makes the tracer provider (``service.name``, a parent-based ratio
    sampler, OTLP/HTTP export in a batch) and makes it global unless one is configured
    already (``opentelemetry-instrument``), in which case that one is used; it instruments
    every SQLAlchemy engine and httpx, and adds ``trace_id``/``span_id`` to log records.
    Later calls return the same provider and change nothing but ``app``. Arguments left
    out come from settings (``TracingSettings``).

    Args:
        app: A FastAPI application to trace, before it starts serving (the project's
            ``get_asgi_application`` passes its own when TRACING_ENABLED is on).
        service_name: ``service.name``; default TRACING_SERVICE_NAME, OTEL_SERVICE_NAME,
            then TITLE.
        endpoint: The OTLP/HTTP traces URL; default TRACING_OTLP_ENDPOINT, then
            OpenTelemetry's environment variables.
        sample_ratio: Share of new traces recorded; default TRACING_SAMPLE_RATIO.
        export: Export over OTLP; False (or ``OTEL_TRACES_EXPORTER=none`` in the
            environment) for span processors of your own only.
        span_processors: More processors for the provider (first call only).

    Returns:
        The tracer provider.

    Raises:
        ImproperlyConfigured: The ``otel`` extra is not installed, or FastAPI is too old
            for TRACING_OPERATION_SPANS.
    """
    global _provider
    from tempest.conf import settings

    with _lock:
        if _provider is None:
            _provider = _make_provider(
                settings,
                service_name=service_name,
                endpoint=endpoint,
                sample_ratio=sample_ratio,
                export=export,
                span_processors=span_processors,
            )
            _instrument_process(_provider)
        provider = _provider
    if app is not None:
        _trace_app(app, provider, settings)
    return provider


def setup_tracing_from_settings() -> TracerProvider | None:
    """:func:`setup_tracing` when TRACING_ENABLED is on (``worker`` and ``consumer`` call it).

    Returns:
        The provider, or None when tracing is off.
    """
    return setup_tracing() if tracing_enabled() else None


def flush_tracing(timeout_millis: int = 5000) -> None:
    """Export the spans still buffered (before a process stops); nothing when not set up."""
    provider = _provider
    if provider is not None:
        provider.force_flush(timeout_millis)


def _require_sdk() -> None:
    missing = [
        name
        for name in (
            "opentelemetry.sdk",
            "opentelemetry.exporter.otlp.proto.http",
            "opentelemetry.instrumentation.sqlalchemy",
        )
        if _find(name) is None
    ]
    if missing:
        raise ImproperlyConfigured(
            f"TRACING_ENABLED needs the 'otel' extra ({', '.join(missing)} missing): "
            "pip install 'tempest-framework[otel]'."
        )


def _find(name: str) -> Any:
    import importlib.util

    try:
        return importlib.util.find_spec(name)
    except ModuleNotFoundError:
        return None


def _make_provider(
    settings: Settings,
    *,
    service_name: str | None,
    endpoint: str | None,
    sample_ratio: float | None,
    export: bool,
    span_processors: Sequence[SpanProcessor],
) -> TracerProvider:
    _require_sdk()
    from opentelemetry import trace
    from opentelemetry.sdk.resources import Resource
    from opentelemetry.sdk.trace import TracerProvider
    from opentelemetry.sdk.trace.export import BatchSpanProcessor
    from opentelemetry.sdk.trace.sampling import ParentBased, TraceIdRatioBased

    endpoint = endpoint or getattr(settings, "TRACING_OTLP_ENDPOINT", None)
    # OpenTelemetry's own switch: OTEL_TRACES_EXPORTER=none records spans, exports none.
    if os.environ.get("OTEL_TRACES_EXPORTER", "").strip().lower() == "none":
        export = False
    current = trace.get_tracer_provider()
    if isinstance(current, TracerProvider):
        # Configured by someone else (opentelemetry-instrument): theirs exports already;
        # add tempest's exporter only when an endpoint is named explicitly.
        provider, export = current, export and endpoint is not None
    else:
        name = (
            service_name
            or getattr(settings, "TRACING_SERVICE_NAME", None)
            or os.environ.get("OTEL_SERVICE_NAME")
            or getattr(settings, "TITLE", None)
            or "tempest"
        )
        ratio = sample_ratio if sample_ratio is not None else settings.TRACING_SAMPLE_RATIO
        provider = TracerProvider(
            resource=Resource.create({"service.name": name}),
            sampler=ParentBased(TraceIdRatioBased(ratio)),
        )
        trace.set_tracer_provider(provider)
    for processor in span_processors:
        provider.add_span_processor(processor)
    if export:
        from tempest.core.tracing_export import make_otlp_exporter

        provider.add_span_processor(
            BatchSpanProcessor(make_otlp_exporter(endpoint, settings.TRACING_OTLP_TIMEOUT))
        )
    return provider


def _instrument_process(provider: TracerProvider) -> None:
    from tempest.core.logging import add_record_enricher
    from tempest.core.tracing_sql import instrument_every_engine

    instrument_every_engine(provider)
    if _find("opentelemetry.instrumentation.httpx") is not None:
        from opentelemetry.instrumentation.httpx import HTTPXClientInstrumentor

        instrumentor = HTTPXClientInstrumentor()
        if not instrumentor.is_instrumented_by_opentelemetry:
            instrumentor.instrument(tracer_provider=provider)
    add_record_enricher(_trace_ids_enricher())  # once: this runs once per process


def _trace_ids_enricher() -> Callable[[logging.LogRecord], None]:
    """Log correlation: the current span's ids, as hex, on every record logged under it."""
    from opentelemetry.trace import get_current_span

    def add_trace_ids(record: logging.LogRecord) -> None:
        context = get_current_span().get_span_context()
        if context.is_valid:
            if not hasattr(record, "trace_id"):
                record.trace_id = format(context.trace_id, "032x")
            if not hasattr(record, "span_id"):
                record.span_id = format(context.span_id, "016x")

    return add_trace_ids


# -- the application ------------------------------------------------------------------------


def excluded_paths(settings: Settings) -> tuple[str, ...]:
    """The path prefixes never traced: TRACING_EXCLUDED_ROUTES and METRICS_PATH."""
    prefixes = list(getattr(settings, "TRACING_EXCLUDED_ROUTES", ["/health"]))
    metrics_path = getattr(settings, "METRICS_PATH", None)
    if metrics_path:
        prefixes.append(metrics_path)
    return tuple(dict.fromkeys(prefixes))


def make_excluder(prefixes: Sequence[str]) -> Callable[[MutableMapping[str, Any]], bool]:
    """FastAPI's ``telemetry={"exclude": ...}``: True for a path under one of ``prefixes``.

    It also marks the scope, so that :class:`~tempest.core.tracing_asgi.TracingMiddleware`
    suppresses the spans of what the request runs (a readiness probe's ``SELECT 1``).
    """
    from tempest.core.tracing_asgi import UNTRACED_SCOPE_KEY

    exact = frozenset(prefixes)
    nested = tuple(prefix.rstrip("/") + "/" for prefix in prefixes)

    def exclude(scope: MutableMapping[str, Any]) -> bool:
        path = scope.get("path", "")
        if path in exact or path.startswith(nested):
            scope[UNTRACED_SCOPE_KEY] = True
            return True
        return False

    return exclude


def _trace_app(app: FastAPI, provider: TracerProvider, settings: Settings) -> None:
    """Trace ``app``'s requests: :class:`TracingMiddleware` around its whole stack.

    Its server spans by default; FastAPI's own (``telemetry=``) with its operation spans
    when TRACING_OPERATION_SPANS is on. Either way the exclusions apply. Set up once per
    application.
    """
    from tempest.api.internals import native_telemetry
    from tempest.core.tracing_asgi import TracingMiddleware

    with _lock:
        if app in _traced_apps:
            return
        _traced_apps.add(app)
    exclude = make_excluder(excluded_paths(settings))
    fastapi_spans = bool(getattr(settings, "TRACING_OPERATION_SPANS", False))
    found = native_telemetry(app)
    if fastapi_spans:
        if found is None:
            raise ImproperlyConfigured(
                "TRACING_OPERATION_SPANS needs FastAPI 0.165 or newer (FastAPI(telemetry=...))."
            )
        found[0].update(
            tracing=True, tracer_provider=provider, operation_spans=True, exclude=exclude
        )
    elif found is not None:
        found[0].update(tracing=False)  # the middleware records the request's span
    tracer = provider.get_tracer("tempest")
    subspans = bool(getattr(settings, "TRACING_ASGI_SUBSPANS", False))

    def traced(stack: ASGIApp) -> ASGIApp:
        return TracingMiddleware(
            stack,
            tracer=tracer,
            exclude=exclude,
            server_spans=not fastapi_spans,
            subspans=subspans,
        )

    # Outermost, around Starlette's ServerErrorMiddleware too: the span sees the 500 it
    # sends, and every line the stack logs carries the trace.
    build = app.build_middleware_stack
    setattr(app, "build_middleware_stack", lambda: traced(build()))  # noqa: B010
    if app.middleware_stack is not None:
        app.middleware_stack = traced(app.middleware_stack)
