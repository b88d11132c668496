"""Tasks while a dependency is down: fast 503s when kicking, retries after a database outage.

Sending (``await my_task.kiq(...)``) while the broker (RabbitMQ or Redis) cannot be
reached raises :class:`~tempest.exceptions.ServiceUnavailableException` within
:data:`KICK_TIMEOUT` seconds: a request that kicks a task answers 503
``TASK_BROKER_UNAVAILABLE`` with ``Retry-After``, not a 500 or a hang, and the log says
once that the broker is down and once that it is back.

In a worker (``manage.py worker``), :class:`OutageRetryMiddleware` replaces TaskIQ's
``SimpleRetryMiddleware``. A task that fails because the database cannot be reached (the
connection was refused or lost mid-run) had its transaction rolled back (its session is
closed with the error); the worker then stops starting tasks, probes the database with
a growing pause (0.5 s doubling up to :data:`MAX_PROBE_INTERVAL`), and once it answers
sends the task again with the same id, so it runs again from the start: not lost, not
half-applied. This does not count against ``@task(retry=N)``, which still applies to
every other error. As with any redelivery, a task whose effects reach outside the
database (an email, an HTTP call) must tolerate running twice.
"""

from __future__ import annotations

import asyncio
import logging
from collections.abc import Awaitable
from typing import TYPE_CHECKING, Any, TypeVar

from tempest.utils.outages import OutageLog

if TYPE_CHECKING:
    from taskiq import AsyncBroker, TaskiqMessage, TaskiqMiddleware, TaskiqResult

__all__ = [
    "KICK_TIMEOUT",
    "MAX_OUTAGE_RETRIES",
    "MAX_PROBE_INTERVAL",
    "is_broker_unreachable",
    "is_database_outage",
    "kick_or_unavailable",
    "outage_retry_middleware",
]

logger = logging.getLogger("tempest.tasks")

KICK_TIMEOUT = 2.0
"""Seconds ``kiq()`` waits for the broker before raising ServiceUnavailableException."""

MAX_PROBE_INTERVAL = 10.0
"""Longest pause, in seconds, between two database probes of a waiting worker."""

MAX_OUTAGE_RETRIES = 10
"""Times one task is sent again after database outages before it fails as usual."""

_OUTAGE_LABEL = "_tempest_outage_retries"
_T = TypeVar("_T")
_kick_logs: dict[str, OutageLog] = {}


def is_broker_unreachable(error: BaseException) -> bool:
    """Whether ``error`` (from a kick) means the task broker could not be reached.

    TaskIQ wraps what the broker raised in ``SendTaskError``; its cause is looked at:
    network errors and time-outs (redis-py's and aiormq's included) and a channel left
    without its connection count, a message the broker refused does not.
    """
    seen: set[int] = set()
    current: BaseException | None = error
    while current is not None and id(current) not in seen:
        seen.add(id(current))
        if isinstance(current, OSError | TimeoutError):
            return True
        if type(current).__name__ in ("ChannelInvalidStateError",) or (
            type(current).__module__.startswith("redis.")
            and type(current).__name__ in ("ConnectionError", "TimeoutError", "BusyLoadingError")
        ):
            return True
        current = current.__cause__ or current.__context__
    return False


async def kick_or_unavailable(send: Awaitable[_T], broker: AsyncBroker, url: str) -> _T:
    """Await ``send`` (a kick), bounded by :data:`KICK_TIMEOUT` unless the broker is in memory.

    Args:
        send: The kick, e.g. ``decorated.kiq(...)``.
        broker: The broker it goes to.
        url: The broker's URL, for the outage log lines.

    Returns:
        What ``send`` returns.

    Raises:
        ServiceUnavailableException: The broker could not be reached in time (503
            ``TASK_BROKER_UNAVAILABLE``, ``Retry-After: 5``).
    """
    from taskiq import InMemoryBroker

    if isinstance(broker, InMemoryBroker):
        return await send  # runs here (maybe in place): no network, no bound
    log = _kick_logs.get(url)
    if log is None:
        log = _kick_logs[url] = OutageLog(
            "task queue",
            "the task broker",
            url,
            consequence="requests that kick tasks answer 503 until it is back",
            logger=logger,
        )
    try:
        async with asyncio.timeout(KICK_TIMEOUT):
            sent = await send
    except Exception as error:
        if not is_broker_unreachable(error):
            raise
        log.failed(error)
        from tempest.exceptions import ServiceUnavailableException

        raise ServiceUnavailableException(
            "Background tasks cannot be queued right now (the task broker is unreachable); "
            "try again in a moment.",
            code="TASK_BROKER_UNAVAILABLE",
            service="task broker",
            retry_after=5,
        ) from error
    log.succeeded()
    return sent


def is_database_outage(error: BaseException) -> bool:
    """Whether a task failed because the database could not be reached.

    A connection refused, lost or timed out (:func:`tempest.db.outage.is_database_unavailable`),
    or the 503 the database layer raises for it (``ServiceUnavailableException`` with
    ``service="database"``).
    """
    from tempest.db.outage import is_database_unavailable
    from tempest.exceptions import ServiceUnavailableException

    if isinstance(error, ServiceUnavailableException):
        return error.service == "database"
    return is_database_unavailable(error)


class _DatabaseGate:
    """Whether the worker may start tasks: closed from a database outage until a probe passes."""

    def __init__(self, first_pause: float, max_pause: float) -> None:
        self.first_pause = first_pause
        self.max_pause = max_pause
        self._open = asyncio.Event()
        self._open.set()
        self._prober: asyncio.Task[None] | None = None

    @property
    def is_open(self) -> bool:
        return self._open.is_set()

    async def close_and_wait(self) -> None:
        """Close the gate (the database is down) and wait until a probe reopens it."""
        if self._open.is_set():
            self._open.clear()
            logger.warning(
                "worker: the database is unreachable; no task starts until it answers "
                "(probing every %.1f s up to %.0f s)",
                self.first_pause,
                self.max_pause,
            )
        await self.wait()

    async def wait(self) -> None:
        """Return at once while open; else wait for the probe (starting it if needed)."""
        if self._open.is_set():
            return
        if self._prober is None or self._prober.done():
            self._prober = asyncio.get_running_loop().create_task(self._probe())
        await self._open.wait()

    async def _probe(self) -> None:
        from tempest.db.session import get_database

        database = get_database()
        pause = self.first_pause
        while True:
            await asyncio.sleep(pause)
            if await database.health_check():  # logs the outage and recovery once
                break
            pause = min(pause * 2, self.max_pause)
        logger.warning("worker: the database answers again; tasks resume")
        self._open.set()


def outage_retry_middleware(
    *, first_pause: float = 0.5, max_pause: float = MAX_PROBE_INTERVAL
) -> TaskiqMiddleware:
    """The worker's retry middleware: TaskIQ's retries, plus a rerun after a database outage.

    Args:
        first_pause: Seconds before the first database probe after a failure.
        max_pause: Longest pause between two probes (the pause doubles up to it).

    Returns:
        A ``SimpleRetryMiddleware`` subclass instance; see the module's docstring.
    """
    from taskiq import NoResultError, SimpleRetryMiddleware
    from taskiq.kicker import AsyncKicker

    gate = _DatabaseGate(first_pause, max_pause)

    class OutageRetryMiddleware(SimpleRetryMiddleware):
        """``SimpleRetryMiddleware`` that also reruns a task its database outage failed."""

        async def pre_execute(self, message: TaskiqMessage) -> TaskiqMessage:
            await gate.wait()  # a task received while the database is down waits for it
            return message

        async def on_error(
            self, message: TaskiqMessage, result: TaskiqResult[Any], exception: BaseException
        ) -> None:
            retries = int(message.labels.get(_OUTAGE_LABEL, 0))
            if not is_database_outage(exception) or retries >= MAX_OUTAGE_RETRIES:
                await super().on_error(message, result, exception)
                return
            logger.warning(
                "task %s (%s) lost the database mid-run; its transaction was rolled back, "
                "and it runs again once the database answers",
                message.task_name,
                message.task_id,
            )
            await gate.close_and_wait()
            kicker: AsyncKicker[Any, Any] = AsyncKicker(
                task_name=message.task_name, broker=self.broker, labels=message.labels
            ).with_task_id(message.task_id)
            await kicker.with_labels(**{_OUTAGE_LABEL: retries + 1}).kiq(
                *message.args, **message.kwargs
            )
            result.error = NoResultError()  # no failed result is kept for this run

    return OutageRetryMiddleware(default_retry_count=1)
