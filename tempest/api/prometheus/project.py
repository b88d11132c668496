"""Prometheus metrics of a tempest project, switched on by ``METRICS_ENABLED``.

:func:`install_metrics` is what ``get_asgi_application`` calls when the setting is on:
the scrape route, the middleware (outermost), the cache counters and the per-worker
sampler. :func:`task_metrics_middleware` is what the project's task broker adds.
:func:`prepare_multiprocess` points prometheus-client at ``METRICS_MULTIPROC_DIR`` before
it is imported. With the setting off none of this module runs.
"""

from __future__ import annotations

import os
from typing import TYPE_CHECKING, Any

from tempest.api.prometheus.registry import MULTIPROC_VARIABLE

if TYPE_CHECKING:
    from fastapi import FastAPI

__all__ = [
    "install_metrics",
    "metrics_enabled",
    "prepare_multiprocess",
    "serve_multiprocess_dir",
    "task_metrics_middleware",
    "wipe_multiprocess_dir",
]


def metrics_enabled(settings: Any) -> bool:
    """Whether the project turned Prometheus metrics on."""
    return bool(getattr(settings, "METRICS_ENABLED", False))


def prepare_multiprocess(settings: Any) -> str | None:
    """Set ``PROMETHEUS_MULTIPROC_DIR`` from ``METRICS_MULTIPROC_DIR`` (created if needed).

    Must run before prometheus-client is imported in this process; a variable already in
    the environment (set by ``serve`` for its workers, or by the deployment) wins.

    Returns:
        The directory in use, or None for single-process metrics.
    """
    current = os.environ.get(MULTIPROC_VARIABLE)
    if current:
        return current
    directory = getattr(settings, "METRICS_MULTIPROC_DIR", None)
    if not directory:
        return None
    os.makedirs(directory, exist_ok=True)
    os.environ[MULTIPROC_VARIABLE] = str(directory)
    return str(directory)


def wipe_multiprocess_dir(directory: str) -> None:
    """Delete the metric files a previous run left (``serve`` does it before forking)."""
    for name in os.listdir(directory):
        if name.endswith(".db"):
            os.remove(os.path.join(directory, name))


def install_metrics(app: FastAPI, settings: Any) -> None:
    """Add the scrape route, the middleware and the collectors to the project's app.

    Args:
        app: The application ``get_asgi_application`` is building.
        settings: The project's settings (the ``METRICS_*`` group).
    """
    prepare_multiprocess(settings)
    from tempest.api.internals import flatten_last_inclusion
    from tempest.api.prometheus.collectors import SystemCollector, WorkerSampler
    from tempest.api.prometheus.middleware import PrometheusMiddleware
    from tempest.api.prometheus.registry import is_multiprocess, make_prometheus_registry
    from tempest.api.prometheus.router import make_prometheus_router
    from tempest.db.session import get_database

    multiprocess = is_multiprocess()
    sampler = WorkerSampler(get_database, process=multiprocess)
    collectors: list[Any] = [sampler]  # first: refreshes its gauges before they are read
    if settings.METRICS_SYSTEM:
        try:
            collectors.append(SystemCollector(settings.METRICS_DISK_PATHS))
        except ImportError:
            import logging

            logging.getLogger("tempest.metrics").warning(
                'METRICS_SYSTEM needs psutil: pip install "tempest-framework[metrics]"'
            )
    registry = make_prometheus_registry(collectors=collectors)
    token = settings.METRICS_TOKEN.get_secret_value() if settings.METRICS_TOKEN else None
    app.include_router(
        make_prometheus_router(
            registry,
            path=settings.METRICS_PATH,
            token=token,
            allowed_networks=settings.METRICS_ALLOWED_NETWORKS,
        )
    )
    flatten_last_inclusion(app)
    app.add_middleware(PrometheusMiddleware, skip_paths=[settings.METRICS_PATH])
    _count_cache_lookups()
    if multiprocess:
        sampler.start()


def _count_cache_lookups() -> None:
    from tempest.api.prometheus.registry import counter_family
    from tempest.cache import flight

    counter = counter_family(
        "cache_lookups",
        "Lookups of @cached functions and cached routes: hit, stale (served while it "
        "reloads) or miss (loaded).",
        ["result"],
    )
    children = {result: counter.labels(result) for result in ("hit", "stale", "miss")}

    def record(result: str) -> None:
        children[result].inc()

    flight.lookup_observer = record


def task_metrics_middleware(settings: Any) -> Any:
    """A TaskIQ middleware counting tasks kicked, done and failed by task name.

    Kicks are counted where they happen (the API's workers), runs where the task runs
    (``manage.py worker``'s processes): both reach one scrape when every process shares
    ``METRICS_MULTIPROC_DIR``.

    Returns:
        The middleware, or None when metrics are off.
    """
    if not metrics_enabled(settings):
        return None
    prepare_multiprocess(settings)
    import taskiq

    from tempest.api.prometheus.registry import counter_family

    kicked = counter_family("tasks_kicked", "Tasks sent to the broker.", ["task"])
    done = counter_family("tasks_done", "Task runs that returned.", ["task"])
    failed = counter_family("tasks_failed", "Task runs that raised.", ["task"])

    class TaskMetricsMiddleware(taskiq.TaskiqMiddleware):
        def pre_send(self, message: Any) -> Any:
            kicked.labels(message.task_name).inc()
            return message

        def post_execute(self, message: Any, result: Any) -> None:
            (failed if result.is_err else done).labels(message.task_name).inc()

    return TaskMetricsMiddleware()


def serve_multiprocess_dir(settings: Any, workers: int) -> tuple[str | None, bool]:
    """Set up the metric files' directory for ``serve``, before it starts its workers.

    With metrics on and several workers (or ``METRICS_MULTIPROC_DIR`` set), the
    directory is ``METRICS_MULTIPROC_DIR`` or a fresh temporary one, emptied of a previous
    run's files and exported as ``PROMETHEUS_MULTIPROC_DIR`` for the workers.

    Returns:
        ``(directory, temporary)``: None when metrics stay per process; ``temporary``
        when ``serve`` made it and removes it at exit.
    """
    import tempfile

    if not metrics_enabled(settings):
        return None, False
    directory = getattr(settings, "METRICS_MULTIPROC_DIR", None) or os.environ.get(
        MULTIPROC_VARIABLE
    )
    temporary = False
    if not directory:
        if workers < 2:
            return None, False
        directory = tempfile.mkdtemp(prefix="tempest-metrics-")
        temporary = True
    os.makedirs(directory, exist_ok=True)
    wipe_multiprocess_dir(directory)
    os.environ[MULTIPROC_VARIABLE] = directory
    return directory, temporary
