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
        self, every: int | float | timedelta, *, task_name: str | None = None, **labels: Any
    ) -> Decorator:
        """Declare a task kicked every ``every`` (seconds or a timedelta, at least 1 s)."""
        value = every if isinstance(every, timedelta) else timedelta(seconds=every)
        if value.total_seconds() < 1:
            raise ValueError("An interval must be at least 1 second.")
        seconds = value.total_seconds()
        interval: int | timedelta = int(seconds) if seconds.is_integer() else value
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
