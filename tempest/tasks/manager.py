"""``AsyncTaskBrokerManager``: the lifecycle of any TaskIQ broker."""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator, Callable
from contextlib import asynccontextmanager
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    from taskiq import AsyncBroker, AsyncTaskiqDecoratedTask

_HEALTH_TIMEOUT = 1.0


class AsyncTaskBrokerManager:
    """Wrap a TaskIQ broker (``AioPikaBroker``, ``RedisStreamBroker``, ``InMemoryBroker``...).

    Start it in the app's lifespan, declare tasks with :meth:`task`, and kick them with
    TaskIQ's ``await my_task.kiq(...)``.

    Args:
        broker: The TaskIQ broker to manage.

    Attributes:
        broker: The wrapped broker.
    """

    def __init__(self, broker: AsyncBroker) -> None:
        self.broker = broker
        self._connected = False

    @property
    def is_connected(self) -> bool:
        """Whether :meth:`connect` ran and :meth:`disconnect` did not since."""
        return self._connected

    async def connect(self) -> None:
        """Start the broker (``broker.startup()``); a no-op when already started."""
        if self._connected:
            return
        await self.broker.startup()
        self._connected = True

    async def disconnect(self) -> None:
        """Stop the broker (``broker.shutdown()``); a no-op when not started."""
        if not self._connected:
            return
        self._connected = False
        await self.broker.shutdown()

    def task(self, *args: Any, **kwargs: Any) -> Any:
        """Decorator declaring a task on the broker; forwards to ``broker.task``."""
        return self.broker.task(*args, **kwargs)

    def register_task(
        self, func: Callable[..., Any], *, task_name: str | None = None, **kwargs: Any
    ) -> AsyncTaskiqDecoratedTask[Any, Any]:
        """Declare ``func`` as a task without decorator syntax.

        Args:
            func: The function, for instance a third-party callable.
            task_name: The task's name; TaskIQ's default (``module:function``) if None.
            **kwargs: TaskIQ labels.

        Returns:
            TaskIQ's decorated task.
        """
        return self.broker.register_task(func, task_name=task_name, **kwargs)

    @asynccontextmanager
    async def lifespan(self) -> AsyncIterator[AsyncTaskBrokerManager]:
        """Connect on entering the block and disconnect on leaving it."""
        await self.connect()
        try:
            yield self
        finally:
            await self.disconnect()

    async def broker_dependency(self) -> AsyncIterator[AsyncBroker]:
        """FastAPI dependency yielding the broker: ``Depends(manager.broker_dependency)``.

        Raises:
            RuntimeError: The broker is not started.
        """
        if not self._connected:
            raise RuntimeError("The task broker is not started; call connect() in the lifespan.")
        yield self.broker

    async def health_check(self) -> bool:
        """Whether the broker is started and, when it has one, its connection is alive.

        Never raises, and answers within a second (a Redis that stops answering is
        reported down, not waited for).
        """
        if not self._connected:
            return False
        try:
            async with asyncio.timeout(_HEALTH_TIMEOUT):
                return await broker_alive(self.broker)
        except Exception:
            return False


async def broker_alive(broker: AsyncBroker) -> bool:
    """Probe a started broker: RabbitMQ's connection is open, Redis answers ``PING``."""
    connection = getattr(broker, "write_conn", None)
    if connection is not None or hasattr(broker, "write_conn"):
        return connection is not None and not connection.is_closed
    pool = getattr(broker, "connection_pool", None)
    if pool is not None:
        from redis.asyncio import Redis

        async with Redis(connection_pool=pool) as client:
            return bool(await client.ping())
    return True
