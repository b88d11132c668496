"""The project's task broker and scheduler, built from settings on first use.

Settings read (``TaskIQSettings``): ``TASKIQ_BROKER_URL`` (default ``memory://``),
``TASKIQ_RESULT_BACKEND_URL`` and ``TASKIQ_QUEUE_NAME``. :func:`reset_task_broker`
forgets the broker so that the next use rebuilds it, for tests that change settings.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

from tempest.tasks.brokers import broker_scheme, make_broker
from tempest.tasks.registry import TempestTask, bind_all, registered_tasks

if TYPE_CHECKING:
    from taskiq import AsyncBroker

    from tempest.tasks.manager import AsyncTaskBrokerManager
    from tempest.tasks.scheduler import AsyncTaskScheduler

_manager: AsyncTaskBrokerManager | None = None


def task_settings() -> tuple[str, str | None, str | None]:
    """``(TASKIQ_BROKER_URL, TASKIQ_RESULT_BACKEND_URL, TASKIQ_QUEUE_NAME)`` from settings."""
    from tempest.conf import settings

    url = str(getattr(settings, "TASKIQ_BROKER_URL", "memory://"))
    backend = getattr(settings, "TASKIQ_RESULT_BACKEND_URL", None)
    queue = getattr(settings, "TASKIQ_QUEUE_NAME", None)
    return url, backend, queue


def build_broker(queue_name: str | None = None) -> AsyncBroker:
    """A new broker from the project's settings (``queue_name`` overrides the setting)."""
    url, backend, queue = task_settings()
    return make_broker(url, result_backend_url=backend, queue_name=queue_name or queue)


def get_task_manager() -> AsyncTaskBrokerManager:
    """The :class:`AsyncTaskBrokerManager` of the project's broker, built on first use."""
    global _manager
    if _manager is None:
        from tempest.tasks.manager import AsyncTaskBrokerManager

        _manager = AsyncTaskBrokerManager(build_broker())
    return _manager


def get_broker() -> AsyncBroker:
    """The project's TaskIQ broker, built from settings on first use."""
    return get_task_manager().broker


def get_scheduler() -> AsyncTaskScheduler:
    """A scheduler over the project's broker, with every discovered task bound to it."""
    from tempest.tasks.scheduler import AsyncTaskScheduler

    broker = get_broker()
    bind_all(broker, discover_tasks())
    return AsyncTaskScheduler(broker)


def reset_task_broker() -> None:
    """Forget the project's broker; the next use builds a new one from settings."""
    global _manager
    _manager = None


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


def is_in_memory() -> bool:
    """Whether TASKIQ_BROKER_URL is ``memory://``: tasks run in the sending process."""
    return broker_scheme(task_settings()[0]) == "memory"


async def start_task_broker() -> None:
    """Start the project's broker: call it in the app's lifespan, after the database.

    Discovers the apps' tasks and binds them, so that on ``memory://`` a kicked task
    runs right away in the app's event loop (it uses the database the lifespan
    connected). On RabbitMQ or Redis it opens the connection used to send tasks.
    """
    manager = get_task_manager()
    bind_all_discovered(manager.broker)
    await manager.connect()


async def stop_task_broker() -> None:
    """Stop the project's broker and forget it; call it in the lifespan, before the database.

    On ``memory://``, tasks still running are awaited first.
    """
    global _manager
    manager = _manager
    if manager is None:
        return
    await wait_for_tasks()
    await manager.disconnect()
    _manager = None


async def wait_for_tasks() -> None:
    """On ``memory://``, wait until every task kicked so far finished (tests); else no-op."""
    manager = _manager
    if manager is None:
        return
    wait_all = getattr(manager.broker, "wait_all", None)
    if wait_all is not None:
        await wait_all()


async def health_check() -> bool:
    """Readiness of the project's task broker: started and its connection alive.

    Never raises; False before :func:`start_task_broker`.
    """
    manager = _manager
    return manager is not None and await manager.health_check()


def bind_all_discovered(broker: AsyncBroker) -> list[TempestTask[Any, Any]]:
    """Discover the apps' tasks and register every task on ``broker``."""
    return bind_all(broker, discover_tasks())
