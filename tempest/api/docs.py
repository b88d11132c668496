"""Swagger UI (``/docs``) and ReDoc (``/redoc``) served with their assets from the package.

FastAPI's documentation pages load Swagger UI and ReDoc from cdn.jsdelivr.net and their
favicon from fastapi.tiangolo.com, so they stay blank on a machine without internet
access (a train, a locked-down network, an air-gapped cluster). :func:`serve_docs_offline`
swaps those pages for the same pages pointing at copies shipped in ``tempest/api/static``
(see the README there for versions and licences), served by the application itself.
"""

from __future__ import annotations

import hashlib
import html
from dataclasses import dataclass
from functools import cache
from importlib.resources import files
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    from fastapi import FastAPI
    from starlette.requests import Request
    from starlette.responses import Response

__all__ = ["ASSET_VERSIONS", "DOCS_STATIC_URL", "serve_docs_offline"]

DOCS_STATIC_URL = "/_tempest/static"
"""Where the application serves the documentation pages' scripts, stylesheet and icon."""

ASSET_VERSIONS: dict[str, str] = {
    "swagger-ui-bundle.js": "swagger-ui-dist 5.36.0",
    "swagger-ui.css": "swagger-ui-dist 5.36.0",
    "favicon.png": "swagger-ui-dist 5.36.0",
    "redoc.standalone.js": "redoc 2.5.4",
}
"""The vendored files, with the npm package and version each comes from."""

_MEDIA_TYPES = {
    ".js": "text/javascript; charset=utf-8",
    ".css": "text/css; charset=utf-8",
    ".png": "image/png",
}
# The URLs carry the file's digest (?v=...), so a browser may keep a file for good: an
# upgrade changes the URL.
_ASSET_HEADERS = {
    "Cache-Control": "public, max-age=31536000, immutable",
    "X-Content-Type-Options": "nosniff",
}
# FastAPI's names for the routes its setup() adds for docs_url, its OAuth2 redirect page
# and redoc_url.
_FASTAPI_DOCS_ROUTES = {"swagger_ui_html", "swagger_ui_redirect", "redoc_html"}


@dataclass(frozen=True)
class _Asset:
    body: bytes
    media_type: str
    digest: str


@cache
def _asset(name: str) -> _Asset | None:
    """The vendored file ``name``, read once; None for a name that is not one of them."""
    if name not in ASSET_VERSIONS:
        return None
    body = files("tempest.api").joinpath("static", name).read_bytes()
    digest = hashlib.sha256(body).hexdigest()[:16]
    return _Asset(body, _MEDIA_TYPES[name[name.rindex(".") :]], digest)


def _asset_url(root_path: str, static_url: str, name: str) -> str:
    asset = _asset(name)
    assert asset is not None  # only called with the names above
    return f"{root_path}{static_url}/{name}?v={asset.digest}"


def serve_docs_offline(app: FastAPI, *, static_url: str = DOCS_STATIC_URL) -> None:
    """Replace FastAPI's CDN-based ``/docs`` and ``/redoc`` pages by self-contained ones.

    The pages stay where the app's ``docs_url``, ``swagger_ui_oauth2_redirect_url`` and
    ``redoc_url`` put them (FastAPI's defaults: ``/docs``, ``/docs/oauth2-redirect``,
    ``/redoc``) and keep their options (``swagger_ui_parameters``,
    ``swagger_ui_init_oauth``); a page the app left out (``docs_url=None``, or
    ``openapi_url=None`` for both) stays out, and then nothing is added. Their scripts,
    stylesheet and favicon are served by the app under ``static_url`` with long cache
    headers. Swagger UI's validator badge, which calls validator.swagger.io, is off
    unless ``swagger_ui_parameters`` sets ``validatorUrl``; ReDoc is served without
    Google Fonts.

    Call it once, after the app is created: the pages replace FastAPI's in the route
    table (so they are matched as early as before), and the assets' route is added last.

    Args:
        app: The application, built with FastAPI's documentation options.
        static_url: Path under which the assets are served (no trailing slash).
    """
    from starlette.routing import Route

    replacements = {
        "swagger_ui_html": _swagger_page(app, static_url),
        "swagger_ui_redirect": _oauth2_redirect_page,
        "redoc_html": _redoc_page(app, static_url),
    }
    replaced = 0
    routes = app.router.routes
    for index, route in enumerate(routes):
        if isinstance(route, Route) and route.name in _FASTAPI_DOCS_ROUTES:
            routes[index] = Route(
                route.path,
                replacements[route.name],
                methods=["GET", "HEAD"],
                name=route.name,
                include_in_schema=False,
            )
            replaced += 1
    if not replaced:
        return
    app.router.routes.append(
        Route(
            f"{static_url}/{{name}}",
            _serve_asset,
            methods=["GET", "HEAD"],
            name="tempest_docs_asset",
            include_in_schema=False,
        )
    )
    mark_changed = getattr(app.router, "_mark_routes_changed", None)
    if mark_changed is not None:  # FastAPI 0.165 caches its route table
        mark_changed()


def _root_path(request: Request) -> str:
    return str(request.scope.get("root_path", "")).rstrip("/")


def _swagger_page(app: FastAPI, static_url: str) -> Any:
    from fastapi.openapi.docs import get_swagger_ui_html

    async def swagger_ui_html(request: Request) -> Response:
        root = _root_path(request)
        redirect = app.swagger_ui_oauth2_redirect_url
        return get_swagger_ui_html(
            openapi_url=root + str(app.openapi_url),
            title=html.escape(f"{app.title} - Swagger UI"),
            swagger_js_url=_asset_url(root, static_url, "swagger-ui-bundle.js"),
            swagger_css_url=_asset_url(root, static_url, "swagger-ui.css"),
            swagger_favicon_url=_asset_url(root, static_url, "favicon.png"),
            oauth2_redirect_url=root + redirect if redirect else None,
            init_oauth=app.swagger_ui_init_oauth,
            swagger_ui_parameters={"validatorUrl": None, **(app.swagger_ui_parameters or {})},
        )

    return swagger_ui_html


async def _oauth2_redirect_page(request: Request) -> Response:
    from fastapi.openapi.docs import get_swagger_ui_oauth2_redirect_html

    return get_swagger_ui_oauth2_redirect_html()


def _redoc_page(app: FastAPI, static_url: str) -> Any:
    from fastapi.openapi.docs import get_redoc_html

    async def redoc_html(request: Request) -> Response:
        root = _root_path(request)
        return get_redoc_html(
            openapi_url=root + str(app.openapi_url),
            title=html.escape(f"{app.title} - ReDoc"),
            redoc_js_url=_asset_url(root, static_url, "redoc.standalone.js"),
            redoc_favicon_url=_asset_url(root, static_url, "favicon.png"),
            with_google_fonts=False,
        )

    return redoc_html


async def _serve_asset(request: Request) -> Response:
    from starlette.exceptions import HTTPException
    from starlette.responses import Response

    asset = _asset(request.path_params["name"])
    if asset is None:
        raise HTTPException(404)
    etag = f'"{asset.digest}"'
    headers = {**_ASSET_HEADERS, "ETag": etag}
    if request.headers.get("if-none-match") == etag:
        return Response(status_code=304, headers=headers)
    return Response(asset.body, media_type=asset.media_type, headers=headers)
