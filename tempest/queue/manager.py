"""``AsyncBrokerManager``: start, stop and health of one FastStream broker."""

from __future__ import annotations

import asyncio
import contextlib
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from typing import Any

__all__ = ["PUBLISH_TIMEOUT", "AsyncBrokerManager", "is_broker_outage"]

_HEALTH_TIMEOUT = 1.0

PUBLISH_TIMEOUT = 2.0
"""Seconds :meth:`AsyncBrokerManager.publish` waits for the broker before answering 503."""


def is_broker_outage(error: BaseException) -> bool:
    """Whether ``error`` means the message broker could not be reached (not a bad message).

    Network errors, time-outs, aiormq's connection errors (``OSError`` subclasses) and a
    channel left without its connection (``ChannelInvalidStateError``) count; a message
    refused by the broker (unroutable, access refused) does not.
    """
    return isinstance(error, OSError | TimeoutError) or type(error).__name__ in (
        "ChannelInvalidStateError",
    )


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

    def __init__(
        self, broker: Any, *, url: str | None = None, publish_timeout: float = PUBLISH_TIMEOUT
    ) -> None:
        """Wrap ``broker``; nothing connects until :meth:`connect`.

        Args:
            broker: A FastStream broker instance.
            url: The broker's URL, for the outage log lines (its password masked).
            publish_timeout: Seconds :meth:`publish` waits for the broker.
        """
        from tempest.utils.outages import OutageLog

        self.broker = broker
        self.publish_timeout = publish_timeout
        kind = type(broker).__name__
        self.outage = OutageLog(
            "queue publisher",
            "RabbitMQ" if kind.startswith("Rabbit") else kind,
            url or f"{type(broker).__name__}://",
            consequence="publishing requests answer 503 until it is back",
        )
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
            ServiceUnavailableException: The broker cannot be reached, or did not answer
                within ``publish_timeout`` (a request that lets it through answers 503
                ``QUEUE_UNAVAILABLE`` with ``Retry-After``). The message may still have
                reached the broker when the answer was only late; a write that must not
                be lost (or sent twice) goes through the outbox (:mod:`tempest.db.outbox`).
        """
        if not self._connected:
            raise RuntimeError(
                f"Cannot publish: the {type(self.broker).__name__} is not connected; "
                "await connect() first (usually in the application's lifespan)."
            )
        try:
            async with asyncio.timeout(self.publish_timeout):
                reply = await self.broker.publish(message, *args, **kwargs)
        except Exception as error:
            if not is_broker_outage(error):
                raise
            self.outage.failed(error)
            raise self._unavailable(error) from error
        self.outage.succeeded()
        return reply

    def _unavailable(self, error: BaseException) -> Exception:
        from tempest.exceptions import ServiceUnavailableException

        if isinstance(error, TimeoutError):
            reason = f"no answer within {self.publish_timeout:g} s"
        else:
            reason = " ".join(str(error).split()) or type(error).__name__
        return ServiceUnavailableException(
            f"The message queue cannot be reached right now ({reason}); try again in a moment.",
            code="QUEUE_UNAVAILABLE",
            service="message queue",
            retry_after=5,
        )

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
