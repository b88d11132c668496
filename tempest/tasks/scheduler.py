"""``AsyncTaskScheduler``: periodic tasks on TaskIQ's scheduler."""

from __future__ import annotations

import asyncio
import contextlib
from collections.abc import AsyncIterator, Callable
from contextlib import asynccontextmanager
from datetime import timedelta
from typing import TYPE_CHECKING, Any

from tempest.tasks.imports import require

if TYPE_CHECKING:
    from taskiq import AsyncBroker, AsyncTaskiqDecoratedTask, ScheduleSource, TaskiqScheduler

Decorator = Callable[[Callable[..., Any]], "AsyncTaskiqDecoratedTask[Any, Any]"]


class AsyncTaskScheduler:
    """Wrap ``taskiq.TaskiqScheduler`` with a ``LabelScheduleSource`` by default.

    The scheduler does not run task bodies: at each due time it kicks the task into
    ``broker``, and a worker runs it. Exactly one scheduler may run per deployment, or
    every due task is sent once per scheduler.

    Args:
        broker: The broker the tasks are kicked into.
        sources: Schedule sources; ``[LabelScheduleSource(broker)]`` when None.

    Attributes:
        broker: The broker.
        sources: The schedule sources.
        scheduler: The underlying ``taskiq.TaskiqScheduler``.
    """

    def __init__(self, broker: AsyncBroker, sources: list[ScheduleSource] | None = None) -> None:
        taskiq = require("taskiq")
        label_based = require("taskiq.schedule_sources")
        self.broker = broker
        self.sources: list[ScheduleSource] = (
            list(sources) if sources is not None else [label_based.LabelScheduleSource(broker)]
        )
        self.scheduler: TaskiqScheduler = taskiq.TaskiqScheduler(broker, self.sources)
        self._connected = False
        self._loop_task: asyncio.Task[None] | None = None

    @property
    def is_connected(self) -> bool:
        """Whether :meth:`connect` ran and :meth:`disconnect` did not since."""
        return self._connected

    def cron(
        self,
        expr: str,
        *,
        cron_offset: str | timedelta | None = None,
        task_name: str | None = None,
        **labels: Any,
    ) -> Decorator:
        """Declare a task kicked on a cron expression (UTC unless ``cron_offset``)."""
        entry: dict[str, Any] = {"cron": expr}
        if cron_offset is not None:
            entry["cron_offset"] = cron_offset
        return self.schedule([entry], task_name=task_name, **labels)

    def interval(
        self,
        every: float | timedelta | None = None,
        *,
        seconds: float | None = None,
        minutes: float | None = None,
        hours: float | None = None,
        days: float | None = None,
        seconds_or_timedelta: float | timedelta | None = None,
        task_name: str | None = None,
        **labels: Any,
    ) -> Decorator:
        """Declare a task kicked at a fixed interval of at least one second.

        Give the interval once: ``interval(30)``, ``interval(timedelta(minutes=15))``, or as
        units that add up like ``timedelta``'s: ``interval(seconds=30)``,
        ``interval(hours=1, minutes=30)``.

        Args:
            every: Seconds, or a ``timedelta``.
            seconds: Seconds (with the other units, added up).
            minutes: Minutes.
            hours: Hours.
            days: Days.
            seconds_or_timedelta: Another name for ``every``.
            task_name: The task's name; ``module:function`` by default.
            **labels: TaskIQ labels of the task.

        Raises:
            TypeError: No interval, more than one way of giving it, or not a number.
            ValueError: Less than one second.
        """
        value = _interval(
            every if seconds_or_timedelta is None or every is not None else seconds_or_timedelta,
            both=every is not None and seconds_or_timedelta is not None,
            units={"seconds": seconds, "minutes": minutes, "hours": hours, "days": days},
        )
        total = value.total_seconds()
        interval: int | timedelta = int(total) if total.is_integer() else value
        return self.schedule([{"interval": interval}], task_name=task_name, **labels)

    def schedule(
        self, spec: list[dict[str, Any]], *, task_name: str | None = None, **labels: Any
    ) -> Decorator:
        """Declare a task with a raw TaskIQ schedule list (``cron``/``interval``/``time``)."""

        def decorate(func: Callable[..., Any]) -> AsyncTaskiqDecoratedTask[Any, Any]:
            return self.register(func, schedule=spec, task_name=task_name, **labels)

        return decorate

    def register(
        self,
        func: Callable[..., Any],
        *,
        schedule: list[dict[str, Any]],
        task_name: str | None = None,
        **labels: Any,
    ) -> AsyncTaskiqDecoratedTask[Any, Any]:
        """Declare ``func`` as a scheduled task without decorator syntax.

        Returns:
            TaskIQ's decorated task, registered on :attr:`broker`.
        """
        return self.broker.register_task(
            func, task_name=task_name, schedule=[dict(entry) for entry in schedule], **labels
        )

    async def connect(self) -> None:
        """Start every source, then the scheduler (which starts the broker); idempotent."""
        if self._connected:
            return
        for source in self.sources:
            await source.startup()
        await self.scheduler.startup()
        self._connected = True

    async def run_in_background(self) -> None:
        """Run the scheduling loop as a task of this event loop (one-process services).

        Connects first when needed; a no-op when the loop already runs.
        """
        await self.connect()
        if self._loop_task is not None and not self._loop_task.done():
            return
        run = require("taskiq.cli.scheduler.run")
        loop = run.SchedulerLoop(self.scheduler)
        self._loop_task = asyncio.create_task(loop.run(), name="tempest-task-scheduler")

    async def disconnect(self) -> None:
        """Cancel the background loop, if any, and shut the scheduler and sources down."""
        loop_task, self._loop_task = self._loop_task, None
        if loop_task is not None:
            loop_task.cancel()
            with contextlib.suppress(asyncio.CancelledError, Exception):
                await loop_task
        if not self._connected:
            return
        self._connected = False
        await self.scheduler.shutdown()
        for source in self.sources:
            await source.shutdown()

    @asynccontextmanager
    async def lifespan(self) -> AsyncIterator[AsyncTaskScheduler]:
        """Connect on entering the block and disconnect on leaving it."""
        await self.connect()
        try:
            yield self
        finally:
            await self.disconnect()

    async def health_check(self) -> bool:
        """True while connected and, after :meth:`run_in_background`, the loop is alive."""
        if not self._connected:
            return False
        return self._loop_task is None or not self._loop_task.done()


def _interval(
    every: float | timedelta | None, *, both: bool, units: dict[str, float | None]
) -> timedelta:
    """The one interval given to :meth:`AsyncTaskScheduler.interval`, checked."""
    given = {name: amount for name, amount in units.items() if amount is not None}
    if both or (every is not None and given):
        raise TypeError(
            "interval() takes either a number of seconds / a timedelta or unit keywords "
            "(seconds=, minutes=, hours=, days=), not both"
        )
    if every is None and not given:
        raise TypeError(
            "interval() needs the interval: interval(seconds=30), interval(30) or "
            "interval(timedelta(minutes=15))"
        )
    for amount in [every, *given.values()] if every is not None else given.values():
        if isinstance(amount, bool) or not isinstance(amount, int | float | timedelta):
            raise TypeError(f"an interval is seconds or a timedelta, got {type(amount).__name__}")
    if isinstance(every, timedelta):
        value = every
    elif every is not None:
        value = timedelta(seconds=every)
    else:
        value = timedelta(**given)
    if value.total_seconds() < 1:
        raise ValueError(f"An interval must be at least 1 second, got {value.total_seconds()} s.")
    return value
