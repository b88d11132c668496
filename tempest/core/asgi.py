"""The project's ASGI application, assembled from settings and installed apps."""

from __future__ import annotations

import gc
import sys
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from typing import TYPE_CHECKING, Any, cast

from tempest.exceptions.framework import ImproperlyConfigured
from tempest.utils.imports import import_string

if TYPE_CHECKING:
    from fastapi import FastAPI

    from tempest.conf import Settings


def get_asgi_application() -> FastAPI:
    """Build the project's FastAPI application.

    Loads the settings and the app registry, then assembles: title, version and
    description from settings; a lifespan that connects and disconnects the database
    and, when the project uses them, the task broker and the message queue;
    the MIDDLEWARE stack (outermost first); the ``{detail, code, details}`` exception
    handlers, with the OpenAPI document declaring that envelope; the health router; and
    each installed app's ``router`` under its ``api_prefix`` (``/api/<label>``).

    Returns:
        The application; a project's ``asgi.py`` exposes it as ``application``.

    Raises:
        ImproperlyConfigured: Settings, an app, a middleware or a router is broken.
    """
    import tempest

    tempest.setup()

    from fastapi import FastAPI

    from tempest.api import (
        document_error_envelope,
        make_health_router,
        register_exception_handlers,
    )
    from tempest.api.docs import serve_docs_offline
    from tempest.api.middleware.body_limit import BodySizeLimitMiddleware
    from tempest.conf import settings
    from tempest.core.logging import configure_logging
    from tempest.db.session import get_database

    configure_logging(
        level=settings.LOG_LEVEL, json_output=settings.LOG_JSON, log_dir=settings.LOG_DIR or None
    )
    database = get_database()
    brokers = _project_brokers(settings)

    @asynccontextmanager
    async def lifespan(_: FastAPI) -> AsyncIterator[None]:
        await database.connect()
        started: list[Any] = []
        try:
            # A provider configured after the app was built (FastAPI's OTLP
            # auto-configuration runs just before this) turns the telemetry back on.
            telemetry.resume()
            for start, stop, _check in brokers.values():
                await start()
                started.append(stop)
            # Everything built so far (apps, models, routes) lives as long as the process:
            # keep it out of the cyclic garbage collector's scans, which otherwise walk it
            # again and again as requests allocate (about 15% of a database read's cost).
            gc.collect()
            gc.freeze()
            yield
        finally:
            for stop in reversed(started):
                await stop()
            # SSE streams and channel connections, if anything used them (tempest.sse).
            sse = sys.modules.get("tempest.sse.project")
            if sse is not None:
                await sse.close_event_hub()
            # The project's outgoing HTTP client, if anything used it (get_http_client).
            http_client = sys.modules.get("tempest.utils.http_client.project")
            if http_client is not None:
                await http_client.close_http_client()
            # The file storage's S3 connections, if anything used it (get_default_storage).
            storage = sys.modules.get("tempest.storage.default")
            if storage is not None:
                await storage.close_default_storage()
            await database.disconnect()

    app = FastAPI(
        title=settings.TITLE,
        version=settings.VERSION,
        description=settings.DESCRIPTION,
        lifespan=lifespan,
    )
    if settings.TRACING_ENABLED:
        # FastAPI's request spans on tempest's provider, SQL, tasks, HTTP (core.tracing).
        from tempest.core.tracing import setup_tracing

        setup_tracing(app)
    telemetry = _IdleTelemetry(app)
    register_exception_handlers(
        app,
        debug=settings.DEBUG,
        include_input=settings.API_ERRORS_INCLUDE_INPUT,
        default_locale=settings.LANGUAGE_CODE,
    )
    document_error_envelope(app)
    # Innermost of the stack (added first), so its 413/422 carry the request ID and CORS.
    app.add_middleware(BodySizeLimitMiddleware, max_body_size=settings.MAX_REQUEST_BODY_SIZE)
    _add_middleware(app, settings)
    _include_app_routers(app)
    # STATIC_URL: the apps' static/ folders under runserver, STATIC_ROOT under serve.
    from tempest.core.static import mount_static_files

    mount_static_files(app, settings)
    # Last: routes are matched in order, and API traffic outweighs probes.
    checks = {name: check for name, (_start, _stop, check) in brokers.items() if check}
    app.include_router(make_health_router(db=database, checks=checks, version=settings.VERSION))
    _flatten_last_inclusion(app)
    if settings.METRICS_ENABLED:
        # The scrape route, and the middleware outermost (added last); nothing when off.
        from tempest.api.prometheus.project import install_metrics

        install_metrics(app, settings)
    # /docs and /redoc with their assets from the package; the assets' route goes last.
    serve_docs_offline(app)
    return app


def _project_brokers(settings: Settings) -> dict[str, tuple[Any, Any, Any]]:
    """The brokers the app connects in its lifespan: name -> (start, stop, health check).

    The task broker when TaskIQ is installed and the project kicks tasks (a broker URL
    other than ``memory://``, or a task declared in an app's tasks.py); the queue when
    the project uses queues. A project that uses neither starts without them.
    """
    import importlib.util

    from tempest.queue import queues_enabled

    found: dict[str, tuple[Any, Any, Any]] = {}
    if importlib.util.find_spec("taskiq") is not None:
        from tempest import tasks

        in_process = settings.TASKIQ_BROKER_URL.startswith("memory://")
        if not in_process or tasks.discover_tasks():
            found["tasks"] = (tasks.start_task_broker, tasks.stop_task_broker, tasks.health_check)
    if queues_enabled():
        from tempest import queue

        found["queue"] = (queue.start_queue, queue.stop_queue, queue.health_check)
    # The cache: always started and closed (a memory cache is emptied at shutdown),
    # checked by readiness only when it lives in Redis.
    from tempest.cache import project as cache

    found["cache"] = (
        cache.start_cache,
        cache.stop_cache,
        cache.cache_health_check if cache.cache_uses_redis(settings) else None,
    )
    # Feature flags: always started (the environment and FEATURE_FLAGS), checked by
    # readiness only when they live in Redis.
    from tempest.flags.project import lifespan_hooks as flags_hooks

    found["flags"] = flags_hooks(settings)
    return found


class _IdleTelemetry:
    """FastAPI's native telemetry, off while no OpenTelemetry provider is configured.

    ``FastAPI(telemetry=...)`` asks the global tracer, meter and logger providers on
    every request whether one is configured (about 8% of a hello request); with none
    it records nothing. When none is configured as the app is built (and FastAPI's OTLP
    auto-configuration is not requested), the three signals are switched off, and
    :meth:`resume` switches them back on at start-up if a provider appeared meanwhile.
    A provider configured after start-up is not seen: configure OpenTelemetry before
    the server starts (``opentelemetry-instrument`` and the SDK's usual set-up do).
    """

    _SIGNALS = ("tracing", "metrics", "logs")

    def __init__(self, app: FastAPI) -> None:
        from tempest.api.internals import native_telemetry

        # FastAPI keeps its resolved configuration in one dict, read on every request.
        found = native_telemetry(app)
        self.native: Any = None
        self.config: dict[str, Any] | None = None
        self.saved: dict[str, Any] = {}
        if found is None:
            return  # a FastAPI without native telemetry
        config, self.native = found
        if config.get("auto_configure") or self.native.enabled():
            return
        self.config = config
        self.saved = {signal: config.get(signal) for signal in self._SIGNALS}
        config.update(dict.fromkeys(self._SIGNALS, False))

    def resume(self) -> None:
        """Switch the signals back on if a provider has been configured since the build."""
        if self.config is None or not self.saved:
            return
        self.config.update(self.saved)
        if not self.native.enabled():
            self.config.update(dict.fromkeys(self._SIGNALS, False))


def _include_app_routers(app: FastAPI) -> None:
    from fastapi import APIRouter

    from tempest.apps import apps

    found = apps.import_app_modules("routers")
    # The project's apps first, tempest's own (contrib) apps after: a project route wins
    # over a contrib route of the same path, and FastAPI tries every route of an included
    # router before the next one, so the project's requests do not pay for the auth API's.
    ordered = sorted(found, key=lambda item: item[0].ships_with_tempest)
    for config, module in ordered:
        router = getattr(module, "router", None)
        if not isinstance(router, APIRouter):
            raise ImproperlyConfigured(
                f"{config.name}.routers must define `router`, a fastapi.APIRouter."
            )
        tags: list[Any] | None = None if router.tags else [config.label]
        # A router already under the app's prefix (the admin's) is not prefixed twice.
        prefix = "" if router.prefix == config.api_prefix else config.api_prefix
        app.include_router(router, prefix=prefix, tags=tags)
        _flatten_last_inclusion(app)


def _flatten_last_inclusion(app: FastAPI) -> None:
    # Copies the included router's routes into the app's table (FastAPI internals).
    from tempest.api.internals import flatten_last_inclusion

    flatten_last_inclusion(app)


def _add_middleware(app: FastAPI, settings: Settings) -> None:
    # Starlette puts the last added middleware outermost, so add innermost first.
    for path in reversed(settings.MIDDLEWARE):
        middleware = import_string(path, "MIDDLEWARE")
        from_settings = getattr(middleware, "from_settings", None)
        if from_settings is not None:
            app.add_middleware(cast(Any, _bind_settings(from_settings, settings)))
        else:
            app.add_middleware(middleware)
    # Outermost, from ALLOWED_HOSTS and not from MIDDLEWARE: the Host check cannot be
    # dropped from the list, and a refused request costs nothing further.
    from tempest.api.middleware.hosts import AllowedHostsMiddleware

    app.add_middleware(cast(Any, _bind_settings(AllowedHostsMiddleware.from_settings, settings)))


def _bind_settings(from_settings: Any, settings: Settings) -> Any:
    def factory(app: Any) -> Any:
        return from_settings(app, settings)

    return factory
