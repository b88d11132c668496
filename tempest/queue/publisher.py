"""Publishing from request handlers: the ``Publisher`` FastAPI dependency."""

from __future__ import annotations

from typing import Annotated

from fastapi import Depends

from tempest.queue.manager import AsyncBrokerManager
from tempest.queue.project import get_queue

__all__ = ["Publisher", "get_publisher"]


async def get_publisher() -> AsyncBrokerManager:
    """FastAPI dependency: the project's connected queue, to ``await publisher.publish(...)``.

    Returns:
        The project's :class:`AsyncBrokerManager`.

    Raises:
        RuntimeError: The queue is not connected: the project does not use queues (no
            app has a ``subscribers.py`` and ``RABBITMQ_URL`` is not set), or the app
            was built without its lifespan.
    """
    queue = get_queue()
    if not queue.is_connected:
        raise RuntimeError(
            "The project's queue is not connected: set RABBITMQ_URL (or add an app's "
            "subscribers.py) so that the application's lifespan connects it."
        )
    return queue


Publisher = Annotated[AsyncBrokerManager, Depends(get_publisher)]
"""A route parameter ``publisher: Publisher`` receives the project's connected queue."""
