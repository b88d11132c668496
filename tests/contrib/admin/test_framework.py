"""The admin as an installed app: mounted at /admin from the settings, like a project's."""

from __future__ import annotations

import secrets
from collections.abc import AsyncIterator, Awaitable, Callable
from pathlib import Path
from typing import Any

import httpx
import pytest

from tempest.apps import apps
from tempest.conf import Settings, settings
from tempest.core.asgi import get_asgi_application
from tempest.db import get_database, reset_database
from tests.conftest import _empty_tables
from tests.contrib.admin.conftest import PASSWORD, AdminClient, csrf_of
from tests.helpers import manage

pytestmark = [pytest.mark.anyio, pytest.mark.usefixtures("restore_root_logging")]

Build = Callable[..., Awaitable[AdminClient]]


@pytest.fixture
async def build(database_url: str) -> AsyncIterator[Build]:
    """Configure a project with auth and admin installed and return a client on its app."""
    made: list[httpx.AsyncClient] = []

    async def make(**values: Any) -> AdminClient:
        defaults: dict[str, Any] = {
            "INSTALLED_APPS": ["tempest.contrib.auth", "tempest.contrib.admin"],
            "DATABASE_URL": database_url,
            "SECRET_KEY": secrets.token_urlsafe(48),
            "JWT_SECRET": secrets.token_urlsafe(48),
            "AUTH_PASSWORD_HASH_ROUNDS": 4,
            "TITLE": "Shop",
        }
        settings.configure(Settings(**(defaults | values)))  # type: ignore[attr-defined]
        app = get_asgi_application()
        database = get_database()
        await database.connect()
        await database.create_tables()
        await _empty_tables(database)
        # https: the cookie is Secure (DEBUG is off), so the client must speak https
        transport = httpx.ASGITransport(app=app)
        http = httpx.AsyncClient(transport=transport, base_url="https://testserver")
        made.append(http)
        return AdminClient(http)

    yield make
    for http in made:
        await http.aclose()
    if made:
        database = get_database()
        await _empty_tables(database)
        await database.disconnect()
    apps.reset()
    settings.reset()  # type: ignore[attr-defined]
    reset_database()


async def test_the_installed_admin_serves_the_user_model(build: Build) -> None:
    client = await build()
    from tempest.contrib.auth.users import get_user_model

    user_model = get_user_model()
    async with get_database().get_session_context() as session:
        user = user_model(email="root@example.com", is_admin=True)
        user.set_password(PASSWORD)
        session.add(user)
    page = await client.login_page()
    assert "secure" in page.headers["set-cookie"].lower()  # DEBUG off: HTTPS only
    response = await client.login("root@example.com")
    assert response.status_code == 303, response.text
    dashboard = await client.get("/")
    assert dashboard.status_code == 200
    assert "<title>Shop admin</title>" in dashboard.text  # from settings.TITLE
    assert 'href="/admin/m/auth_user/"' in dashboard.text  # auth's admin.py registered it
    users = await client.get("/m/auth_user/", params={"q": "ROOT@"})
    assert users.status_code == 200 and "root@example.com" in users.text
    assert 'href="/admin/m/auth_user/new"' not in users.text  # can_create=False there
    client.token = csrf_of(users.text)
    assert (await client.post("/logout", {})).status_code == 303


@pytest.mark.parametrize("secret", ["", "too short for a signing key"])
async def test_without_a_32_byte_secret_the_admin_answers_503(build: Build, secret: str) -> None:
    client = await build(SECRET_KEY=secret)
    for method, path in [("GET", "/admin/"), ("GET", "/admin/login"), ("POST", "/admin/login")]:
        response = await client.http.request(method, path)
        assert response.status_code == 503
        assert "at least 32 bytes" in response.text
        assert "Set SECRET_KEY in .env" in response.text
        assert "secrets.token_urlsafe(50)" in response.text
    # The rest of the project still works.
    assert (await client.http.get("/health/liveness")).status_code == 200


async def test_admin_secret_key_takes_precedence(build: Build) -> None:
    client = await build(SECRET_KEY="short", ADMIN_SECRET_KEY="k" * 32, ADMIN_COOKIE_SECURE=False)
    page = await client.get("/login")
    assert page.status_code == 200
    assert "secure" not in page.headers["set-cookie"].lower().replace("samesite", "")


async def test_password_hashes_and_totp_secrets_never_leave_the_database(build: Build) -> None:
    client = await build()
    from tempest.contrib.auth.users import get_user_model

    secret = "JBSWY3DPEHPK3PXPJBSWY3DPEHPK3PXP"
    async with get_database().get_session_context() as session:
        user = get_user_model()(email="root@example.com", is_admin=True, mfa_secret=secret)
        user.set_password(PASSWORD)
        session.add(user)
    assert (await client.login("root@example.com")).status_code == 303
    pages = [
        await client.get(f"/m/auth_user/{user.id}"),
        await client.get(f"/m/auth_user/{user.id}/edit"),
        await client.get("/m/auth_user/export.csv"),
        await client.get("/m/auth_user/export.json"),
    ]
    for page in pages:
        assert page.status_code == 200
        assert "root@example.com" in page.text
        for leak in (user.hashed_password, "hashed_password", secret, "mfa_secret"):
            assert leak not in page.text, (page.url, leak)


def test_check_warns_when_the_admin_has_no_secret(shared_project: Path) -> None:
    result = manage(shared_project, "check", SECRET_KEY="too short")
    assert result.returncode == 0, result.stderr
    output = result.stdout + result.stderr
    assert "admin.W001" in output and "/admin answers 503" in output
    assert "admin.W001" not in manage(shared_project, "check").stdout  # its .env has one


def test_check_deploy_refuses_an_admin_cookie_over_http(shared_project: Path) -> None:
    result = manage(shared_project, "check", "--deploy", ADMIN_COOKIE_SECURE="false")
    assert result.returncode != 0
    assert "admin.E101" in result.stdout + result.stderr
    quiet = manage(shared_project, "check", "--deploy")
    assert "admin.E101" not in quiet.stdout + quiet.stderr


async def test_the_admin_router_is_one_object_per_settings_object(build: Build) -> None:
    from tempest.contrib.admin import routers

    await build()
    first = routers.router
    assert routers.router is first  # not rebuilt on each access
    await build(TITLE="Other")  # new settings: a router built from them
    assert routers.router is not first
