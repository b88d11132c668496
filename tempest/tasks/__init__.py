"""Background tasks on TaskIQ: ``@task``, ``@periodic``, the project's broker and scheduler.

Declare tasks in an app's ``tasks.py``; ``manage.py worker`` runs them and ``manage.py
scheduler`` kicks the periodic ones. Names are resolved lazily (PEP 562): importing
``tempest.tasks`` imports neither TaskIQ nor a broker library; the names that need them
raise ImportError naming the ``tasks`` extra when it is not installed.

How decorators find a broker is explained in :mod:`tempest.tasks.registry`.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

from tempest._lazy import lazy_attributes

_LAZY: dict[str, str] = {
    "AsyncTaskBrokerManager": "tempest.tasks.manager",
    "AsyncTaskScheduler": "tempest.tasks.scheduler",
    "ACCEPTED_SCHEMES": "tempest.tasks.brokers",
    "make_broker": "tempest.tasks.brokers",
    "task": "tempest.tasks.decorators",
    "periodic": "tempest.tasks.decorators",
    "TempestTask": "tempest.tasks.registry",
    "TaskSchedule": "tempest.tasks.registry",
    "registered_tasks": "tempest.tasks.registry",
    "get_task": "tempest.tasks.registry",
    "TaskSession": "tempest.tasks.session",
    "get_broker": "tempest.tasks.project",
    "get_scheduler": "tempest.tasks.discovery",
    "get_task_manager": "tempest.tasks.project",
    "discover_tasks": "tempest.tasks.discovery",
    "start_task_broker": "tempest.tasks.discovery",
    "stop_task_broker": "tempest.tasks.project",
    "reset_task_broker": "tempest.tasks.project",
    "wait_for_tasks": "tempest.tasks.project",
    "health_check": "tempest.tasks.project",
}

__all__ = [*_LAZY]


_load = lazy_attributes(__name__, _LAZY)


def __getattr__(name: str) -> Any:
    return _load(name)


def __dir__() -> list[str]:
    return sorted(__all__)


if TYPE_CHECKING:  # pragma: no cover - the table's names, for type checkers and IDEs
    from tempest.tasks.brokers import (
        ACCEPTED_SCHEMES as ACCEPTED_SCHEMES,
        make_broker as make_broker,
    )
    from tempest.tasks.decorators import periodic as periodic, task as task
    from tempest.tasks.discovery import (
        discover_tasks as discover_tasks,
        get_scheduler as get_scheduler,
        start_task_broker as start_task_broker,
    )
    from tempest.tasks.manager import AsyncTaskBrokerManager as AsyncTaskBrokerManager
    from tempest.tasks.project import (
        get_broker as get_broker,
        get_task_manager as get_task_manager,
        health_check as health_check,
        reset_task_broker as reset_task_broker,
        stop_task_broker as stop_task_broker,
        wait_for_tasks as wait_for_tasks,
    )
    from tempest.tasks.registry import (
        TaskSchedule as TaskSchedule,
        TempestTask as TempestTask,
        get_task as get_task,
        registered_tasks as registered_tasks,
    )
    from tempest.tasks.scheduler import AsyncTaskScheduler as AsyncTaskScheduler
    from tempest.tasks.session import TaskSession as TaskSession
