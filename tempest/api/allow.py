"""The complete ``Allow`` header of a 405: every method that some route of the path takes.

Starlette answers 405 from the first route whose path matches, with that route's methods
only; FastAPI declares one route per method, so ``GET /items/{id}``, ``PATCH`` and
``DELETE`` are three routes and a ``PUT`` was told ``Allow: GET``. The exception handler
asks :func:`allowed_methods` instead: it probes the app's routes with each method, which
costs a few route matches on the 405 path only.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from typing import Any

from starlette.routing import Match

__all__ = ["allowed_methods"]

# The methods a route may take, in the order the header lists them.
_METHODS = ("GET", "HEAD", "POST", "PUT", "PATCH", "DELETE", "OPTIONS")
# What routing reads from a request's scope; the probes copy nothing else.
_ROUTING_KEYS = ("type", "path", "raw_path", "root_path", "headers", "scheme", "server")


def allowed_methods(scope: Mapping[str, Any], routes: Iterable[Any], known: str = "") -> str:
    """The ``Allow`` value for a 405 on the request of ``scope``.

    Args:
        scope: The ASGI scope of the refused request.
        routes: The app's top-level routes (``scope["router"].routes``).
        known: The ``Allow`` value the refusing route gave; its methods are kept.

    Returns:
        The methods, comma-separated: the standard ones in a fixed order, then any other
        method that ``known`` named.
    """
    routes = tuple(routes)
    base = {key: scope[key] for key in _ROUTING_KEYS if key in scope}
    named = [method.strip().upper() for method in known.split(",") if method.strip()]
    found = set(named)
    for method in _METHODS:
        if method in found:
            continue
        for route in routes:
            match, _ = route.matches({**base, "method": method})
            if match is Match.FULL:
                found.add(method)
                break
    ordered = [method for method in _METHODS if method in found]
    ordered += [method for method in named if method not in _METHODS]
    return ", ".join(ordered)
