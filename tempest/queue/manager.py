"""``AsyncBrokerManager``: start, stop and health of one FastStream broker."""

from __future__ import annotations

import asyncio
import contextlib
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from typing import Any

__all__ = ["AsyncBrokerManager"]

_HEALTH_TIMEOUT = 1.0


class AsyncBrokerManager:
    """Own the lifecycle of a FastStream broker (``RabbitBroker``, ``KafkaBroker``, ...).

    The broker is built by the caller, so any FastStream transport works; the manager adds
    idempotent start and stop, a publish guard, a FastAPI dependency and a health check.
    Nothing here imports FastStream: the manager only calls the broker's methods.

    Example:
        ```python
        broker = RabbitBroker("amqp://guest:guest@127.0.0.1:5672/")
        queue = AsyncBrokerManager(broker)
        async with queue.lifespan():
            await queue.publish({"order_id": 7}, queue="orders.paid")
        ```

    Attributes:
        broker: The wrapped FastStream broker; declare subscribers and publishers on it.
    """

    def __init__(self, broker: Any) -> None:
        """Wrap ``broker``; nothing connects until :meth:`connect`.

        Args:
            broker: A FastStream broker instance.
        """
        self.broker = broker
        self._connected = False
        self._lock = asyncio.Lock()

    def __repr__(self) -> str:
        return f"<AsyncBrokerManager {type(self.broker).__name__} connected={self._connected}>"

    @property
    def is_connected(self) -> bool:
        """Whether :meth:`connect` has succeeded and :meth:`disconnect` has not run since."""
        return self._connected

    async def connect(self) -> None:
        """Start the broker: connect and start its subscribers. A no-op when connected.

        Raises:
            Exception: Whatever the broker raises when the server cannot be reached
                (``AMQPConnectionError`` for RabbitMQ); the manager stays disconnected.
        """
        if self._connected:
            return
        async with self._lock:
            if self._connected:
                return
            try:
                await self.broker.start()
            except BaseException:
                # Release what the failed start opened (a half-open connection retries).
                with contextlib.suppress(Exception):
                    await self.broker.stop()
                raise
            self._connected = True

    async def disconnect(self) -> None:
        """Stop the broker; messages being handled finish first. A no-op when disconnected."""
        if not self._connected:
            return
        async with self._lock:
            if not self._connected:
                return
            try:
                await self.broker.stop()
            finally:
                self._connected = False

    async def publish(self, message: Any = None, *args: Any, **kwargs: Any) -> Any:
        """Publish ``message`` through the broker; arguments go to ``broker.publish``.

        Args:
            message: The body: a pydantic model, a dict, a string, bytes, ...
            *args: Positional arguments of the broker's ``publish`` (the queue name, ...).
            **kwargs: Keyword arguments of the broker's ``publish`` (``queue=``,
                ``exchange=``, ``headers=``, ...).

        Returns:
            What the broker's ``publish`` returns.

        Raises:
            RuntimeError: The manager is not connected.
        """
        if not self._connected:
            raise RuntimeError(
                f"Cannot publish: the {type(self.broker).__name__} is not connected; "
                "await connect() first (usually in the application's lifespan)."
            )
        return await self.broker.publish(message, *args, **kwargs)

    @asynccontextmanager
    async def lifespan(self) -> AsyncIterator[AsyncBrokerManager]:
        """Connect on entry and disconnect on exit, for scripts and tests.

        Yields:
            This manager, connected.
        """
        await self.connect()
        try:
            yield self
        finally:
            await self.disconnect()

    async def broker_dependency(self) -> AsyncIterator[Any]:
        """FastAPI dependency yielding the live broker: ``Depends(queue.broker_dependency)``.

        Yields:
            The wrapped broker.

        Raises:
            RuntimeError: The manager is not connected.
        """
        if not self._connected:
            raise RuntimeError(
                f"The {type(self.broker).__name__} is not connected; connect it in the "
                "application's lifespan before routes use it."
            )
        yield self.broker

    async def health_check(self) -> bool:
        """Whether the broker is started and its connection to the server is up.

        Returns:
            ``True`` when connected and the broker answers its ping within a second.
        """
        if not self._connected:
            return False
        return bool(await self.broker.ping(timeout=_HEALTH_TIMEOUT))
