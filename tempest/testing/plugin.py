"""pytest plugin for tempest projects.

Enable it in the project's ``pyproject.toml`` (``startproject`` does)::

    [tool.pytest.ini_options]
    addopts = ["-p", "tempest.testing.plugin"]
    tempest_settings = "shop.settings"

It points ``TEMPEST_SETTINGS_MODULE`` at the project, gives the test run its own database
(``TEMPEST_TEST_DATABASE_URL`` when set, else a throwaway SQLite file) with every
installed model's table, and provides the ``client`` fixture.
"""

from __future__ import annotations

import asyncio
import os
import shutil
import tempfile
from collections.abc import Awaitable, Callable, Iterator
from pathlib import Path
from typing import TYPE_CHECKING

import pytest

from tempest.conf.environ import ENVIRONMENT_VARIABLE

if TYPE_CHECKING:
    from fastapi import FastAPI
    from starlette.testclient import TestClient

TEST_DATABASE_VARIABLE = "TEMPEST_TEST_DATABASE_URL"
_scratch: list[Path] = []


def pytest_addoption(parser: pytest.Parser) -> None:
    """Register the ``tempest_settings`` ini option."""
    parser.addini("tempest_settings", "Dotted settings module of the project under test.")


def pytest_configure(config: pytest.Config) -> None:
    """Select the settings module and the test database before anything loads settings."""
    module = config.getini("tempest_settings")
    if module:
        os.environ.setdefault(ENVIRONMENT_VARIABLE, str(module))
    url = os.environ.get(TEST_DATABASE_VARIABLE)
    if not url:
        scratch = Path(tempfile.mkdtemp(prefix="tempest-tests-"))
        _scratch.append(scratch)
        url = f"sqlite+aiosqlite:///{scratch / 'test.sqlite3'}"
    os.environ["DATABASE_URL"] = url


def pytest_unconfigure(config: pytest.Config) -> None:
    """Remove the throwaway SQLite database."""
    while _scratch:
        shutil.rmtree(_scratch.pop(), ignore_errors=True)


@pytest.fixture(scope="session")
def tempest_app() -> Iterator[FastAPI]:
    """The project's ASGI app, with the test database's tables created for the session."""
    from tempest.core.asgi import get_asgi_application
    from tempest.db.manager import AsyncDatabaseManager

    application = get_asgi_application()
    manager = AsyncDatabaseManager(os.environ["DATABASE_URL"])

    async def run(action: Callable[[AsyncDatabaseManager], Awaitable[None]]) -> None:
        await manager.connect()
        try:
            await action(manager)
        finally:
            await manager.disconnect()

    asyncio.run(run(AsyncDatabaseManager.create_tables))
    yield application
    asyncio.run(run(AsyncDatabaseManager.drop_tables))


@pytest.fixture
def client(tempest_app: FastAPI) -> Iterator[TestClient]:
    """A test client on the project's app; its lifespan runs around the test."""
    from starlette.testclient import TestClient

    with TestClient(tempest_app) as test_client:
        yield test_client
