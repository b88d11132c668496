"""Span export over OTLP/HTTP that survives an unreachable collector with one warning.

OpenTelemetry's batch processor exports from a thread of its own, so a collector that does
not answer never slows a request; but the OTLP exporter logs every failed attempt (a
warning per retry, an error per batch) and the processor a warning per span dropped from a
full queue: a log flooded for as long as the collector is down. :class:`QuietSpanExporter`
logs one warning when exports start failing and one line when they work again, and
silences those libraries' own records meanwhile. While failing it drops batches at once,
trying the collector again every ``retry_interval`` seconds, so that spans do not pile up
behind exports that wait for their timeout.
"""

from __future__ import annotations

import logging
import os
import threading
import time
from collections.abc import Sequence
from typing import TYPE_CHECKING

from opentelemetry.sdk.trace.export import SpanExporter, SpanExportResult

if TYPE_CHECKING:
    from opentelemetry.sdk.trace import ReadableSpan

__all__ = ["QuietSpanExporter", "make_otlp_exporter"]

logger = logging.getLogger("tempest.tracing")

# The loggers whose per-attempt and per-span records the one warning replaces.
_NOISY_LOGGERS = (
    "opentelemetry.exporter.otlp.proto.http.trace_exporter",
    "opentelemetry.exporter.otlp.common.http",
    "opentelemetry.sdk._shared_internal",
    "opentelemetry.sdk.trace.export",
)


class _WhileFailing(logging.Filter):
    """Drops the OTLP libraries' records during an export and while the collector is down.

    ``quiet`` holds a token per exporter that is exporting or failing; the records of a
    failing export are replaced by :class:`QuietSpanExporter`'s one warning.
    """

    def __init__(self) -> None:
        super().__init__()
        self.quiet: set[object] = set()

    def filter(self, record: logging.LogRecord) -> bool:
        return not self.quiet


_filter = _WhileFailing()
_filter_lock = threading.Lock()
_filter_installed = False


def _install_filter() -> None:
    global _filter_installed
    with _filter_lock:
        if _filter_installed:
            return
        for name in _NOISY_LOGGERS:
            logging.getLogger(name).addFilter(_filter)
        _filter_installed = True


class QuietSpanExporter(SpanExporter):
    """Wraps a span exporter: one warning per outage of its collector, no flood.

    Args:
        exporter: The exporter that sends (an ``OTLPSpanExporter``).
        endpoint: Where it sends, for the warning.
        retry_interval: While failing, seconds between two attempts; batches in between
            are dropped without trying.
    """

    def __init__(self, exporter: SpanExporter, endpoint: str, retry_interval: float = 5.0) -> None:
        self.exporter = exporter
        self.endpoint = endpoint
        self.retry_interval = retry_interval
        self.dropped = 0
        self._failing_since: float | None = None
        self._next_attempt = 0.0
        self._exporting = object()  # this exporter's token in the filter while exporting
        _install_filter()

    @property
    def failing(self) -> bool:
        """Whether the last export failed (the collector is treated as down)."""
        return self._failing_since is not None

    def export(self, spans: Sequence[ReadableSpan]) -> SpanExportResult:
        """Send ``spans``, or drop them while the collector is down."""
        now = time.monotonic()
        if self._failing_since is not None and now < self._next_attempt:
            self.dropped += len(spans)
            return SpanExportResult.FAILURE
        error: BaseException | None = None
        _filter.quiet.add(self._exporting)
        try:
            result = self.exporter.export(spans)
        except Exception as raised:  # an exporter bug must not kill the export thread
            result, error = SpanExportResult.FAILURE, raised
        finally:
            _filter.quiet.discard(self._exporting)
        if result is SpanExportResult.SUCCESS:
            if self._failing_since is not None:
                self._failing_since = None
                _filter.quiet.discard(self)
                logger.info(
                    "Trace export to %s works again; %d span(s) were dropped meanwhile.",
                    self.endpoint,
                    self.dropped,
                )
                self.dropped = 0
            return result
        self.dropped += len(spans)
        self._next_attempt = time.monotonic() + self.retry_interval
        if self._failing_since is None:
            self._failing_since = now
            _filter.quiet.add(self)
            reason = f" ({type(error).__name__}: {error})" if error is not None else ""
            logger.warning(
                "Trace export to %s failed%s: spans are dropped until it answers "
                "(retried every %gs; not logged again).",
                self.endpoint,
                reason,
                self.retry_interval,
            )
        return result

    def shutdown(self) -> None:
        """Shut the wrapped exporter down."""
        self.exporter.shutdown()
        _filter.quiet.discard(self)

    def force_flush(self, timeout_millis: int = 30000) -> bool:
        """Flush the wrapped exporter."""
        return bool(self.exporter.force_flush(timeout_millis))


def make_otlp_exporter(endpoint: str | None, timeout: float) -> QuietSpanExporter:
    """An OTLP/HTTP (protobuf) span exporter wrapped in :class:`QuietSpanExporter`.

    Args:
        endpoint: The traces URL; None: ``OTEL_EXPORTER_OTLP_TRACES_ENDPOINT``, else
            ``OTEL_EXPORTER_OTLP_ENDPOINT`` + ``/v1/traces``, else localhost:4318.
        timeout: Seconds one export (its retries included) may take.

    Returns:
        The wrapped exporter, for a ``BatchSpanProcessor``.
    """
    from opentelemetry.exporter.otlp.proto.http.trace_exporter import OTLPSpanExporter

    return QuietSpanExporter(
        OTLPSpanExporter(endpoint=endpoint, timeout=timeout), endpoint or _environment_endpoint()
    )


def _environment_endpoint() -> str:
    """Where the exporter sends without an endpoint (OpenTelemetry's variables), for logs."""
    traces = os.environ.get("OTEL_EXPORTER_OTLP_TRACES_ENDPOINT")
    if traces:
        return traces
    base = os.environ.get("OTEL_EXPORTER_OTLP_ENDPOINT", "http://localhost:4318")
    return base.rstrip("/") + "/v1/traces"
