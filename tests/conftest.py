"""Fixtures shared by the framework's tests."""

from __future__ import annotations

import asyncio
import logging
import os
from collections.abc import AsyncIterator, Callable, Iterator
from pathlib import Path

import pytest

from tempest.api.middleware.hosts import allow_test_hosts
from tempest.db import AsyncDatabaseManager
from tests.helpers import manage, tempest

# The browser fixtures (browser, page, artifacts_dir) and their hook; the S3 server (seaweedfs).
pytest_plugins = ["tests.browser", "tests.seaweed"]

# As Django's test runner adds 'testserver' to ALLOWED_HOSTS (tempest's pytest plugin does
# the same for projects): the hosts of this suite's in-process httpx clients.
allow_test_hosts("testserver", "test")


@pytest.fixture(scope="session")
def shared_project(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """One generated project for the whole run: ``shop`` with the example app ``orders``.

    Tests must not change it; use ``new_project`` for that.
    """
    root = tmp_path_factory.mktemp("shared")
    created = tempest(root, "startproject", "shop")
    assert created.returncode == 0, created.stderr
    project = root / "shop"
    app = manage(project, "startapp", "orders")
    assert app.returncode == 0, app.stderr
    for step in ("makemigrations", "migrate"):
        result = manage(project, step)
        assert result.returncode == 0, result.stderr
    return project


@pytest.fixture
def new_project(tmp_path: Path) -> Callable[..., Path]:
    """Make a fresh project (and optionally apps) that the test may change."""

    def make(name: str = "mysite", *apps: str) -> Path:
        created = tempest(tmp_path, "startproject", name)
        assert created.returncode == 0, created.stderr
        project = tmp_path / name
        for app in apps:
            result = manage(project, "startapp", app)
            assert result.returncode == 0, result.stderr
        return project

    return make


@pytest.fixture
def anyio_backend() -> str:
    """Async tests run on asyncio."""
    return "asyncio"


@pytest.fixture
def restore_root_logging() -> Iterator[None]:
    """Undo configure_logging's changes to the root logger after a test."""
    root = logging.getLogger()
    handlers, level = root.handlers[:], root.level
    yield
    for handler in root.handlers[:]:
        if handler not in handlers:
            root.removeHandler(handler)
            handler.close()
    root.setLevel(level)


SERVICES_REQUIRED = os.environ.get("TEMPEST_REQUIRE_SERVICES") == "1"


def service_url(variable: str) -> str:
    """The URL of a real service for a test, or skip (fail under TEMPEST_REQUIRE_SERVICES=1)."""
    url = os.environ.get(variable)
    if not url:
        message = f"{variable} is not set: this test needs the real service"
        if SERVICES_REQUIRED:
            pytest.fail(message + " (TEMPEST_REQUIRE_SERVICES=1)")
        pytest.skip(message)
    return url


def _database_url(backend: str, tmp_path_factory: pytest.TempPathFactory) -> str:
    if backend == "sqlite":
        return f"sqlite+aiosqlite:///{tmp_path_factory.mktemp('sqlite') / 'tests.sqlite3'}"
    url = service_url("TEMPEST_TEST_DATABASE_URL")
    asyncio.run(_reset_postgresql(url))
    return url


async def _reset_postgresql(url: str) -> None:
    """Start the run on an empty schema: tables of an earlier run may have other columns."""
    from sqlalchemy import text

    manager = AsyncDatabaseManager(url)
    await manager.connect()
    try:
        async with manager.engine.begin() as connection:
            await connection.execute(text("DROP SCHEMA public CASCADE"))
            await connection.execute(text("CREATE SCHEMA public"))
    finally:
        await manager.disconnect()


async def _empty_tables(manager: AsyncDatabaseManager) -> None:
    from sqlalchemy import text

    from tempest.db import BaseModel

    async with manager.engine.begin() as connection:
        for table in reversed(BaseModel.metadata.sorted_tables):
            await connection.execute(text(f'DELETE FROM "{table.name}"'))


@pytest.fixture(scope="session", params=["sqlite", "postgresql"])
def database_url(request: pytest.FixtureRequest, tmp_path_factory: pytest.TempPathFactory) -> str:
    """A database for data-layer tests, on SQLite and on PostgreSQL."""
    return _database_url(str(request.param), tmp_path_factory)


@pytest.fixture
async def database(database_url: str) -> AsyncIterator[AsyncDatabaseManager]:
    """A connected manager whose tables are those of every model defined so far.

    Tables are (re)created for each test module's models and emptied after each test.
    """
    manager = AsyncDatabaseManager(database_url)
    await manager.connect()
    await manager.create_tables()
    await _empty_tables(manager)
    try:
        yield manager
    finally:
        await _empty_tables(manager)
        await manager.disconnect()
