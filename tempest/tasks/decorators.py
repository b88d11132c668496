"""``@task`` and ``@periodic``: declare background tasks in an app's ``tasks.py``.

The decorators only record the task in :mod:`tempest.tasks.registry`; it is bound to a
TaskIQ broker lazily (see that module). Importing this module does not import TaskIQ.
"""

from __future__ import annotations

from collections.abc import Callable
from datetime import timedelta
from typing import Any, ParamSpec, TypeVar, overload

from tempest.tasks.registry import (
    TaskSchedule,
    TempestTask,
    default_task_name,
    register,
    utc_offset,
)

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
        ValueError: Neither or both of ``cron`` and ``interval`` are given, ``cron`` is
            not a 5-field cron expression TaskIQ's scheduler can run, ``cron_offset`` is
            neither a ``"+HH:MM"`` offset nor a time zone name, the interval is shorter
            than a second, or ``cron_offset`` comes without ``cron``.
        TypeError: ``cron``, ``cron_offset`` or ``interval`` has the wrong type.
    """
    if (cron is None) == (interval is None):
        raise ValueError("@periodic needs exactly one of cron=... or interval=....")
    if cron_offset is not None and cron is None:
        raise ValueError("cron_offset only applies to cron=...; remove it or use cron.")
    if interval is not None:
        interval = _check_interval(interval)
    if cron is not None:
        cron = check_cron(cron)
        if cron_offset is not None:
            _check_cron_offset(cron_offset)
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


CRON_FORMAT = (
    "a valid one has 5 fields separated by spaces (minute hour day-of-month month "
    "day-of-week), each *, a number, a range a-b, a step */n or a-b/n, or a comma list of "
    "those, e.g. '*/5 * * * *' or '0 9 * * MON-FRI'"
)
_CRON_FIELDS = (
    ("minute", 0, 59),
    ("hour", 0, 23),
    ("day-of-month", 1, 31),
    ("month", 1, 12),
    ("day-of-week", 0, 6),
)
_DAY_NAMES = {
    name: number
    for number, day in enumerate(
        ("sunday", "monday", "tuesday", "wednesday", "thursday", "friday", "saturday")
    )
    for name in (day, day[:3])
}


def check_cron(expression: str) -> str:
    """Check a cron expression against what TaskIQ's scheduler (pycron) understands.

    pycron silently never matches values out of range (``61 * * * *``) and month names,
    so they are refused here, where the task is declared, rather than never running.

    Args:
        expression: The expression, five fields separated by whitespace.

    Returns:
        The expression with its fields separated by single spaces (pycron splits on
        one space).

    Raises:
        TypeError: ``expression`` is not a string.
        ValueError: It is not a cron expression; the message quotes it and says what a
            valid one looks like.
    """
    if not isinstance(expression, str):
        raise TypeError(f"cron must be a string like '*/5 * * * *', not {expression!r}.")
    fields = expression.split()
    if len(fields) != len(_CRON_FIELDS):
        raise ValueError(
            f"cron={expression!r} is not a cron expression: it has {len(fields)} field(s); "
            f"{CRON_FORMAT}."
        )
    for value, (what, low, high) in zip(fields, _CRON_FIELDS, strict=True):
        problem = _field_problem(value, low, high, days=what == "day-of-week")
        if problem is not None:
            raise ValueError(
                f"cron={expression!r} is not a cron expression: in the {what} field, "
                f"{problem}; {CRON_FORMAT}."
            )
    return " ".join(fields)


def _field_problem(value: str, low: int, high: int, *, days: bool) -> str | None:
    """Why one cron field is wrong, or None when pycron reads it as intended."""
    allowed = f"must be within {low}-{high}" + (" or a day name (MON)" if days else "")

    def number(text: str, *, names: bool = days) -> int | None:
        if text.isdigit():
            result = int(text)
        elif names and text.lower() in _DAY_NAMES:
            result = _DAY_NAMES[text.lower()]
        else:
            return None
        return result if low <= result <= high else None

    if value == "*":
        return None
    for item in value.split(","):
        base, slash, step = item.partition("/")
        if slash and (not step.isdigit() or int(step) < 1):
            return f"the step {step!r} must be a whole number of 1 or more"
        if base == "*":
            if slash:
                continue
            return f"{value!r} mixes * with other values"
        start, dash, end = base.partition("-")
        if not dash:
            if slash or number(start) is None:
                return f"{item!r} {allowed}"
            continue
        # pycron reads a stepped range's start as a number only.
        first, last = number(start, names=days and not slash), number(end)
        if first is None or last is None:
            return f"the ends of the range {item!r} {allowed}"
        if first > last and not (days and not slash):
            return f"the range {item!r} runs backwards"
    return None


def _check_cron_offset(offset: object) -> None:
    """Refuse a ``cron_offset`` that is neither ``"+HH:MM"``, a zone name nor a timedelta."""
    expected = "give a UTC offset like '-03:00', a zone name like 'Europe/Paris', or a timedelta"
    if isinstance(offset, timedelta):
        if abs(offset) > timedelta(hours=14):
            raise ValueError(f"cron_offset={offset!r} is more than 14 hours from UTC; {expected}.")
        return
    if not isinstance(offset, str):
        raise TypeError(f"cron_offset={offset!r} is not a string or a timedelta; {expected}.")
    if utc_offset(offset) is not None:
        return
    from zoneinfo import ZoneInfo

    try:
        ZoneInfo(offset)
    except (KeyError, ValueError, OSError):  # ZoneInfoNotFoundError is a KeyError
        raise ValueError(
            f"cron_offset={offset!r} is neither a UTC offset nor a known time zone; {expected}."
        ) from None


def _check_interval(interval: object) -> int | timedelta:
    """The interval as TaskIQ's label wants it; refuse non-numbers and under a second."""
    if isinstance(interval, bool) or not isinstance(interval, timedelta | int | float):
        raise TypeError(
            f"interval must be a timedelta or a number of seconds, not {interval!r}; "
            "e.g. interval=timedelta(minutes=5) or interval=30."
        )
    seconds = interval.total_seconds() if isinstance(interval, timedelta) else float(interval)
    if not seconds >= 1:  # also refuses NaN
        raise ValueError(f"interval must be at least 1 second, not {seconds:g}s.")
    # Whole seconds travel as an int label (readable in brokers' message headers).
    return int(seconds) if seconds.is_integer() else timedelta(seconds=seconds)
