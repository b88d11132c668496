"""The private APIs of FastAPI and Starlette that tempest's web layer uses, one function each.

Each function's docstring names the private name it wraps and the versions it was checked
with. When an upgrade removes or changes it, the function raises
:class:`~tempest.utils.private_apis.PrivateAPIChanged` (a ``RuntimeError``) naming the library,
the name and the installed version. tests/test_private_apis.py runs each one against the
installed libraries. A private name that only exists from some version on (FastAPI's
native telemetry, its lazy router inclusion) is looked up when the public feature that
comes with it is there: an older FastAPI without the feature is not an error.

The SQLAlchemy and Alembic ones, and FastAPI's request exit stack, are in
:mod:`tempest.db.internals`.
"""

from __future__ import annotations

import inspect
from collections.abc import Callable
from typing import TYPE_CHECKING, Any

from tempest.utils.private_apis import PrivateAPIChanged, private_api_changed

if TYPE_CHECKING:
    from fastapi import FastAPI
    from starlette.exceptions import HTTPException

__all__ = [
    "PrivateAPIChanged",
    "body_limit_responder_scope_key",
    "flatten_last_inclusion",
    "host_header_parser",
    "native_telemetry",
    "starlette_body_too_large_error",
]

_LIBRARIES = {"fastapi": "FastAPI", "starlette": "Starlette"}


def _changed(error: AttributeError) -> PrivateAPIChanged | None:
    """The error to raise for ``error`` when FastAPI's or Starlette's own object lacks it."""
    owner = error.obj
    top = type(owner).__module__.partition(".")[0] if owner is not None else ""
    if top not in _LIBRARIES or error.name is None:
        return None  # not theirs: a project's route class, say
    return private_api_changed(_LIBRARIES[top], top, f"{type(owner).__name__}.{error.name}")


# -- FastAPI: native telemetry -------------------------------------------------------------


def native_telemetry(app: FastAPI) -> tuple[dict[str, Any], Any] | None:
    """FastAPI's telemetry configuration and the object that reads it on every request.

    Wraps ``FastAPI._telemetry`` (the resolved ``telemetry=`` configuration, a dict with
    ``tracing``, ``metrics``, ``logs`` and ``auto_configure``) and
    ``FastAPI._native_telemetry`` (whose ``enabled()`` asks the OpenTelemetry providers).
    Checked with FastAPI 0.165.0.

    Returns:
        ``(config, native)``; None for a FastAPI without native telemetry (no
        ``telemetry=`` parameter).

    Raises:
        PrivateAPIChanged: FastAPI takes ``telemetry=`` but keeps it elsewhere.
    """
    from fastapi import FastAPI

    if "telemetry" not in inspect.signature(FastAPI.__init__).parameters:
        return None
    config = getattr(app, "_telemetry", None)
    native = getattr(app, "_native_telemetry", None)
    if not isinstance(config, dict):
        raise private_api_changed("FastAPI", "fastapi", "FastAPI._telemetry (a dict)")
    if not callable(getattr(native, "enabled", None)):
        raise private_api_changed("FastAPI", "fastapi", "FastAPI._native_telemetry.enabled()")
    return config, native


# -- FastAPI: router inclusion -------------------------------------------------------------


def flatten_last_inclusion(app: FastAPI) -> None:
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

    Wraps ``fastapi.routing._IncludedRouter`` (its ``original_router``,
    ``include_context`` and ``effective_candidates()``, whose items have
    ``original_route`` and ``starlette_route``), ``APIRouter._low_priority_routes``,
    ``APIRouter._mark_routes_changed()`` and ``fastapi._body_limit.wrap_app_with_body_limit``;
    they come with the public ``fastapi.routing.iter_route_contexts``. Checked with
    FastAPI 0.165.0; a FastAPI without ``iter_route_contexts`` copies routes itself.

    Raises:
        PrivateAPIChanged: FastAPI includes routers lazily but one of those has changed.
    """
    from fastapi import routing as fastapi_routing

    if not hasattr(fastapi_routing, "iter_route_contexts"):
        return  # an older FastAPI, which already copies the routes
    included_type = getattr(fastapi_routing, "_IncludedRouter", None)
    if included_type is None:
        raise private_api_changed("FastAPI", "fastapi", "fastapi.routing._IncludedRouter")
    routes = app.router.routes
    inclusion = routes[-1] if routes else None
    if not isinstance(inclusion, included_type):
        return
    try:
        flat = _flat_routes(inclusion, {})
        if flat is None:
            return
        routes[-1:] = flat
        app.router._mark_routes_changed()
    except AttributeError as error:
        changed = _changed(error)
        if changed is None:
            raise
        raise changed from error
    except ImportError as error:
        name = "fastapi._body_limit.wrap_app_with_body_limit"
        raise private_api_changed("FastAPI", "fastapi", name) from error


def _flat_routes(inclusion: Any, form_limits: dict[str, Any]) -> list[Any] | None:
    from fastapi import routing as fastapi_routing
    from fastapi._body_limit import wrap_app_with_body_limit
    from fastapi.routing import APIRoute, APIWebSocketRoute
    from starlette import routing as starlette_routing

    if inclusion.original_router._low_priority_routes:  # APIRouter._low_priority_routes
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


# -- Starlette -----------------------------------------------------------------------------


def host_header_parser() -> Callable[[str], Any]:
    """Starlette's Host header parser: ``parse(value)`` -> ``.host``, ``.port`` or None.

    Wraps ``starlette._utils.parse_host_header`` (IP literals keep their brackets; the
    port is a string; an invalid header gives None). Called once, at import, by
    :mod:`tempest.api.middleware.hosts`. Checked with Starlette 1.10.0.

    Raises:
        PrivateAPIChanged: The installed Starlette no longer has it.
    """
    try:
        from starlette._utils import parse_host_header
    except ImportError:
        raise private_api_changed(
            "Starlette", "starlette", "starlette._utils.parse_host_header"
        ) from None
    parser: Callable[[str], Any] = parse_host_header
    return parser


def body_limit_responder_scope_key() -> str:
    """The scope key under which Starlette's body limit finds the active responder.

    Wraps ``starlette.middleware.body_limit._BODY_LIMIT_RESPONDER_SCOPE_KEY``: a route-
    or router-level limit nested in tempest's body limit middleware tightens that
    responder instead of counting the body again. Checked with Starlette 1.10.0.

    Raises:
        PrivateAPIChanged: The installed Starlette no longer has it.
    """
    from starlette.middleware import body_limit

    key = getattr(body_limit, "_BODY_LIMIT_RESPONDER_SCOPE_KEY", None)
    if not isinstance(key, str):
        raise private_api_changed(
            "Starlette",
            "starlette",
            "starlette.middleware.body_limit._BODY_LIMIT_RESPONDER_SCOPE_KEY",
        )
    return key


def starlette_body_too_large_error() -> type[HTTPException]:
    """The exception Starlette's body limit raises when a body is over the limit.

    Wraps ``starlette.middleware.body_limit._RequestBodyTooLarge`` (an ``HTTPException``
    subclass), which tempest's body limit middleware answers with its own 413. Checked
    with Starlette 1.10.0.

    Raises:
        PrivateAPIChanged: The installed Starlette no longer has it.
    """
    from starlette.exceptions import HTTPException
    from starlette.middleware import body_limit

    error = getattr(body_limit, "_RequestBodyTooLarge", None)
    if not (isinstance(error, type) and issubclass(error, HTTPException)):
        raise private_api_changed(
            "Starlette", "starlette", "starlette.middleware.body_limit._RequestBodyTooLarge"
        )
    return error
