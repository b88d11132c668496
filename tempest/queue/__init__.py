"""Message queues on FastStream and RabbitMQ.

Declare handlers in an app's ``subscribers.py`` on ``router = RabbitRouter()``; run them
with ``manage.py consumer``; publish from routes with the :data:`Publisher` dependency.
Importing this package does not import FastStream (the ``queue`` extra).
"""

from typing import TYPE_CHECKING, Any

from tempest._lazy import lazy_attributes
from tempest.queue.manager import AsyncBrokerManager
from tempest.queue.project import (
    build_broker,
    get_consumer,
    get_queue,
    health_check,
    queues_enabled,
    reset_queue,
    start_queue,
    stop_queue,
    subscriber_routers,
)

if TYPE_CHECKING:
    from tempest.queue.publisher import Publisher, get_publisher
    from tempest.queue.session import MessageSession, message_session

__all__ = [
    "AsyncBrokerManager",
    "MessageSession",
    "Publisher",
    "build_broker",
    "get_consumer",
    "get_publisher",
    "get_queue",
    "health_check",
    "message_session",
    "queues_enabled",
    "reset_queue",
    "start_queue",
    "stop_queue",
    "subscriber_routers",
]

_LAZY = {
    "Publisher": "tempest.queue.publisher",
    "get_publisher": "tempest.queue.publisher",
    "MessageSession": "tempest.queue.session",
    "message_session": "tempest.queue.session",
}


_load = lazy_attributes(__name__, _LAZY)


def __getattr__(name: str) -> Any:
    return _load(name)
