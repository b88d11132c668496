"""The admin's sign-in page offers the OAuth providers; their callback opens an admin session.

Against the real OpenID provider (oidc-provider-mock) on loopback: over httpx in
process, and once in headless Chromium against the app served by uvicorn.
"""

from __future__ import annotations

import re
import socket
import threading
import time
from collections.abc import Iterator
from contextlib import contextmanager
from typing import TYPE_CHECKING, Any

import pytest
from sqlalchemy import update

from tempest.db import get_database
from tests.conftest import _database_url
from tests.contrib.auth.conftest import AuthEnv, Build
from tests.contrib.auth.oauth_fakes import (
    CLIENT_ID,
    CLIENT_SECRET,
    authorize_at_mock,
    oidc_provider,
    set_mock_user,
)

if TYPE_CHECKING:
    from playwright.sync_api import Page

ADMIN_EMAIL = "boss@example.com"

pytestmark = pytest.mark.filterwarnings("ignore:.*deprecated")  # authlib's, in the mock


@pytest.fixture(scope="module")
def database_url(tmp_path_factory: pytest.TempPathFactory) -> str:
    """PostgreSQL only: the flow is database-agnostic, and the suite must stay fast."""
    return _database_url("postgresql", tmp_path_factory)


@pytest.fixture(scope="module")
def issuer() -> Iterator[str]:
    with oidc_provider() as url:
        yield url


def admin_settings(issuer: str, **extra: Any) -> dict[str, Any]:
    return {
        "INSTALLED_APPS": ["tempest.contrib.auth", "tempest.contrib.admin"],
        "AUTH_OAUTH_PROVIDERS": {
            "mock": {
                "discovery_url": f"{issuer}/.well-known/openid-configuration",
                "client_id": CLIENT_ID,
                "client_secret": CLIENT_SECRET,
                "title": "Mock SSO",
            }
        },
        "AUTH_OAUTH_COOKIE_SECURE": False,
        "ADMIN_COOKIE_SECURE": False,
    } | extra


async def make_admin(email: str) -> None:
    from tempest.contrib.auth.models import User

    async with get_database().session_factory() as session:
        await session.execute(update(User).where(User.email == email).values(is_admin=True))
        await session.commit()


@pytest.mark.anyio
@pytest.mark.usefixtures("restore_root_logging")
async def test_admin_sign_in_with_the_provider(build: Build, issuer: str) -> None:
    env: AuthEnv = await build(**admin_settings(issuer))
    await env.active_user(ADMIN_EMAIL)
    await make_admin(ADMIN_EMAIL)
    await env.active_user("staff@example.com")

    page = await env.http.get("/admin/login")
    assert page.status_code == 200
    link = re.search(r'href="(/admin/oauth/mock/start\?[^"]+)">Sign in with Mock SSO', page.text)
    assert link is not None, page.text
    started = await env.http.get(link.group(1).replace("&amp;", "&"))
    assert started.status_code == 303
    set_mock_user(issuer, "boss-sub", {"email": ADMIN_EMAIL, "email_verified": True})
    redirect = authorize_at_mock(started.headers["location"], "boss-sub")
    assert redirect.startswith("http://testserver/admin/oauth/mock/callback?")
    signed_in = await env.http.get(redirect.removeprefix("http://testserver"))
    assert signed_in.status_code == 303, signed_in.text
    assert signed_in.headers["location"] == "/admin/"
    dashboard = await env.http.get("/admin/")
    assert dashboard.status_code == 200 and ADMIN_EMAIL in dashboard.text

    # A linked user who is not an admin gets the sign-in page back, with no session.
    env.http.cookies.clear()
    started = await env.http.get("/admin/oauth/mock/start")
    set_mock_user(issuer, "staff-sub", {"email": "staff@example.com", "email_verified": True})
    redirect = authorize_at_mock(started.headers["location"], "staff-sub")
    refused = await env.http.get(redirect.removeprefix("http://testserver"))
    assert refused.status_code == 403 and "may not use the admin" in refused.text
    assert (await env.http.get("/admin/")).status_code in (302, 303)

    # Forged state: the sign-in page with the error, no session.
    started = await env.http.get("/admin/oauth/mock/start")
    redirect = authorize_at_mock(started.headers["location"], "boss-sub")
    forged = re.sub(r"state=[^&]+", "state=forged", redirect.removeprefix("http://testserver"))
    answer = await env.http.get(forged)
    assert answer.status_code == 400 and "does not match" in answer.text
    assert (await env.http.get("/admin/oauth/nope/start")).status_code == 404


# -- in Chromium ----------------------------------------------------------------------------


@contextmanager
def served(make_app: Any) -> Iterator[str]:
    """Serve the app ``make_app(base_url)`` builds with uvicorn, on a port known beforehand.

    The app's SITE_URL must be its own address (the provider redirects there), so the
    socket is bound first and the app built for it.
    """
    import uvicorn

    sock = socket.socket()
    sock.bind(("127.0.0.1", 0))
    base_url = f"http://127.0.0.1:{sock.getsockname()[1]}"
    config = uvicorn.Config(make_app(base_url), log_config=None, log_level="warning")
    server = uvicorn.Server(config)
    thread = threading.Thread(target=server.run, kwargs={"sockets": [sock]}, daemon=True)
    thread.start()
    deadline = time.monotonic() + 15
    while not server.started:
        assert thread.is_alive() and time.monotonic() < deadline, "the server did not start"
        time.sleep(0.02)
    try:
        yield base_url
    finally:
        server.should_exit = True
        thread.join(10)
        sock.close()


@pytest.mark.e2e
def test_admin_sign_in_in_chromium(page: Page, database_url: str, issuer: str) -> None:
    import secrets

    from tempest.apps import apps
    from tempest.conf import Settings, settings
    from tempest.core.asgi import get_asgi_application
    from tempest.db import reset_database
    from tests.browser import run_async
    from tests.conftest import _empty_tables

    async def prepare() -> None:
        from tempest.contrib.auth.models import User

        database = get_database()
        await database.connect()
        await database.create_tables()
        await _empty_tables(database)
        async with database.session_factory() as session:
            session.add(User(email=ADMIN_EMAIL, hashed_password="", is_admin=True))
            await session.commit()
        await database.disconnect()

    async def cleanup() -> None:
        database = get_database()
        await database.connect()
        await _empty_tables(database)
        await database.disconnect()

    def make_app(base_url: str) -> Any:
        values = admin_settings(issuer, SITE_URL=base_url, DATABASE_URL=database_url)
        values["ALLOWED_HOSTS"] = ["127.0.0.1"]
        values |= {"SECRET_KEY": secrets.token_urlsafe(48), "JWT_SECRET": "j" * 48}
        settings.configure(Settings(**values))  # type: ignore[attr-defined]
        app = get_asgi_application()
        run_async(prepare)
        return app

    set_mock_user(issuer, "chrome-boss", {"email": ADMIN_EMAIL, "email_verified": True})
    try:
        with served(make_app) as base_url:
            page.goto(f"{base_url}/admin/login")
            page.get_by_role("link", name="Sign in with Mock SSO").click()
            page.wait_for_url(f"{issuer}/oauth2/authorize?**")
            page.fill("input[name=sub]", "chrome-boss")
            page.get_by_role("button", name="Authorize").click()
            page.wait_for_url(f"{base_url}/admin/")
            assert ADMIN_EMAIL in page.content()
    finally:
        run_async(cleanup)
        apps.reset()
        settings.reset()  # type: ignore[attr-defined]
        reset_database()
