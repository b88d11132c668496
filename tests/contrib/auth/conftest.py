"""An in-process app with the auth router, a real database and a real SMTP server; a new
project driven through manage.py subprocesses; a private Redis a test may kill."""

from __future__ import annotations

import asyncio
import os
import secrets
import subprocess
from collections.abc import AsyncIterator, Awaitable, Callable, Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any
from urllib.parse import parse_qs, urlsplit

import httpx
import pytest
from fastapi import FastAPI

from tempest.apps import apps
from tempest.conf import Settings, settings
from tempest.contrib.auth.service import UserAuthService
from tempest.core.asgi import get_asgi_application
from tempest.db import get_database, reset_database
from tests.conftest import _empty_tables, service_url
from tests.services import PrivateRedis, private_redis

__all__ = ["PrivateRedis", "private_redis"]  # moved to tests.services; re-exported here
from tests.mail.test_sender import SMTPServer, links_in, parts, start_server

PASSWORD = "correct horse battery"


@pytest.fixture
def smtp() -> Iterator[SMTPServer]:
    """A real SMTP server (aiosmtpd) on a free local port."""
    yield from start_server()


@dataclass
class AuthEnv:
    """The app under test and what it talks to."""

    app: FastAPI
    http: httpx.AsyncClient
    smtp: SMTPServer
    service: UserAuthService

    def last_link(self) -> str:
        """The link of the last email received, checked to be in both bodies."""
        text, html = parts(self.smtp.messages[-1].message)
        assert html is not None
        (link,) = links_in(html)
        assert link in text
        return link

    def last_token(self) -> str:
        """The token of the last email's link."""
        return parse_qs(urlsplit(self.last_link()).query)["token"][0]

    async def signup(self, email: str, password: str = PASSWORD, **headers: str) -> httpx.Response:
        return await self.http.post(
            "/api/auth/signup", json={"email": email, "password": password}, headers=headers
        )

    async def active_user(self, email: str, password: str = PASSWORD) -> None:
        """Sign up and activate through the emailed link."""
        response = await self.signup(email, password)
        assert response.status_code == 202, response.text
        activated = await self.http.post("/api/auth/activate", json={"token": self.last_token()})
        assert activated.status_code == 200, activated.text

    async def login(self, email: str, password: str = PASSWORD) -> httpx.Response:
        return await self.http.post("/api/auth/login", json={"email": email, "password": password})

    async def tokens(self, email: str, password: str = PASSWORD) -> dict[str, Any]:
        response = await self.login(email, password)
        assert response.status_code == 200, response.text
        body: dict[str, Any] = response.json()
        return body


Build = Callable[..., Awaitable[AuthEnv]]


@pytest.fixture
async def build(database_url: str, smtp: SMTPServer) -> AsyncIterator[Build]:
    """Build the app from settings values; tables are emptied and everything reset after."""
    clients: list[httpx.AsyncClient] = []

    async def make(service: UserAuthService | None = None, **values: Any) -> AuthEnv:
        defaults: dict[str, Any] = {
            "INSTALLED_APPS": ["tempest.contrib.auth"],
            "DATABASE_URL": database_url,
            "JWT_SECRET": secrets.token_urlsafe(48),
            "SECRET_KEY": secrets.token_urlsafe(48),
            "AUTH_PASSWORD_HASH_ROUNDS": 4,
            "EMAIL_BACKEND": "smtp",  # these tests read what the SMTP server received
            "SMTP_HOST": smtp.host,
            "SMTP_PORT": smtp.port,
            "SMTP_USE_TLS": False,
            "SMTP_FROM_ADDR": "Shop <noreply@example.com>",
            "TITLE": "Shop",
            "SITE_URL": "http://testserver",  # emailed links point here, not at the Host
        }
        settings.configure(Settings(**(defaults | values)))  # type: ignore[attr-defined]
        app = get_asgi_application()  # mounts the auth app's router under /api/auth
        service = service or UserAuthService()  # the same settings: for models and tokens
        database = get_database()
        await database.connect()
        await database.create_tables()
        await _empty_tables(database)
        transport = httpx.ASGITransport(app=app, raise_app_exceptions=False)
        http = httpx.AsyncClient(transport=transport, base_url="http://testserver")
        clients.append(http)
        return AuthEnv(app, http, smtp, service)

    yield make
    for http in clients:
        await http.aclose()
    if clients:
        database = get_database()
        await _empty_tables(database)
        await database.disconnect()
    apps.reset()
    settings.reset()  # type: ignore[attr-defined]
    reset_database()


@pytest.fixture
async def env(build: Build) -> AuthEnv:
    """The app with the default settings of the tests."""
    return await build(AUTH_MAX_LOGIN_ATTEMPTS=3)


# -- a new project, run through manage.py --------------------------------------------------

Run = Callable[..., subprocess.CompletedProcess[str]]
"""``run(*args, input=None, **env)``: ``manage.py ARGS`` in the project, as a user runs it."""


@pytest.fixture(params=["sqlite", "postgresql"])
def project(request: pytest.FixtureRequest, new_project: Callable[..., Path]) -> Iterator[Run]:
    """A migrated new project (which installs tempest.contrib.auth); yields ``run``.

    ``run.root`` is the project's folder. On PostgreSQL the project has a database of its
    own, one per test run, dropped afterwards.
    """
    from tests.db.test_migration_commands import _recreate_database, ok
    from tests.helpers import PYTHON, clean_env

    root = new_project("shop")
    env = {"AUTH_PASSWORD_HASH_ROUNDS": "4"}
    server_url = ""
    database = f"tempest_auth_project_test_{os.getpid()}"  # one per run: runs do not clash
    if request.param == "postgresql":
        server_url = service_url("TEMPEST_TEST_DATABASE_URL")
        env["DATABASE_URL"] = asyncio.run(_recreate_database(server_url, database))

    def run(*args: str, input: str | None = None, **extra: str) -> subprocess.CompletedProcess[str]:
        return subprocess.run(
            [PYTHON, "manage.py", *args],
            cwd=root,
            capture_output=True,
            text=True,
            timeout=60,
            env=clean_env(**env, **extra),
            input=input,
        )

    run.root = root  # type: ignore[attr-defined]
    ok(run("migrate"))
    yield run
    if server_url:
        asyncio.run(_recreate_database(server_url, database, create=False))
