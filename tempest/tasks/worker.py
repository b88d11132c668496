"""Entry points of ``manage.py worker`` and ``manage.py scheduler`` processes.

``taskiq``'s worker runner starts separate processes and imports the broker in each of
them by path: :func:`worker_broker` (``tempest.tasks.worker:worker_broker``). It sets up
tempest from ``TEMPEST_SETTINGS_MODULE``, builds the project's broker, discovers and binds
every app's tasks, and connects the project's database (and its message queue, when the
project uses queues), cache and feature flags when the worker starts (``WORKER_STARTUP``)
and closes them, with the SSE channels tasks published to, when it stops
(``WORKER_SHUTDOWN``), so a task can publish with ``get_queue()``. A task
that a database outage fails runs again once the database answers
(:mod:`tempest.tasks.outages`).
"""

from __future__ import annotations

import os
from typing import TYPE_CHECKING

if TYPE_CHECKING:
    from taskiq import AsyncBroker, TaskiqState

QUEUE_ENVIRONMENT_VARIABLE = "TEMPEST_TASKS_QUEUE"
"""Set by ``manage.py worker --queue NAME`` for its worker processes."""


def worker_broker() -> AsyncBroker:
    """The broker of one worker process, with every task bound and the database wired."""
    import tempest
    from tempest.tasks.discovery import bind_all_discovered
    from tempest.tasks.imports import require
    from tempest.tasks.outages import outage_retry_middleware
    from tempest.tasks.project import build_broker

    taskiq = require("taskiq")
    tempest.setup()
    from tempest.core.tracing import setup_tracing_from_settings

    setup_tracing_from_settings()  # TRACING_ENABLED: this process exports its spans
    from tempest.core.logging import configure_logging_from_settings

    configure_logging_from_settings()  # LOG_JSON / LOG_DIR in this worker process too
    broker = build_broker(queue_name=os.environ.get(QUEUE_ENVIRONMENT_VARIABLE) or None)
    # TaskIQ's retries, plus: a task its database outage failed runs again after it.
    broker.middlewares = [
        middleware
        for middleware in broker.middlewares
        if not isinstance(middleware, taskiq.SimpleRetryMiddleware)
    ]
    broker.add_middlewares(outage_retry_middleware())
    bind_all_discovered(broker)
    broker.add_event_handler(taskiq.TaskiqEvents.WORKER_STARTUP, _connect)
    broker.add_event_handler(taskiq.TaskiqEvents.WORKER_SHUTDOWN, _disconnect)
    return broker


async def _connect(_state: TaskiqState) -> None:
    from tempest.cache.project import start_cache
    from tempest.conf import settings
    from tempest.db.session import get_database
    from tempest.flags.project import lifespan_hooks
    from tempest.queue import start_queue

    await get_database().connect()
    await start_queue()  # only when the project uses queues
    # Tasks read the same cache and feature flags as the API's requests.
    await start_cache()
    start_flags, stop_flags, _check = lifespan_hooks(settings)
    _state.stop_flags = stop_flags
    await start_flags()


async def _disconnect(_state: TaskiqState) -> None:
    from tempest.cache.project import stop_cache
    from tempest.db.session import get_database
    from tempest.queue import stop_queue
    from tempest.sse.project import close_event_hub

    stop_flags = getattr(_state, "stop_flags", None)
    if stop_flags is not None:
        await stop_flags()
    await close_event_hub()  # SSE channels a task published to
    await stop_cache()
    await stop_queue()
    await get_database().disconnect()
    from tempest.core.tracing import flush_tracing

    flush_tracing()  # the spans of the last tasks, before the process exits
