"""``make_tool_spec_router``: ``GET /tool-spec``, a manifest of what the service can do.

Given a dict or a function, the router serves what it gives. Given nothing, it derives
the manifest from the application's OpenAPI document: one *tool* per operation, with a
name, a description and a self-contained JSON Schema of its arguments (path, query and
header parameters, and the JSON body under ``body``), the shape function-calling LLM
clients and agents take.
"""

from __future__ import annotations

import inspect
from collections.abc import Awaitable, Callable, Mapping, Sequence
from typing import Any

from fastapi import APIRouter, Request

__all__ = ["ToolSpec", "make_tool_spec_router", "openapi_tools"]

ToolSpec = (
    Mapping[str, Any] | Callable[[], Mapping[str, Any]] | Callable[[], Awaitable[Mapping[str, Any]]]
)
"""What :func:`make_tool_spec_router` serves: a dict, or a sync or async function."""

_METHODS = ("get", "post", "put", "patch", "delete")
_MAX_DEPTH = 12
"""How deep ``$ref`` s are inlined; a recursive schema stops there as a plain object."""


def _resolve(schema: Any, components: Mapping[str, Any], seen: tuple[str, ...]) -> Any:
    """``schema`` with every ``#/components/schemas/...`` reference inlined."""
    if isinstance(schema, list):
        return [_resolve(item, components, seen) for item in schema]
    if not isinstance(schema, dict):
        return schema
    reference = schema.get("$ref")
    if isinstance(reference, str) and reference.startswith("#/components/schemas/"):
        name = reference.rpartition("/")[2]
        target = components.get(name)
        if target is None or name in seen or len(seen) >= _MAX_DEPTH:
            return {"type": "object", "title": name}
        return _resolve(target, components, (*seen, name))
    return {key: _resolve(value, components, seen) for key, value in schema.items()}


def _tool_name(method: str, path: str, operation: Mapping[str, Any]) -> str:
    operation_id = operation.get("operationId")
    if isinstance(operation_id, str) and operation_id:
        return operation_id
    cleaned = "".join(char if char.isalnum() else "_" for char in path).strip("_")
    return f"{method}_{cleaned}" if cleaned else method


def _tool(
    method: str, path: str, operation: Mapping[str, Any], components: Mapping[str, Any]
) -> dict[str, Any]:
    properties: dict[str, Any] = {}
    required: list[str] = []
    for parameter in operation.get("parameters", ()):
        parameter = _resolve(parameter, components, ())
        if parameter.get("in") not in ("path", "query", "header"):
            continue
        name = str(parameter.get("name"))
        schema = dict(parameter.get("schema") or {})
        if parameter.get("description") and "description" not in schema:
            schema["description"] = parameter["description"]
        properties[name] = schema
        if parameter.get("required"):
            required.append(name)
    body = operation.get("requestBody")
    if isinstance(body, dict):
        content = body.get("content", {})
        media = content.get("application/json") or next(iter(content.values()), None)
        if isinstance(media, dict) and "schema" in media:
            properties["body"] = _resolve(media["schema"], components, ())
            if body.get("required"):
                required.append("body")
    summary = operation.get("summary") or ""
    description = operation.get("description") or summary
    return {
        "name": _tool_name(method, path, operation),
        "description": description,
        "summary": summary,
        "method": method.upper(),
        "path": path,
        "tags": list(operation.get("tags", ())),
        "parameters": {"type": "object", "properties": properties, "required": required},
    }


def openapi_tools(
    openapi: Mapping[str, Any], *, exclude_paths: Sequence[str] = ()
) -> list[dict[str, Any]]:
    """One tool per operation of an OpenAPI document.

    Each tool has ``name`` (the operation id), ``description``, ``summary``, ``method``,
    ``path``, ``tags`` and ``parameters``: a JSON Schema object whose properties are the
    path, query and header parameters, plus ``body`` for a JSON request body, with every
    ``$ref`` inlined so the schema stands alone.

    Args:
        openapi: The document (``app.openapi()``).
        exclude_paths: Paths to leave out.

    Returns:
        The tools, in the document's order.
    """
    components = openapi.get("components", {}).get("schemas", {})
    tools: list[dict[str, Any]] = []
    for path, item in openapi.get("paths", {}).items():
        if path in exclude_paths or not isinstance(item, dict):
            continue
        for method in _METHODS:
            operation = item.get(method)
            if isinstance(operation, dict) and not operation.get("deprecated"):
                tools.append(_tool(method, path, operation, components))
    return tools


def make_tool_spec_router(
    spec: ToolSpec | None = None,
    *,
    path: str = "/tool-spec",
    tag: str = "meta",
) -> APIRouter:
    """Build the router serving ``GET {path}``: a machine-readable manifest of the service.

    ``spec`` is served as given: a dict verbatim, a function called (or awaited) on each
    request. Without ``spec`` the manifest comes from the application's OpenAPI document:
    ``{"service", "version", "description", "tools": [...]}`` with the tools of
    :func:`openapi_tools` (this route left out). Include it at the root, next to the health
    routes, and guard it like any route (``dependencies=[...]`` on ``include_router``) if
    the operations it lists are not public.

    Args:
        spec: The manifest, or a function giving it; default: derived from OpenAPI.
        path: The route's path.
        tag: The route's OpenAPI tag.

    Returns:
        The router.

    Raises:
        TypeError: ``spec`` is neither a mapping nor callable.
    """
    if spec is not None and not isinstance(spec, Mapping) and not callable(spec):
        raise TypeError(f"spec must be a dict or a function, not {type(spec).__name__}")
    router = APIRouter(tags=[tag])

    @router.get(path, summary="Describe what this service can do")
    async def tool_spec(request: Request) -> dict[str, Any]:
        if spec is None:
            app = request.app
            own = getattr(request.scope.get("route"), "path", path)
            tools = openapi_tools(app.openapi(), exclude_paths=(path, own))
            return {
                "service": app.title,
                "version": app.version,
                "description": app.description or "",
                "tools": tools,
            }
        if isinstance(spec, Mapping):
            return dict(spec)
        value = spec()
        if inspect.isawaitable(value):
            value = await value
        return dict(value)

    return router
