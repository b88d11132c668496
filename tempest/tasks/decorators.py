"""``@task`` and ``@periodic``: declare background tasks in an app's ``tasks.py``.

The decorators only record the task in :mod:`tempest.tasks.registry`; it is bound to a
TaskIQ broker lazily (see that module). Importing this module does not import TaskIQ.
"""

from __future__ import annotations

from collections.abc import Callable
from datetime import timedelta
from typing import Any, ParamSpec, TypeVar, overload

from tempest.tasks.registry import TaskSchedule, TempestTask, default_task_name, register

P = ParamSpec("P")
R = TypeVar("R")


@overload
def task(func: Callable[P, R], /) -> TempestTask[P, R]: ...


@overload
def task(
    *, name: str | None = None, retry: int = 0, **labels: Any
) -> Callable[[Callable[P, R]], TempestTask[P, R]]: ...


def task(
    func: Callable[P, R] | None = None,
    /,
    *,
    name: str | None = None,
    retry: int = 0,
    **labels: Any,
) -> TempestTask[P, R] | Callable[[Callable[P, R]], TempestTask[P, R]]:
    """Declare a background task: ``@task`` or ``@task(name=..., retry=N, **labels)``.

    Args:
        func: The function, when used without parentheses.
        name: The task's name; defaults to ``<app>.<function>`` (see
            :func:`tempest.tasks.registry.default_task_name`).
        retry: When the task raises, send it again up to this many times (TaskIQ's
            ``SimpleRetryMiddleware``, through the ``retry_on_error`` and
            ``max_retries`` labels). 0, the default, runs it once.
        **labels: Other TaskIQ labels sent with every kick.

    Returns:
        A :class:`TempestTask`, or a decorator making one.

    Raises:
        ValueError: ``retry`` is negative.
    """
    if retry < 0:
        raise ValueError(f"retry must be 0 or more, not {retry}.")
    task_labels = dict(labels)
    if retry:
        # SimpleRetryMiddleware counts attempts: max_retries=N+1 means N retries.
        task_labels.update(retry_on_error=True, max_retries=retry + 1)

    def decorate(function: Callable[P, R]) -> TempestTask[P, R]:
        if isinstance(function, TempestTask):
            raise TypeError(f"{function.task_name} is already a task; use @task once.")
        declared: TempestTask[P, R] = TempestTask(
            function,
            task_name=name or default_task_name(function),
            labels=task_labels,
        )
        register(declared)
        return declared

    if func is not None:
        return decorate(func)
    return decorate


def periodic(
    *,
    cron: str | None = None,
    interval: timedelta | int | float | None = None,
    cron_offset: str | timedelta | None = None,
    args: list[Any] | None = None,
    kwargs: dict[str, Any] | None = None,
    name: str | None = None,
    retry: int = 0,
    **labels: Any,
) -> Callable[[Callable[P, R] | TempestTask[P, R]], TempestTask[P, R]]:
    """Declare a periodic task: the scheduler kicks it on a cron expression or an interval.

    ``@periodic(cron="*/5 * * * *")`` or ``@periodic(interval=timedelta(seconds=30))``. A
    periodic task is also a task (kick it with ``kiq`` too). Stack several ``@periodic``
    to give one task several schedules, or put one on top of ``@task(...)``.

    Args:
        cron: A cron expression, in UTC unless ``cron_offset`` is given.
        interval: Time between two kicks (a timedelta or seconds, at least 1 second).
        cron_offset: The time zone of ``cron``, as ``"-03:00"`` or a timedelta.
        args: Positional arguments the scheduler kicks the task with.
        kwargs: Keyword arguments the scheduler kicks the task with.
        name: The task's name (see :func:`task`).
        retry: Retries on failure (see :func:`task`).
        **labels: Other TaskIQ labels.

    Returns:
        A decorator making a :class:`TempestTask`.

    Raises:
        ValueError: Neither or both of ``cron`` and ``interval`` are given, the interval
            is shorter than a second, or ``cron_offset`` comes without ``cron``.
    """
    if (cron is None) == (interval is None):
        raise ValueError("@periodic needs exactly one of cron=... or interval=....")
    if cron_offset is not None and cron is None:
        raise ValueError("cron_offset only applies to cron=...; remove it or use cron.")
    if interval is not None:
        seconds = interval.total_seconds() if isinstance(interval, timedelta) else interval
        if seconds < 1:
            raise ValueError(f"interval must be at least 1 second, not {seconds:g}s.")
        # Whole seconds travel as an int label (readable in brokers' message headers).
        interval = int(seconds) if float(seconds).is_integer() else timedelta(seconds=seconds)
    if cron is not None:
        _check_cron(cron)
    schedule = TaskSchedule(
        cron=cron,
        cron_offset=cron_offset,
        interval=interval,
        args=list(args or []),
        kwargs=dict(kwargs or {}),
    )

    def decorate(function: Callable[P, R] | TempestTask[P, R]) -> TempestTask[P, R]:
        if isinstance(function, TempestTask):
            declared: TempestTask[P, R] = function
        else:
            declared = task(name=name, retry=retry, **labels)(function)
        declared.schedules.append(schedule)
        return declared

    return decorate


def _check_cron(expression: str) -> None:
    fields = expression.split()
    if len(fields) != 5:
        raise ValueError(
            f"cron={expression!r} is not a cron expression: it needs 5 fields "
            "(minute hour day-of-month month day-of-week), e.g. '*/5 * * * *'."
        )
