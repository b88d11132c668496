"""pytest plugin for tempest projects.

Enable it in the project's ``pyproject.toml`` (``startproject`` does)::

    [tool.pytest.ini_options]
    addopts = ["-p", "tempest.testing.plugin"]
    tempest_settings = "shop.settings"

What it gives a project's tests:

- ``TEMPEST_SETTINGS_MODULE`` points at the project, and the run gets its own database:
  a PostgreSQL database named ``test_<project>`` on the server of
  ``TEMPEST_TEST_DATABASE_URL`` when that is set, else a throwaway SQLite file. It is
  created once per run and removed at the end. Its schema comes from the apps' migrations,
  as ``migrate`` would make it (destructive revisions included); the tables of apps
  without migrations are created from their models.
- ``db_session``: a session inside a transaction that is rolled back after the test, so
  tests never see each other's rows. Commits in the code under test (``atomic()``, the
  repositories) become savepoints.
- ``client``: an ``httpx.AsyncClient`` on the project's app whose requests use that same
  session, so a test can arrange rows with ``db_session`` and read them over HTTP.
- Background tasks run in the test: ``TASKIQ_BROKER_URL`` is ``memory://`` (or
  ``TEMPEST_TEST_TASKIQ_BROKER_URL``), a kicked task runs inside ``kiq()`` with
  ``db_session`` as its ``TaskSession``, and a task's error is raised by
  ``await tempest.tasks.wait_for_tasks()`` or, when the test does not wait, fails it.
- Email stays in memory: ``EMAIL_BACKEND`` is ``memory`` whatever ``.env`` says, and the
  ``mailoutbox`` fixture is the list of messages sent during the test (emptied before
  each one), as pytest-django's: ``mailoutbox[0].subject``, ``.to``, ``.body``, ``.html``.
- Message queues run in memory: inside ``client``, a project that uses queues has its
  subscribers on FastStream's ``TestRabbitBroker``, with ``db_session`` as their
  ``MessageSession``; nothing connects to RabbitMQ.

``async def`` tests run on asyncio without any marker.
"""

from __future__ import annotations

import asyncio
import os
import re
import shutil
import tempfile
from collections.abc import AsyncIterator, Iterator
from contextlib import AsyncExitStack
from pathlib import Path
from typing import TYPE_CHECKING, Any

import pytest

from tempest.conf.environ import ENVIRONMENT_VARIABLE

if TYPE_CHECKING:
    import httpx
    from fastapi import FastAPI
    from sqlalchemy.engine import Connection
    from sqlalchemy.ext.asyncio import AsyncEngine, AsyncSession

    from tempest.mail.backends import SentEmail

TEST_DATABASE_VARIABLE = "TEMPEST_TEST_DATABASE_URL"
TEST_TASK_BROKER_VARIABLE = "TEMPEST_TEST_TASKIQ_BROKER_URL"
_state: dict[str, Any] = {}


def pytest_addoption(parser: pytest.Parser) -> None:
    """Register the ``tempest_settings`` ini option."""
    parser.addini("tempest_settings", "Dotted settings module of the project under test.")


def pytest_configure(config: pytest.Config) -> None:
    """Choose the settings module and the test database before anything loads settings."""
    module = str(config.getini("tempest_settings") or "")
    if module:
        os.environ.setdefault(ENVIRONMENT_VARIABLE, module)
    server_url = os.environ.get(TEST_DATABASE_VARIABLE)
    if server_url:
        url = _project_database_url(server_url, os.environ.get(ENVIRONMENT_VARIABLE, ""))
    else:
        scratch = Path(tempfile.mkdtemp(prefix="tempest-tests-"))
        _state["scratch"] = scratch
        url = f"sqlite+aiosqlite:///{scratch / 'test.sqlite3'}"
    os.environ["DATABASE_URL"] = url
    _state["url"] = url
    # As Django's test runner adds 'testserver' to ALLOWED_HOSTS: the `client` fixture's host.
    from tempest.api.middleware.hosts import allow_test_hosts

    allow_test_hosts("testserver")
    # Tasks run in the test process, as with Celery's eager mode, whatever .env says.
    os.environ["TASKIQ_BROKER_URL"] = os.environ.get(TEST_TASK_BROKER_VARIABLE) or "memory://"
    from tempest.tasks.project import run_tasks_in_place

    run_tasks_in_place()
    # No test sends real email: messages land in tempest.mail.outbox (`mailoutbox`).
    os.environ["EMAIL_BACKEND"] = "memory"


def pytest_unconfigure(config: pytest.Config) -> None:
    """Remove the throwaway SQLite folder."""
    scratch = _state.pop("scratch", None)
    if scratch is not None:
        shutil.rmtree(scratch, ignore_errors=True)


def pytest_collection_modifyitems(items: list[pytest.Item]) -> None:
    """Run ``async def`` tests on anyio's asyncio runner without a marker."""
    for item in items:
        function = getattr(item, "function", None)
        if asyncio.iscoroutinefunction(function) and item.get_closest_marker("anyio") is None:
            item.add_marker(pytest.mark.anyio)


_ASYNC_FIXTURES = frozenset({"client", "db_session"})


def pytest_runtest_setup(item: pytest.Item) -> None:
    """Say clearly that ``client`` and ``db_session`` need an ``async def`` test."""
    function = getattr(item, "function", None)
    used = _ASYNC_FIXTURES & set(getattr(item, "fixturenames", ()))
    if used and function is not None and not asyncio.iscoroutinefunction(function):
        pytest.fail(
            f"{item.name} uses {', '.join(sorted(used))}, which are async: write the test as "
            "`async def` (no marker needed) and `await` the client's calls.",
            pytrace=False,
        )


def _project_database_url(server_url: str, settings_module: str) -> str:
    from sqlalchemy.engine import make_url

    url = make_url(server_url)
    if url.get_backend_name() != "postgresql":
        return server_url
    project = re.sub(r"\W", "_", settings_module.partition(".")[0] or "project").lower()
    return url.set(database=f"test_{project}").render_as_string(hide_password=False)


@pytest.fixture(scope="session")
def anyio_backend() -> str:
    """Async tests and fixtures run on asyncio."""
    return "asyncio"


@pytest.fixture(scope="session")
def tempest_database_url() -> Iterator[str]:
    """The run's database, migrated (tables of apps without migrations created)."""
    import tempest

    tempest.setup()
    url = _state["url"]
    asyncio.run(_create_database(url))
    yield url
    asyncio.run(_drop_database(url))


@pytest.fixture(scope="session")
def tempest_app(tempest_database_url: str) -> FastAPI:
    """The project's ASGI app."""
    from tempest.core.asgi import get_asgi_application

    return get_asgi_application()


@pytest.fixture(autouse=True)
def _tempest_task_errors() -> Iterator[None]:
    """Fail a test whose tasks raised and that did not ``await wait_for_tasks()``."""
    from tempest.tasks.project import pop_task_errors

    pop_task_errors()  # a previous test's leftovers were reported there
    yield
    errors = pop_task_errors()
    if errors:
        lines = "\n".join(f"  {type(error).__name__}: {error}" for error in errors)
        pytest.fail(
            f"{len(errors)} background task(s) kicked by this test raised:\n{lines}\n"
            "`await tempest.tasks.wait_for_tasks()` raises them in the test "
            "(use pytest.raises when the failure is expected).",
            pytrace=False,
        )


@pytest.fixture(autouse=True)
def _tempest_empty_outbox() -> None:
    """Each test starts with an empty ``tempest.mail.outbox``."""
    import tempest.mail

    tempest.mail.outbox.clear()


@pytest.fixture
def mailoutbox() -> list[SentEmail]:
    """The emails sent during this test, oldest first (``tempest.mail.outbox``).

    Each is a :class:`~tempest.mail.SentEmail` with ``subject``, ``from_addr``, ``to``,
    ``body``, ``html``, ``headers`` and the whole ``message``.
    """
    import tempest.mail

    return tempest.mail.outbox


@pytest.fixture
async def db_session(tempest_database_url: str) -> AsyncIterator[AsyncSession]:
    """A session in a transaction that is rolled back when the test ends.

    Tasks run in the test (``TaskSession``) and message handlers (``MessageSession``)
    get this same session.
    """
    from sqlalchemy.ext.asyncio import AsyncSession

    from tempest.db.session import override_work_session

    engine = _test_engine(tempest_database_url)
    try:
        async with engine.connect() as connection:
            transaction = await connection.begin()
            session = AsyncSession(
                bind=connection, join_transaction_mode="create_savepoint", expire_on_commit=False
            )
            try:
                with override_work_session(session):
                    yield session
            finally:
                await session.close()
                await transaction.rollback()
    finally:
        await engine.dispose()


@pytest.fixture
async def client(
    tempest_app: FastAPI, db_session: AsyncSession
) -> AsyncIterator[httpx.AsyncClient]:
    """An HTTP client on the project's app; requests use the test's ``db_session``.

    When the project uses queues, the app's queue runs the apps' subscribers in memory.
    """
    import httpx

    from tempest.db import get_session
    from tempest.queue.project import in_memory_queue, queues_enabled

    async def same_session() -> AsyncIterator[AsyncSession]:
        yield db_session

    tempest_app.dependency_overrides[get_session] = same_session
    try:
        async with AsyncExitStack() as stack:
            if queues_enabled():
                await stack.enter_async_context(in_memory_queue())
            await stack.enter_async_context(tempest_app.router.lifespan_context(tempest_app))
            transport = httpx.ASGITransport(app=tempest_app)
            async with httpx.AsyncClient(transport=transport, base_url="http://testserver") as http:
                yield http
    finally:
        tempest_app.dependency_overrides.pop(get_session, None)


def _test_engine(url: str) -> AsyncEngine:
    """An engine without a pool (each test has its own event loop), with working savepoints."""
    from sqlalchemy import event
    from sqlalchemy.ext.asyncio import create_async_engine
    from sqlalchemy.pool import NullPool

    engine = create_async_engine(url, poolclass=NullPool)
    if engine.dialect.name == "sqlite":
        # pysqlite's own transaction handling breaks SAVEPOINT; let SQLAlchemy emit BEGIN.
        @event.listens_for(engine.sync_engine, "connect")
        def _no_implicit_transactions(dbapi_connection: Any, record: Any) -> None:
            dbapi_connection.isolation_level = None
            cursor = dbapi_connection.cursor()
            cursor.execute("PRAGMA foreign_keys=ON")  # as AsyncDatabaseManager does
            cursor.close()

        @event.listens_for(engine.sync_engine, "begin")
        def _begin(connection: Any) -> None:
            connection.exec_driver_sql("BEGIN")

    return engine


async def _create_database(url: str) -> None:
    from sqlalchemy.engine import make_url

    parsed = make_url(url)
    if parsed.get_backend_name() == "postgresql":
        await _server_command(f'DROP DATABASE IF EXISTS "{parsed.database}" WITH (FORCE)')
        await _server_command(f'CREATE DATABASE "{parsed.database}"')
    engine = _test_engine(url)
    try:
        async with engine.connect() as connection:
            await connection.run_sync(_build_schema, url)
            await connection.commit()
    finally:
        await engine.dispose()


def _build_schema(connection: Connection, url: str) -> None:
    """Apply every app's migrations, then create the tables of apps that have none."""
    from tempest.core.management.migrating import project_migrations
    from tempest.db.migrations.executor import apply_plan, make_plan
    from tempest.db.models import BaseModel

    migrations = project_migrations(url)
    if any(app.revision_files() for app in migrations.apps.values()):
        plan = make_plan(migrations, connection)
        apply_plan(migrations, connection, plan, allow_destructive=True)
    BaseModel.metadata.create_all(connection)


async def _drop_database(url: str) -> None:
    from sqlalchemy.engine import make_url

    parsed = make_url(url)
    if parsed.get_backend_name() == "postgresql":
        await _server_command(f'DROP DATABASE IF EXISTS "{parsed.database}" WITH (FORCE)')


async def _server_command(sql: str) -> None:
    """Run ``sql`` on the database of ``TEMPEST_TEST_DATABASE_URL`` (CREATE/DROP DATABASE)."""
    from sqlalchemy import text
    from sqlalchemy.ext.asyncio import create_async_engine
    from sqlalchemy.pool import NullPool

    engine = create_async_engine(
        os.environ[TEST_DATABASE_VARIABLE], poolclass=NullPool, isolation_level="AUTOCOMMIT"
    )
    try:
        async with engine.connect() as connection:
            await connection.execute(text(sql))
    finally:
        await engine.dispose()
