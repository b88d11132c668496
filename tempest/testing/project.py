"""The hooks and fixtures of a tempest project's test run.

:mod:`tempest.testing.plugin` registers this module once the run names a settings
module; nothing here runs in the tests of other projects. What it gives a project:

- The run gets its own database: a PostgreSQL database named ``test_<project>`` on the
  server of ``TEMPEST_TEST_DATABASE_URL`` when that is set, else a throwaway SQLite file.
  It is created once per run and removed at the end. Its schema comes from the apps'
  migrations, as ``migrate`` would make it (destructive revisions included); the tables
  of apps without migrations are created from their models.
- ``db_session``: a session inside a transaction that is rolled back after the test, so
  tests never see each other's rows. Commits in the code under test (``atomic()``, the
  repositories) become savepoints.
- ``client``: an ``httpx.AsyncClient`` on the project's app whose requests use that same
  session, so a test can arrange rows with ``db_session`` and read them over HTTP.
- ``user`` and ``authenticated_client``: an active user made for the test, and a client
  whose requests carry that user's bearer access token (projects with an auth app).
- ``settings``: change settings for one test (``settings.DEBUG = True``); they are put
  back when it ends.
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
from contextlib import AsyncExitStack, ExitStack
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import TYPE_CHECKING, Any

import pytest

from tempest.conf.environ import ENVIRONMENT_VARIABLE

if TYPE_CHECKING:
    import httpx
    from fastapi import FastAPI
    from sqlalchemy.engine import Connection
    from sqlalchemy.ext.asyncio import AsyncEngine, AsyncSession

    from tempest.db.models import BaseModel
    from tempest.mail.backends import SentEmail

TEST_DATABASE_VARIABLE = "TEMPEST_TEST_DATABASE_URL"
TEST_TASK_BROKER_VARIABLE = "TEMPEST_TEST_TASKIQ_BROKER_URL"
_state: dict[str, Any] = {}


def configure(config: pytest.Config) -> None:
    """Choose the test database and in-memory brokers before anything loads settings.

    Called by :mod:`tempest.testing.plugin` once ``TEMPEST_SETTINGS_MODULE`` names the
    project.

    Args:
        config: The run's pytest configuration.
    """
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
    # Idempotency keys in the process: the database store's row would wait on the test's
    # own transaction (db_session), which is never committed.
    os.environ["IDEMPOTENCY_URL"] = "memory://"


def pytest_unconfigure(config: pytest.Config) -> None:
    """Remove the throwaway SQLite folder."""
    scratch = _state.pop("scratch", None)
    if scratch is not None:
        shutil.rmtree(scratch, ignore_errors=True)


@pytest.hookimpl(tryfirst=True)
def pytest_pycollect_makeitem(collector: pytest.Collector, name: str, obj: object) -> None:
    """Run ``async def`` tests on anyio's asyncio runner without a marker.

    The marker goes on the function before pytest parametrizes it, so that anyio's
    ``anyio_backend`` joins the test's own ``parametrize`` ids instead of replacing them.
    """
    is_test = isinstance(collector, pytest.Module | pytest.Class) and collector.istestfunction(
        obj, name
    )
    if is_test and asyncio.iscoroutinefunction(obj):
        pytest.mark.usefixtures("anyio_backend")(pytest.mark.anyio(obj))


_ASYNC_FIXTURES = frozenset({"authenticated_client", "client", "db_session", "user"})


def pytest_runtest_setup(item: pytest.Item) -> None:
    """Say clearly that ``client``, ``db_session`` and the like need an ``async def`` test."""
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
    try:
        asyncio.run(_create_database(url))
        yield url
    finally:  # also when building the schema failed: the database exists by then
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


# Claims the bundled auth app's current_user dependency checks on an access token (its
# SESSION_VERSION_CLAIM and AUTH_TIME_CLAIM). This layer must not import a contrib app;
# tests/testing signs in with these tokens against the real auth app.
SESSION_VERSION_CLAIM = "sv"
AUTH_TIME_CLAIM = "auth_time"
TEST_USER_EMAIL = "user@example.com"


@pytest.fixture
async def user(db_session: AsyncSession) -> BaseModel:
    """An active user of the project's user model (``AUTH_USER_MODEL``), made for this test.

    Its email is ``user@example.com`` and it has no password (hashing one costs time most
    tests do not need): call ``user.set_password(...)`` for a test that signs in with one.
    It is rolled back with the rest of the test's rows. Define a ``user`` fixture of your
    own to have ``authenticated_client`` sign in as someone else.
    """
    model = _user_model()
    account = model(email=TEST_USER_EMAIL, is_active=True)
    db_session.add(account)
    await db_session.flush()
    return account


@pytest.fixture
async def authenticated_client(
    client: httpx.AsyncClient, tempest_app: FastAPI, user: BaseModel
) -> AsyncIterator[httpx.AsyncClient]:
    """Another ``client``, whose requests carry ``user``'s bearer access token.

    The token is signed as the auth app signs its own (``JWT_SECRET``, ``JWT_ALGORITHM``,
    ``JWT_ISSUER``, ``JWT_ACCESS_TTL_SECONDS``), so routes that depend on the signed-in
    user (``current_user_dependency()``) see ``user``. ``client`` stays anonymous in the
    same test.
    """
    import httpx

    token = _access_token(user)
    transport = httpx.ASGITransport(app=tempest_app)
    async with httpx.AsyncClient(
        transport=transport,
        base_url=str(client.base_url),
        headers={"Authorization": f"Bearer {token}"},
    ) as http:
        yield http


def _user_model() -> type[BaseModel]:
    """The ``AUTH_USER_MODEL`` class; the test fails with the fix when there is none."""
    from tempest.apps import apps
    from tempest.conf import settings

    dotted = str(getattr(settings, "AUTH_USER_MODEL", "auth.User"))
    label, _, name = dotted.partition(".")
    installed = {config.label for config in apps.get_app_configs()}
    if label not in installed:
        pytest.fail(
            f"The `user` and `authenticated_client` fixtures need a user model, but "
            f"AUTH_USER_MODEL={dotted!r} names the app {label!r}, which is not installed: "
            'add "tempest.contrib.auth" to INSTALLED_APPS (or point AUTH_USER_MODEL at '
            "your own user model).",
            pytrace=False,
        )
    for model in apps.get_models(label):
        if model.__name__ == name and {"email", "session_version"} <= set(
            model.__table__.columns.keys()
        ):
            return model
    pytest.fail(
        f"AUTH_USER_MODEL={dotted!r} is no user model of app {label!r} (a subclass of "
        "tempest.contrib.auth.base.BaseUserModel); fix the setting.",
        pytrace=False,
    )


def _access_token(account: BaseModel) -> str:
    """An access token of ``account``, as the auth app issues one at sign-in."""
    from tempest.conf import settings
    from tempest.utils.jwt import JWTUtils

    secret = str(getattr(settings, "JWT_SECRET", "") or "")
    if not secret:
        pytest.fail(
            "`authenticated_client` signs an access token with JWT_SECRET, which is empty: "
            "set it in .env or the settings (startproject writes one).",
            pytrace=False,
        )
    ttl = timedelta(seconds=int(getattr(settings, "JWT_ACCESS_TTL_SECONDS", 900)))
    tokens = JWTUtils(
        secret,
        str(getattr(settings, "JWT_ALGORITHM", "HS256")),
        default_ttl=ttl,
        issuer=getattr(settings, "JWT_ISSUER", None),
    )
    claims = {
        "sub": str(account.id),
        SESSION_VERSION_CLAIM: getattr(account, "session_version", 0),
        AUTH_TIME_CLAIM: int(datetime.now(UTC).timestamp()),
    }
    return tokens.encode(claims, ttl=ttl, token_type="access")


class SettingsOverride:
    """What the ``settings`` fixture gives: the settings, changed by assignment.

    ``settings.DEBUG = True`` validates the value like ``override_settings`` does and
    applies it until the test ends; reading an attribute gives the current value.
    """

    def __init__(self, stack: ExitStack) -> None:
        object.__setattr__(self, "_stack", stack)

    def __getattr__(self, name: str) -> Any:
        from tempest.conf import settings

        return getattr(settings, name)

    def __setattr__(self, name: str, value: Any) -> None:
        from tempest.conf import override_settings

        self._stack.enter_context(override_settings(**{name: value}))

    def __delattr__(self, name: str) -> None:
        raise AttributeError(
            f"Settings cannot be deleted; assign the value the test needs (settings.{name} = ...)."
        )


@pytest.fixture
def settings() -> Iterator[SettingsOverride]:
    """Change settings for this test only, as pytest-django's ``settings`` fixture.

    ``settings.TITLE = "Shop under test"`` applies from that line on (validated, unknown
    names refused) and is undone when the test ends. Code that reads the setting on each
    use sees the change; what the app read once at start-up (its middleware, its routes)
    does not change.
    """
    with ExitStack() as stack:
        yield SettingsOverride(stack)


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
