"""The project's task broker, built from settings on first use.

Settings read (``TaskIQSettings``): ``TASKIQ_BROKER_URL`` (default ``memory://``),
``TASKIQ_RESULT_BACKEND_URL`` and ``TASKIQ_QUEUE_NAME``. :func:`reset_task_broker`
forgets the broker so that the next use rebuilds it, for tests that change settings.

For tests (the pytest plugin uses them): :func:`run_tasks_in_place` makes a ``memory://``
broker run each kicked task inside ``kiq()`` and keep the errors of failed tasks for
:func:`wait_for_tasks` to raise, and :func:`tempest.db.session.override_work_session`
gives ``TaskSession`` the test's session. This module imports no TaskIQ until a broker is
built.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

from tempest.tasks.brokers import broker_scheme, make_broker

if TYPE_CHECKING:
    from taskiq import AsyncBroker, TaskiqMiddleware

    from tempest.tasks.manager import AsyncTaskBrokerManager

_manager: AsyncTaskBrokerManager | None = None
_in_place = False
_task_errors: list[BaseException] = []


def task_settings() -> tuple[str, str | None, str | None]:
    """``(TASKIQ_BROKER_URL, TASKIQ_RESULT_BACKEND_URL, TASKIQ_QUEUE_NAME)`` from settings."""
    from tempest.conf import settings

    url = str(getattr(settings, "TASKIQ_BROKER_URL", "memory://"))
    backend = getattr(settings, "TASKIQ_RESULT_BACKEND_URL", None)
    queue = getattr(settings, "TASKIQ_QUEUE_NAME", None)
    return url, backend, queue


def build_broker(queue_name: str | None = None) -> AsyncBroker:
    """A new broker from the project's settings (``queue_name`` overrides the setting).

    After :func:`run_tasks_in_place`, a ``memory://`` broker runs each kicked task inside
    ``kiq()`` and records the errors of the tasks that fail.
    """
    url, backend, queue = task_settings()
    broker = make_broker(url, result_backend_url=backend, queue_name=queue_name or queue)
    from tempest.conf import settings

    if getattr(settings, "METRICS_ENABLED", False):
        # Tasks kicked, done and failed by name (Prometheus); nothing when metrics are off.
        from tempest.api.prometheus.project import task_metrics_middleware

        broker.add_middlewares(task_metrics_middleware(settings))
    if getattr(settings, "TRACING_ENABLED", False):
        # The trace context travels in the task's labels (tempest.tasks.tracing).
        from tempest.tasks.tracing import task_tracing_middleware

        broker.add_middlewares(task_tracing_middleware())
    if _in_place and broker_scheme(url) == "memory":
        broker.await_inplace = True  # type: ignore[attr-defined]  # InMemoryBroker's option
        broker.add_middlewares(_error_recorder())
    return broker


def run_tasks_in_place(enabled: bool = True) -> None:
    """Make the ``memory://`` brokers built from now on run a kicked task inside ``kiq()``.

    The test plugin turns it on, as Celery's eager mode does: ``await t.kiq(...)``
    returns once the task has run, in the caller's event loop, so it can share the
    caller's database session (:func:`tempest.db.session.override_work_session`) without
    two coroutines using one session at once. A task that raises does not fail ``kiq()`` (a request
    that kicks it succeeds, as in production); its error is kept, and
    :func:`wait_for_tasks` raises it.

    Args:
        enabled: False goes back to running kicked tasks in the background.
    """
    global _in_place
    _in_place = enabled


def pop_task_errors() -> list[BaseException]:
    """The errors of tasks that failed in place since the last call, oldest first."""
    errors = list(_task_errors)
    _task_errors.clear()
    return errors


def _error_recorder() -> TaskiqMiddleware:
    from taskiq import NoResultError, TaskiqMessage, TaskiqMiddleware, TaskiqResult

    class RecordTaskErrors(TaskiqMiddleware):
        """Keep the error of a failed run that is not retried, for wait_for_tasks()."""

        def post_execute(self, message: TaskiqMessage, result: TaskiqResult[Any]) -> None:
            # A run that SimpleRetryMiddleware retries gets NoResultError as its error.
            error = result.error
            if result.is_err and error is not None and not isinstance(error, NoResultError):
                _task_errors.append(error)

    return RecordTaskErrors()


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


def reset_task_broker() -> None:
    """Forget the project's broker; the next use builds a new one from settings."""
    global _manager
    _manager = None


def is_in_memory() -> bool:
    """Whether TASKIQ_BROKER_URL is ``memory://``: tasks run in the sending process."""
    return broker_scheme(task_settings()[0]) == "memory"


async def stop_task_broker() -> None:
    """Stop the project's broker and forget it; call it in the lifespan, before the database.

    On ``memory://``, tasks still running are awaited first.
    """
    global _manager
    manager = _manager
    if manager is None:
        return
    await _wait_all()
    await manager.disconnect()
    _manager = None


async def wait_for_tasks() -> None:
    """Wait for the tasks kicked so far on ``memory://``, and raise the errors of failed ones.

    On other brokers it returns at once (workers run the tasks). Errors are kept only when
    tasks run in place (:func:`run_tasks_in_place`, as in the test plugin); each is
    raised once.

    Raises:
        Exception: What the one failed task raised; a ``BaseExceptionGroup`` of them when
            several failed.
    """
    await _wait_all()
    errors = pop_task_errors()
    if len(errors) == 1:
        raise errors[0]
    if errors:
        raise BaseExceptionGroup(f"{len(errors)} tasks failed", errors)


async def _wait_all() -> None:
    manager = _manager
    if manager is None:
        return
    wait_all = getattr(manager.broker, "wait_all", None)
    if wait_all is not None:
        await wait_all()


async def health_check() -> bool:
    """Readiness of the project's task broker: started and its connection alive.

    Never raises; False before :func:`tempest.tasks.start_task_broker`.
    """
    manager = _manager
    return manager is not None and await manager.health_check()
