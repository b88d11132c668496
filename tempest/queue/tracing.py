"""Trace context through RabbitMQ messages: FastStream's OpenTelemetry middleware.

With TRACING_ENABLED on, the project's brokers (the publisher of the API and the
workers, and ``manage.py consumer``) get FastStream's ``RabbitTelemetryMiddleware``: a
publish is a producer span whose context travels in the message's headers
(``traceparent``), and a handler runs inside a consumer span continuing that trace.
"""

from __future__ import annotations

from typing import Any

__all__ = ["broker_middlewares"]


def broker_middlewares() -> tuple[Any, ...]:
    """The middlewares the project's ``RabbitBroker`` gets: FastStream's tracing, or none."""
    from tempest.conf import settings

    if not getattr(settings, "TRACING_ENABLED", False):
        return ()
    from faststream.rabbit.opentelemetry import RabbitTelemetryMiddleware

    # The global tracer provider, set by tempest.core.tracing.setup_tracing.
    return (RabbitTelemetryMiddleware(),)
