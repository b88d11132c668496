"""The apps' tasks joined to the project's broker: discovery, start-up and the scheduler.

Kept apart from :mod:`tempest.tasks.project` (the broker alone) so that the registry,
which sends a task on the project's broker, and this module, which binds the registry's
tasks to it, do not import each other.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

from tempest.tasks.project import get_broker, get_task_manager
from tempest.tasks.registry import bind_all, registered_tasks

if TYPE_CHECKING:
    from taskiq import AsyncBroker

    from tempest.tasks.registry import TempestTask
    from tempest.tasks.scheduler import AsyncTaskScheduler

__all__ = ["bind_all_discovered", "discover_tasks", "get_scheduler", "start_task_broker"]


def discover_tasks() -> list[TempestTask[Any, Any]]:
    """Import every installed app's ``tasks`` module; return the tasks of installed apps.

    Tasks declared by modules of apps that are not installed (another project built
    earlier in the same process, as tests do) are left out.

    Raises:
        ImproperlyConfigured: A ``tasks`` module fails to import.
    """
    from tempest.apps import apps

    apps.import_app_modules("tasks")
    return [
        item
        for item in registered_tasks()
        if apps.get_containing_app_config(item.original_func.__module__) is not None
    ]


def bind_all_discovered(broker: AsyncBroker) -> list[TempestTask[Any, Any]]:
    """Discover the apps' tasks and register every task on ``broker``."""
    return bind_all(broker, discover_tasks())


def get_scheduler() -> AsyncTaskScheduler:
    """A scheduler over the project's broker, with every discovered task bound to it."""
    from tempest.tasks.scheduler import AsyncTaskScheduler

    broker = get_broker()
    bind_all(broker, discover_tasks())
    return AsyncTaskScheduler(broker)


async def start_task_broker() -> None:
    """Start the project's broker: call it in the app's lifespan, after the database.

    Discovers the apps' tasks and binds them, so that on ``memory://`` a kicked task
    runs right away in the app's event loop (it uses the database the lifespan
    connected). On RabbitMQ or Redis it opens the connection used to send tasks.
    """
    manager = get_task_manager()
    bind_all_discovered(manager.broker)
    await manager.connect()
