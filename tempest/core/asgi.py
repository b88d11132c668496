"""The project's ASGI application, assembled from settings and installed apps."""

from __future__ import annotations

import gc
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
            await database.disconnect()

    app = FastAPI(
        title=settings.TITLE,
        version=settings.VERSION,
        description=settings.DESCRIPTION,
        lifespan=lifespan,
    )
    telemetry = _IdleTelemetry(app)
    register_exception_handlers(
        app, debug=settings.DEBUG, include_input=settings.API_ERRORS_INCLUDE_INPUT
    )
    document_error_envelope(app)
    # Innermost of the stack (added first), so its 413/422 carry the request ID and CORS.
    app.add_middleware(BodySizeLimitMiddleware, max_body_size=settings.MAX_REQUEST_BODY_SIZE)
    _add_middleware(app, settings)
    _include_app_routers(app)
    # Last: routes are matched in order, and API traffic outweighs probes.
    checks = {name: check for name, (_start, _stop, check) in brokers.items()}
    app.include_router(make_health_router(db=database, checks=checks, version=settings.VERSION))
    _flatten_last_inclusion(app)
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
        # FastAPI keeps its resolved configuration in one dict, read on every request.
        config = getattr(app, "_telemetry", None)
        self.native: Any = cast(Any, getattr(app, "_native_telemetry", None))
        self.config: dict[str, Any] | None = None
        self.saved: dict[str, Any] = {}
        if not isinstance(config, dict) or not hasattr(self.native, "enabled"):
            return  # another FastAPI: leave its telemetry alone
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
    """Replace the router ``include_router`` just added by its routes, prefixed.

    FastAPI includes a router lazily: every request walks the included router's routes
    through per-candidate scope bookkeeping, and matches the chosen one twice (about 20%
    of a hello route's cost). Older FastAPI copied the routes into the parent's table;
    this does the same, from FastAPI's own resolution of the inclusion (prefix, tags,
    dependencies, responses, callbacks, response class, unique IDs, body and form limits,
    route class and name), so routing, OpenAPI and ``url_for`` see what they saw before
    and a request pays what a route declared on the app pays. A router holding what the
    copy does not cover (frontend or other low-priority routes, unknown route types)
    stays included as FastAPI includes it.
    """
    from fastapi import routing as fastapi_routing

    routes = app.router.routes
    inclusion = routes[-1] if routes else None
    included_type = getattr(fastapi_routing, "_IncludedRouter", None)
    if included_type is None or not isinstance(inclusion, included_type):
        return  # an older FastAPI, which already copies the routes
    flat = _flat_routes(inclusion, {})
    if flat is None:
        return
    routes[-1:] = flat
    app.router._mark_routes_changed()


def _flat_routes(inclusion: Any, form_limits: dict[str, Any]) -> list[Any] | None:
    from fastapi import routing as fastapi_routing
    from fastapi._body_limit import wrap_app_with_body_limit
    from fastapi.routing import APIRoute, APIWebSocketRoute
    from starlette import routing as starlette_routing

    if inclusion.original_router._low_priority_routes:
        return None
    # The form limits of every enclosing inclusion, as its handle() would apply them.
    form_limits = {**form_limits, **inclusion.include_context.form_limits}
    limit = inclusion.include_context.max_body_size
    flat: list[Any] = []
    for candidate in inclusion.effective_candidates():
        if isinstance(candidate, fastapi_routing._IncludedRouter):
            nested = _flat_routes(candidate, form_limits)
            if nested is None:
                return None
            flat += nested
            continue
        original = candidate.original_route
        if isinstance(original, APIRoute):
            flat.append(_copy_api_route(original, candidate, form_limits))
        elif isinstance(
            original, (starlette_routing.Route, APIWebSocketRoute, starlette_routing.WebSocketRoute)
        ):
            route = candidate.starlette_route
            if limit is not None and isinstance(route, starlette_routing.Route):
                route.app = wrap_app_with_body_limit(route.app, limit)
            flat.append(route)
        else:
            return None  # Mount, Host, frontend groups: FastAPI's inclusion handles them
    return flat


def _copy_api_route(original: Any, context: Any, form_limits: dict[str, Any]) -> Any:
    """A route of ``type(original)`` built from its resolved inclusion ``context``."""
    options: dict[str, Any] = {}
    limits = {**form_limits, **original.form_limits}
    if limits:  # as add_api_route: custom route classes without form settings still work
        options["form_limits"] = limits
    return type(original)(
        context.path,
        endpoint=context.endpoint,
        response_model=context.response_model,
        status_code=context.status_code,
        tags=context.tags,
        dependencies=context.dependencies,
        summary=context.summary,
        description=context.description,
        response_description=context.response_description,
        responses=context.responses,
        deprecated=context.deprecated,
        name=context.name,
        methods=context.methods,
        operation_id=context.operation_id,
        response_model_include=context.response_model_include,
        response_model_exclude=context.response_model_exclude,
        response_model_by_alias=context.response_model_by_alias,
        response_model_exclude_unset=context.response_model_exclude_unset,
        response_model_exclude_defaults=context.response_model_exclude_defaults,
        response_model_exclude_none=context.response_model_exclude_none,
        include_in_schema=context.include_in_schema,
        response_class=context.response_class,
        dependency_overrides_provider=context.dependency_overrides_provider,
        callbacks=context.callbacks,
        openapi_extra=context.openapi_extra,
        generate_unique_id_function=context.generate_unique_id_function,
        strict_content_type=context.strict_content_type,
        max_body_size=context.max_body_size,
        **options,
    )


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
