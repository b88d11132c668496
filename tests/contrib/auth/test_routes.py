"""The auth API mounted through a project sits flat in the app's route table.

FastAPI 0.165 includes a router lazily (every request walks it, about 20% of a small
route's cost); the framework copies an app's routes into the app's table instead
(:func:`tempest.core.asgi.get_asgi_application`). The URLs stay those of the router
under ``/api/auth``.
"""

from __future__ import annotations

import pytest
from fastapi import routing as fastapi_routing
from fastapi.routing import APIRoute
from starlette.routing import Mount

from tempest.contrib.auth.router import make_auth_router
from tests.contrib.auth.conftest import AuthEnv

pytestmark = pytest.mark.anyio

PREFIX = "/api/auth"


async def test_the_auth_routes_are_flat_in_the_app_s_table(env: AuthEnv) -> None:
    table = env.app.router.routes
    nested_types: tuple[type, ...] = (Mount,)
    included = getattr(fastapi_routing, "_IncludedRouter", None)
    if included is not None:
        nested_types += (included,)
    assert not [route for route in table if isinstance(route, nested_types)]

    flat = {
        (route.path, frozenset(route.methods or ()), route.name)
        for route in table
        if isinstance(route, APIRoute) and route.path.startswith(f"{PREFIX}/")
    }
    declared = {
        (PREFIX + route.path, frozenset(route.methods or ()), route.name)
        for route in make_auth_router().routes
        if isinstance(route, APIRoute)
    }
    assert len(declared) == 23  # 20, and OAuth sign-in: providers, start, callback
    assert flat == declared


async def test_the_urls_are_unchanged(env: AuthEnv) -> None:
    app = env.app
    assert app.url_path_for("auth_activate_page") == f"{PREFIX}/activate"
    assert app.url_path_for("auth_password_reset_page") == f"{PREFIX}/password-reset"
    assert app.url_path_for("auth_email_confirm_page") == f"{PREFIX}/email/confirm"
    paths = app.openapi()["paths"]
    assert f"{PREFIX}/login" in paths and f"{PREFIX}/mfa/verify" in paths
    login = await env.http.post(f"{PREFIX}/login", json={})
    assert login.status_code == 422  # routed to the endpoint, which validates the body
    assert (await env.http.get(f"{PREFIX}/me")).status_code == 401
