"""Trace context through TaskIQ: a kicked task runs in the trace of the code that kicked it.

:class:`TaskTracingMiddleware` (added to the project's brokers when TRACING_ENABLED is on)
records a ``send <task>`` producer span when a task is kicked and writes the W3C trace
context (``traceparent``) into the message's labels; in the worker it reads them back and
runs the task inside a ``run <task>`` consumer span, child of the sender's, so the task's
SQL, HTTP calls and log lines carry the request's trace id.

TaskIQ's own ``OpenTelemetryMiddleware`` does the same but keeps the producer span open
from ``pre_send`` to ``post_send`` (left open when sending fails) and needs ``psutil`` and
a meter for its worker metrics; this one ends every span it starts.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

from tempest.tasks.imports import require

if TYPE_CHECKING:
    from taskiq import TaskiqMessage, TaskiqMiddleware, TaskiqResult

__all__ = ["task_tracing_middleware"]


def task_tracing_middleware() -> TaskiqMiddleware:
    """A new :class:`TaskTracingMiddleware` (TaskIQ is imported only when called)."""
    require("taskiq")
    from opentelemetry import context as otel_context, propagate, trace
    from opentelemetry.instrumentation.utils import is_instrumentation_enabled
    from taskiq import TaskiqMiddleware

    tracer = trace.get_tracer("tempest.tasks")

    class TaskTracingMiddleware(TaskiqMiddleware):
        """Producer span and labels on send; consumer span around the run in the worker."""

        def __init__(self) -> None:
            super().__init__()
            # task_id -> (span, context token) of the runs in progress in this process.
            self.running: dict[str, tuple[Any, object]] = {}

        def pre_send(self, message: TaskiqMessage) -> TaskiqMessage:
            if not is_instrumentation_enabled():
                return message
            with tracer.start_as_current_span(
                f"send {message.task_name}",
                kind=trace.SpanKind.PRODUCER,
                attributes={
                    "messaging.system": "taskiq",
                    "messaging.operation.type": "send",
                    "messaging.message.id": message.task_id,
                    "taskiq.task_name": message.task_name,
                },
            ):
                propagate.inject(message.labels)
            return message

        def pre_execute(self, message: TaskiqMessage) -> TaskiqMessage:
            labels = {key: str(value) for key, value in message.labels.items()}
            parent = propagate.extract(labels)
            span = tracer.start_span(
                f"run {message.task_name}",
                context=parent,
                kind=trace.SpanKind.CONSUMER,
                attributes={
                    "messaging.system": "taskiq",
                    "messaging.operation.type": "process",
                    "messaging.message.id": message.task_id,
                    "taskiq.task_name": message.task_name,
                },
            )
            # Each message runs in an asyncio task of its own: attached here, detached in
            # post_execute, the context holds for the task's body (sync ones copy it).
            token = otel_context.attach(trace.set_span_in_context(span, parent))
            self.running[message.task_id] = (span, token)
            return message

        def on_error(
            self, message: TaskiqMessage, result: TaskiqResult[Any], exception: BaseException
        ) -> None:
            found = self.running.get(message.task_id)
            if found is not None and found[0].is_recording():
                found[0].record_exception(exception)
                found[0].set_status(trace.StatusCode.ERROR, type(exception).__name__)

        def post_execute(self, message: TaskiqMessage, result: TaskiqResult[Any]) -> None:
            found = self.running.pop(message.task_id, None)
            if found is None:
                return
            span, token = found
            if result.is_err and span.is_recording():
                span.set_status(trace.StatusCode.ERROR)
            span.end()
            otel_context.detach(token)  # type: ignore[arg-type]

    return TaskTracingMiddleware()
