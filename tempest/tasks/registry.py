"""The registry of tempest tasks, bound to a TaskIQ broker lazily.

``@task`` and ``@periodic`` run when an app's ``tasks.py`` is imported, and that can
happen before the project's broker exists, or in a process (the test suite) that builds
several projects with different settings one after the other. So a decorator only
records the task here, as a :class:`TempestTask`: its function, name, labels and
schedules. The task is registered on a TaskIQ broker the first time it is needed there:

- ``await my_task.kiq(...)`` binds it to the project's current broker
  (:func:`tempest.tasks.get_broker`) and sends it;
- ``manage.py worker`` and ``manage.py scheduler`` bind every task in the registry to
  the broker they build (:func:`bind_all`).

When the project's broker is rebuilt (new settings), the next ``kiq`` binds the task to
the new one. Nothing about a task is tied to a broker at import time.

Task names are the wire identity shared by the process that sends a task and the worker
that runs it, so they are computed from the code alone, never from runtime state: the
function's module path with a trailing ``.tasks`` dropped, a dot, and the function name.
``send_welcome_email`` in ``orders/tasks.py`` is ``orders.send_welcome_email`` (the app
label, a dot, the function). ``@task(name=...)`` chooses another name.
"""

from __future__ import annotations

import functools
import re
from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import timedelta
from typing import TYPE_CHECKING, Any, Generic, ParamSpec, TypeVar

from tempest.exceptions.framework import ImproperlyConfigured

if TYPE_CHECKING:
    from taskiq import AsyncBroker, AsyncTaskiqDecoratedTask, AsyncTaskiqTask
    from taskiq.kicker import AsyncKicker

P = ParamSpec("P")
R = TypeVar("R")

_OFFSET = re.compile(r"([+-])(\d{2}):(\d{2})")


def utc_offset(value: str) -> timedelta | None:
    """``"-03:00"`` as a timedelta, None when ``value`` is not ``+HH:MM``/``-HH:MM``.

    Raises:
        ValueError: The offset is more than 14 hours or has 60 minutes or more.
    """
    match = _OFFSET.fullmatch(value)
    if match is None:
        return None
    sign, hours, minutes = match.groups()
    if int(minutes) >= 60 or int(hours) * 60 + int(minutes) > 14 * 60:
        raise ValueError(
            f"cron_offset={value!r} is not a UTC offset; give one like '-03:00' (at most 14 h)."
        )
    delta = timedelta(hours=int(hours), minutes=int(minutes))
    return -delta if sign == "-" else delta


@dataclass
class TaskSchedule:
    """When the scheduler kicks a periodic task: a cron expression or an interval.

    Attributes:
        cron: A cron expression (``"*/5 * * * *"``), evaluated in UTC plus ``cron_offset``.
        cron_offset: A UTC offset (``"-03:00"``) or a timedelta for ``cron``.
        interval: Seconds, or a timedelta, between two kicks.
        args: Positional arguments the task is kicked with.
        kwargs: Keyword arguments the task is kicked with.
    """

    cron: str | None = None
    cron_offset: str | Any | None = None
    interval: int | Any | None = None
    args: list[Any] = field(default_factory=list)
    kwargs: dict[str, Any] = field(default_factory=dict)

    def to_label(self) -> dict[str, Any]:
        """The schedule in the shape of TaskIQ's ``schedule`` label."""
        label: dict[str, Any] = {"args": list(self.args), "kwargs": dict(self.kwargs)}
        if self.cron is not None:
            label["cron"] = self.cron
            if self.cron_offset is not None:
                label["cron_offset"] = self.cron_offset
                if isinstance(self.cron_offset, str):
                    # TaskIQ reads a string as a time zone name: "-03:00" goes as a timedelta.
                    label["cron_offset"] = utc_offset(self.cron_offset) or self.cron_offset
        if self.interval is not None:
            label["interval"] = self.interval
        return label

    def describe(self) -> str:
        """One line for humans: ``cron */5 * * * *`` or ``every 30s``."""
        if self.cron is not None:
            offset = f" (UTC{self.cron_offset})" if isinstance(self.cron_offset, str) else ""
            if self.cron_offset is not None and not offset:
                offset = f" (offset {self.cron_offset})"
            return f"cron {self.cron}{offset}"
        seconds = getattr(self.interval, "total_seconds", None)
        value = seconds() if seconds is not None else self.interval
        return f"every {value:g}s"


class TempestTask(Generic[P, R]):
    """A function declared with ``@task``: call it directly, or ``kiq`` it to a worker.

    It keeps TaskIQ's API: ``await t.kiq(...)`` sends the task and returns TaskIQ's
    ``AsyncTaskiqTask`` (``await handle.wait_result()`` works where results are kept);
    ``t.kicker()`` returns TaskIQ's kicker for labels, delays and task ids. Calling
    ``t(...)`` runs the function in the caller, like the undecorated function.

    Attributes:
        original_func: The decorated function.
        task_name: The name workers know the task by.
        labels: TaskIQ labels sent with every kick (``retry_on_error``, ...).
        schedules: When the scheduler kicks it; empty for a task that is not periodic.
    """

    def __init__(
        self,
        func: Callable[P, R],
        *,
        task_name: str,
        labels: dict[str, Any],
        schedules: list[TaskSchedule] | None = None,
    ) -> None:
        self.original_func = func
        self.task_name = task_name
        self.labels = labels
        self.schedules: list[TaskSchedule] = list(schedules or [])
        self._bound: tuple[AsyncBroker, AsyncTaskiqDecoratedTask[P, R]] | None = None
        functools.update_wrapper(self, func)

    def __call__(self, *args: P.args, **kwargs: P.kwargs) -> R:
        """Run the function here, now, as if it were not a task."""
        return self.original_func(*args, **kwargs)

    def __repr__(self) -> str:
        return f"<TempestTask {self.task_name}>"

    @property
    def module(self) -> str:
        """The module that defines the function."""
        return str(self.original_func.__module__)

    def taskiq_labels(self) -> dict[str, Any]:
        """The labels registered on a broker: :attr:`labels` plus the schedules."""
        labels = dict(self.labels)
        if self.schedules:
            labels["schedule"] = [schedule.to_label() for schedule in self.schedules]
        return labels

    def bind(self, broker: AsyncBroker | None = None) -> AsyncTaskiqDecoratedTask[P, R]:
        """Register the task on a broker (the project's by default), once per broker.

        Args:
            broker: The broker; None means :func:`tempest.tasks.get_broker`.

        Returns:
            TaskIQ's decorated task on that broker.
        """
        if broker is None:
            from tempest.tasks.project import get_broker

            broker = get_broker()
        bound = self._bound
        if bound is not None and bound[0] is broker:
            return bound[1]
        existing = broker.find_task(self.task_name)
        if existing is not None and existing.original_func is self.original_func:
            decorated: AsyncTaskiqDecoratedTask[P, R] = existing
        else:
            decorated = broker.register_task(
                self.original_func, task_name=self.task_name, **self.taskiq_labels()
            )
        self._bound = (broker, decorated)
        return decorated

    async def kiq(self, *args: P.args, **kwargs: P.kwargs) -> AsyncTaskiqTask[Any]:
        """Send the task to the project's broker; a worker runs it.

        On ``memory://`` it runs in this process, in the background of the event loop.

        Returns:
            TaskIQ's handle of the sent task.

        Raises:
            ServiceUnavailableException: The broker cannot be reached within
                :data:`tempest.tasks.outages.KICK_TIMEOUT` seconds (a request answers 503
                ``TASK_BROKER_UNAVAILABLE``; see :mod:`tempest.tasks.outages`).
        """
        from tempest.tasks.outages import kick_or_unavailable
        from tempest.tasks.project import task_settings

        decorated: Any = self.bind()
        handle: AsyncTaskiqTask[Any] = await kick_or_unavailable(
            decorated.kiq(*args, **kwargs), decorated.broker, task_settings()[0]
        )
        return handle

    def kicker(self) -> AsyncKicker[P, R]:
        """TaskIQ's kicker on the project's broker, to set labels, a delay or a task id."""
        return self.bind().kicker()


_registry: dict[str, TempestTask[Any, Any]] = {}


def register(new: TempestTask[Any, Any]) -> None:
    """Add a task to the registry.

    Importing the same function again (a reloaded module) replaces its entry.

    Raises:
        ImproperlyConfigured: Another function already has the task's name.
    """
    current = _registry.get(new.task_name)
    if current is not None and _origin(current) != _origin(new):
        raise ImproperlyConfigured(
            f"Two tasks are named {new.task_name!r}: {_origin(current)} and {_origin(new)}. "
            "Give one of them another name with @task(name=...)."
        )
    _registry[new.task_name] = new


def unregister(task_name: str) -> None:
    """Remove a task from the registry (tests); unknown names are ignored."""
    _registry.pop(task_name, None)


def registered_tasks() -> list[TempestTask[Any, Any]]:
    """Every task declared so far, sorted by name."""
    return [_registry[name] for name in sorted(_registry)]


def get_task(task_name: str) -> TempestTask[Any, Any]:
    """The task with this name.

    Raises:
        KeyError: No task has this name; the message lists the known names.
    """
    try:
        return _registry[task_name]
    except KeyError:
        known = ", ".join(sorted(_registry)) or "none"
        raise KeyError(f"No task named {task_name!r}; known tasks: {known}.") from None


def bind_all(
    broker: AsyncBroker, tasks: list[TempestTask[Any, Any]] | None = None
) -> list[TempestTask[Any, Any]]:
    """Register ``tasks`` (default: every task of the registry) on ``broker``.

    Returns:
        The tasks bound.
    """
    tasks = registered_tasks() if tasks is None else tasks
    for item in tasks:
        item.bind(broker)
    return tasks


def default_task_name(func: Callable[..., Any]) -> str:
    """``<module without a trailing .tasks>.<function name>``: ``orders.send_email``."""
    module = str(func.__module__)
    if module.endswith(".tasks"):
        module = module[: -len(".tasks")]
    elif module == "tasks":
        module = ""
    name = str(func.__name__)
    return f"{module}.{name}" if module else name


def _origin(item: TempestTask[Any, Any]) -> str:
    return f"{item.module}.{item.original_func.__qualname__}"
