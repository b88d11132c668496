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

# Public name -> the module that defines it, loaded on first use. The TYPE_CHECKING block
# below imports exactly these names, and __all__ lists them (tests/test_exports.py).
_LAZY: dict[str, str] = {
    "Publisher": "tempest.queue.publisher",
    "get_publisher": "tempest.queue.publisher",
    "MessageSession": "tempest.queue.session",
    "message_session": "tempest.queue.session",
}

__all__ = [
    "AsyncBrokerManager",
    "build_broker",
    "get_consumer",
    "get_queue",
    "health_check",
    "queues_enabled",
    "reset_queue",
    "start_queue",
    "stop_queue",
    "subscriber_routers",
    *_LAZY,
]

_load = lazy_attributes(__name__, _LAZY)


def __getattr__(name: str) -> Any:
    return _load(name)


if TYPE_CHECKING:  # pragma: no cover - the table's names, for type checkers and IDEs
    from tempest.queue.publisher import Publisher as Publisher, get_publisher as get_publisher
    from tempest.queue.session import (
        MessageSession as MessageSession,
        message_session as message_session,
    )
