"""What an outgoing request carries from the request being served: its ID and trace context."""

from __future__ import annotations

import sys
from collections.abc import MutableMapping

from tempest.utils.context import get_request_id

__all__ = ["REQUEST_ID_HEADER", "TRACEPARENT_HEADER", "propagate_context"]

REQUEST_ID_HEADER = "X-Request-ID"
"""The header carrying the request ID, the one ``RequestIDMiddleware`` reads and answers."""

TRACEPARENT_HEADER = "traceparent"
"""The W3C Trace Context header."""


def propagate_context(
    headers: MutableMapping[str, str], *, request_id: bool = True, trace: bool = True
) -> None:
    """Add the current request ID and trace context to outgoing ``headers``.

    Headers already set are kept. The trace context is written only when OpenTelemetry
    is loaded and a span is current (through the globally configured propagator, W3C
    ``traceparent`` by default); without OpenTelemetry this costs one dict lookup.

    Args:
        headers: The outgoing request's headers, changed in place.
        request_id: Add ``X-Request-ID`` from the request being served.
        trace: Add the trace context of the current span.
    """
    if request_id and REQUEST_ID_HEADER not in headers:
        current = get_request_id()
        if current:
            headers[REQUEST_ID_HEADER] = current
    # Not loaded means no span can be current: nothing to import, nothing to add.
    if trace and "opentelemetry.trace" in sys.modules and TRACEPARENT_HEADER not in headers:
        from opentelemetry import propagate, trace as otel_trace

        if otel_trace.get_current_span().get_span_context().is_valid:
            propagate.inject(headers)
