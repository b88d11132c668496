"""Entry points of ``manage.py worker`` and ``manage.py scheduler`` processes.

``taskiq``'s worker runner starts separate processes and imports the broker in each of
them by path: :func:`worker_broker` (``tempest.tasks.worker:worker_broker``). It sets up
tempest from ``TEMPEST_SETTINGS_MODULE``, builds the project's broker, discovers and binds
every app's tasks, and connects the project's database (and its message queue, when the
project uses queues) when the worker starts (``WORKER_STARTUP``) and disconnects them
when it stops (``WORKER_SHUTDOWN``), so a task can publish with ``get_queue()``.
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
    from tempest.tasks.project import build_broker

    taskiq = require("taskiq")
    tempest.setup()
    broker = build_broker(queue_name=os.environ.get(QUEUE_ENVIRONMENT_VARIABLE) or None)
    bind_all_discovered(broker)
    broker.add_event_handler(taskiq.TaskiqEvents.WORKER_STARTUP, _connect)
    broker.add_event_handler(taskiq.TaskiqEvents.WORKER_SHUTDOWN, _disconnect)
    return broker


async def _connect(_state: TaskiqState) -> None:
    from tempest.db.session import get_database
    from tempest.queue import start_queue

    await get_database().connect()
    await start_queue()  # only when the project uses queues


async def _disconnect(_state: TaskiqState) -> None:
    from tempest.db.session import get_database
    from tempest.queue import stop_queue

    await stop_queue()
    await get_database().disconnect()
