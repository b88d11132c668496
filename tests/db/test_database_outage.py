"""A database that goes away: fast 503s with Retry-After, one log line, automatic recovery.

Against a closed port (nothing listens) and a private PostgreSQL the tests stop and start
(tests/postgres.py; the shared server is never stopped).
"""

from __future__ import annotations

import asyncio
import logging
import time
import uuid
from collections.abc import AsyncIterator, Iterator
from typing import Annotated, Any

import httpx
import pytest
from fastapi import Depends, FastAPI
from sqlalchemy import String, func, select, text
from sqlalchemy.exc import DataError, IntegrityError, StatementError
from sqlalchemy.ext.asyncio import AsyncSession
from sqlalchemy.orm import Mapped, mapped_column

from tempest.api import make_health_router, register_exception_handlers
from tempest.db import AsyncDatabaseManager, BaseModel, atomic, get_session
from tempest.db.outage import is_database_unavailable, unavailable_reason
from tempest.db.reachability import database_error_message
from tests.helpers import free_port, manage
from tests.private_postgres import PrivatePostgres

pytestmark = pytest.mark.anyio

BOUND = 2.0  # DATABASE_UNAVAILABLE_TIMEOUT's default
SLACK = 1.0  # scheduling on a busy 2-core machine


class OutageNote(BaseModel):
    __tablename__ = "outage_note"
    text: Mapped[str] = mapped_column(String(50))


Session = Annotated[AsyncSession, Depends(get_session)]


def build_app(database: AsyncDatabaseManager) -> FastAPI:
    app = FastAPI()
    register_exception_handlers(app)

    @app.get("/notes")
    async def count_notes(session: Session) -> int:
        return int(await session.scalar(select(func.count()).select_from(OutageNote)) or 0)

    @app.post("/notes")
    async def add_notes(session: Session) -> dict[str, str]:
        async with atomic(session):
            session.add(OutageNote(text="first"))
            await session.flush()
            await asyncio.sleep(0.3)  # the database stops here in the test
            session.add(OutageNote(text="second"))
        return {"saved": "both"}

    @app.get("/integrity")
    async def integrity() -> None:
        raise IntegrityError("INSERT ...", {}, Exception("duplicate key"))

    @app.get("/refused-elsewhere")
    async def refused_elsewhere() -> None:
        raise ConnectionRefusedError(111, "an HTTP upstream refused")

    app.include_router(make_health_router(db=database))
    return app


def client(app: FastAPI) -> httpx.AsyncClient:
    transport = httpx.ASGITransport(app=app, raise_app_exceptions=False)
    return httpx.AsyncClient(transport=transport, base_url="http://test")


@pytest.fixture(scope="module")
def postgres() -> Iterator[PrivatePostgres]:
    with PrivatePostgres() as server:
        yield server


@pytest.fixture
def outage_log(caplog: pytest.LogCaptureFixture) -> pytest.LogCaptureFixture:
    caplog.set_level(logging.WARNING)
    from tempest.db import outage

    outage._down.clear()
    return caplog


def _lines(caplog: pytest.LogCaptureFixture, start: str) -> list[logging.LogRecord]:
    return [record for record in caplog.records if record.getMessage().startswith(start)]


@pytest.fixture
async def closed_port_db(monkeypatch: pytest.MonkeyPatch) -> AsyncIterator[AsyncDatabaseManager]:
    manager = AsyncDatabaseManager(
        f"postgresql+asyncpg://shop:s3cret-pw@127.0.0.1:{free_port()}/shop"
    )
    await manager.connect()
    monkeypatch.setattr("tempest.db.session._database", manager)
    try:
        yield manager
    finally:
        await manager.disconnect()


# -- the exception -----------------------------------------------------------------------


@pytest.mark.parametrize(("retry_after", "header"), [(-3, "0"), (None, "5"), (0, "0"), (30, "30")])
def test_service_unavailable_exception_always_says_when_to_retry(
    retry_after: int | None, header: str
) -> None:
    from tempest import ServiceUnavailableException

    error = ServiceUnavailableException(retry_after=retry_after, service="payments")
    assert error.status_code == 503
    assert error.headers == {"Retry-After": header}
    assert error.to_dict() == {
        "detail": "Service temporarily unavailable",
        "code": "SERVICE_UNAVAILABLE",
        "details": {"service": "payments"},
    }


def test_service_unavailable_exception_keeps_given_details_and_headers() -> None:
    from tempest.exceptions import ServiceUnavailableException

    error = ServiceUnavailableException(
        "Search is down", details={"service": "search", "region": "eu"}, headers={"X-A": "1"}
    )
    assert error.details == {"service": "search", "region": "eu"}
    assert error.headers == {"X-A": "1", "Retry-After": "5"}
    assert ServiceUnavailableException().details == {}


# -- what counts as "unavailable" (the bad inputs first) ----------------------------------


@pytest.mark.parametrize(
    "error",
    [
        IntegrityError("INSERT", {}, Exception("duplicate key value")),
        DataError("SELECT", {}, Exception("invalid input syntax for type uuid")),
        StatementError(
            "could not encode", "SELECT", {}, UnicodeEncodeError("utf-8", "", 0, 1, "x")
        ),
        ConnectionRefusedError(111, "raised by an HTTP client, not the database"),
        TimeoutError("some other service timed out"),
        ValueError("connection is closed"),
        RuntimeError("boom"),
    ],
    ids=["integrity", "data", "encoding", "foreign-oserror", "foreign-timeout", "value", "runtime"],
)
async def test_errors_about_data_or_other_services_are_not_an_outage(error: Exception) -> None:
    assert not is_database_unavailable(error)


async def test_integrity_error_and_foreign_refusal_stay_500(
    closed_port_db: AsyncDatabaseManager, outage_log: pytest.LogCaptureFixture
) -> None:
    async with client(build_app(closed_port_db)) as http:
        for path in ("/integrity", "/refused-elsewhere"):
            response = await http.get(path)
            assert response.status_code == 500, path
            assert response.json()["code"] == "INTERNAL_SERVER_ERROR"
    assert not _lines(outage_log, "database unreachable")


# -- a closed port -----------------------------------------------------------------------


async def test_closed_port_answers_503_fast_and_logs_once(
    closed_port_db: AsyncDatabaseManager, outage_log: pytest.LogCaptureFixture
) -> None:
    async with client(build_app(closed_port_db)) as http:
        started = time.monotonic()
        responses = await asyncio.gather(*(http.get("/notes") for _ in range(20)))
        elapsed = time.monotonic() - started
    assert elapsed < BOUND + SLACK
    for response in responses:
        assert response.status_code == 503
        assert response.headers["Retry-After"] == "5"
        assert response.json() == {
            "detail": "The database is unavailable right now; try again shortly",
            "code": "SERVICE_UNAVAILABLE",
            "details": {"service": "database"},
        }
    down = _lines(outage_log, "database unreachable")
    assert len(down) == 1
    message = down[0].getMessage()
    assert "postgresql+asyncpg://shop:***@127.0.0.1" in message and "s3cret-pw" not in message
    assert "connection refused" in message
    assert all(record.exc_info is None for record in outage_log.records)


async def test_readiness_is_503_and_fast_liveness_200(
    closed_port_db: AsyncDatabaseManager, outage_log: pytest.LogCaptureFixture
) -> None:
    async with client(build_app(closed_port_db)) as http:
        started = time.monotonic()
        for _ in range(3):
            ready = await http.get("/health/readiness")
            assert ready.status_code == 503
            assert ready.json()["checks"] == {"database": "failing"}
        assert time.monotonic() - started < BOUND + SLACK
        assert (await http.get("/health/liveness")).status_code == 200
    assert len(_lines(outage_log, "database unreachable")) == 1


async def test_pool_wait_is_bounded_by_the_setting(
    postgres: PrivatePostgres, outage_log: pytest.LogCaptureFixture
) -> None:
    manager = AsyncDatabaseManager(
        postgres.url, pool_size=1, max_overflow=0, unavailable_timeout=0.3
    )
    await manager.connect()
    try:
        async with manager.engine.connect() as held:  # the pool's only connection
            await held.execute(text("SELECT 1"))
            started = time.monotonic()
            with pytest.raises(Exception) as raised:
                async with manager.engine.connect() as second:
                    await second.execute(text("SELECT 1"))
            assert time.monotonic() - started < 0.3 + SLACK
        assert unavailable_reason(raised.value) == "no pooled connection became free in time"
    finally:
        await manager.disconnect()


# -- a private PostgreSQL that stops and starts again -----------------------------------


@pytest.fixture
async def private_db(
    postgres: PrivatePostgres, monkeypatch: pytest.MonkeyPatch
) -> AsyncIterator[AsyncDatabaseManager]:
    if not postgres.running:
        postgres.start()
    manager = AsyncDatabaseManager(postgres.url)
    await manager.connect()
    await manager.create_tables(OutageNote.metadata)
    async with manager.engine.begin() as connection:
        await connection.execute(text("DELETE FROM outage_note"))
    monkeypatch.setattr("tempest.db.session._database", manager)
    try:
        yield manager
    finally:
        if not postgres.running:
            postgres.start()
        await manager.disconnect()


async def test_outage_then_recovery_without_restart(
    postgres: PrivatePostgres,
    private_db: AsyncDatabaseManager,
    outage_log: pytest.LogCaptureFixture,
) -> None:
    async with client(build_app(private_db)) as http:
        warm = await asyncio.gather(*(http.get("/notes") for _ in range(8)))  # fill the pool
        assert [response.status_code for response in warm] == [200] * 8
        postgres.stop()
        await asyncio.sleep(0.2)
        started = time.monotonic()
        down = await asyncio.gather(*(http.get("/notes") for _ in range(16)))
        assert time.monotonic() - started < BOUND + SLACK
        assert {response.status_code for response in down} == {503}
        assert all(response.headers.get("Retry-After") for response in down)
        assert (await http.get("/health/readiness")).status_code == 503
        assert (await http.get("/health/liveness")).status_code == 200
        postgres.start()
        back = await asyncio.gather(*(http.get("/notes") for _ in range(16)))
        assert [response.status_code for response in back] == [200] * 16
        assert (await http.get("/health/readiness")).status_code == 200
    assert len(_lines(outage_log, "database unreachable")) == 1
    assert len(_lines(outage_log, "database reachable again")) == 1
    assert not [record for record in outage_log.records if record.exc_info]


async def test_restart_between_requests_costs_no_failed_request(
    postgres: PrivatePostgres, private_db: AsyncDatabaseManager
) -> None:
    async with client(build_app(private_db)) as http:
        warm = await asyncio.gather(*(http.get("/notes") for _ in range(4)))
        assert {response.status_code for response in warm} == {200}
        postgres.stop()
        postgres.start()
        await asyncio.sleep(0.2)  # the pooled connections see their sockets close
        after = await asyncio.gather(*(http.get("/notes") for _ in range(4)))
        assert [response.status_code for response in after] == [200] * 4


async def test_transaction_that_lost_its_connection_is_rolled_back_and_reported(
    postgres: PrivatePostgres, private_db: AsyncDatabaseManager
) -> None:
    async with client(build_app(private_db)) as http:
        posting = asyncio.create_task(http.post("/notes"))
        await asyncio.sleep(0.1)  # the first row is flushed, not committed
        postgres.stop()
        response = await posting
        assert response.status_code == 503
        assert response.json()["code"] == "SERVICE_UNAVAILABLE"
        postgres.start()
        assert (await http.get("/notes")).json() == 0  # nothing half-applied


# -- commands ----------------------------------------------------------------------------


def test_command_error_line_for_a_closed_port() -> None:
    url = f"postgresql+asyncpg://shop:s3cret-pw@127.0.0.1:{free_port()}/shop"
    message = database_error_message(_refused(url), url)
    assert message is not None
    assert message.startswith(
        f"Cannot reach the database at postgresql+asyncpg://shop:***@{url.split('@')[1]}: "
        "connection refused"
    )
    assert "s3cret-pw" not in message


def _refused(url: str) -> BaseException:
    async def connect() -> None:
        manager = AsyncDatabaseManager(url)
        await manager.connect()
        try:
            async with manager.engine.connect():
                pass
        finally:
            await manager.disconnect()

    try:
        asyncio.run(connect())
    except Exception as error:
        return error
    raise AssertionError("nothing listens on the port: connecting must fail")


@pytest.mark.parametrize("command", [["migrate"], ["showmigrations"], ["seed"]])
def test_commands_say_one_line_and_exit_non_zero(shared_project: Any, command: list[str]) -> None:
    port = free_port()
    result = manage(
        shared_project,
        *command,
        DATABASE_URL=f"postgresql+asyncpg://postgres:pw-{uuid.uuid4().hex[:6]}@127.0.0.1:{port}/x",
        timeout=60,
    )
    assert result.returncode != 0
    assert "Traceback" not in result.stderr
    errors = [line for line in result.stderr.splitlines() if line.startswith("Error:")]
    assert len(errors) == 1, result.stderr
    assert f"cannot reach the database at postgresql+asyncpg://postgres:***@127.0.0.1:{port}/x" in (
        errors[0].lower()
    )
    assert "pw-" not in result.stderr
    # Said once: migrate's system checks leave the unreachable database (W025) to it.
    said = (result.stdout + result.stderr).lower().count("cannot reach the database")
    assert said == 1, result.stdout + result.stderr


# -- the admin ---------------------------------------------------------------------------


async def test_admin_shows_a_retrying_page_not_a_trace(
    closed_port_db: AsyncDatabaseManager, outage_log: pytest.LogCaptureFixture
) -> None:
    import re

    from tempest.contrib.admin import AdminSite, UserModelAuthBackend, make_admin_router
    from tests.contrib.admin.models import Maker, Operator

    site = AdminSite(title="Outage admin")
    site.register(Maker)
    app = FastAPI()
    app.include_router(
        make_admin_router(
            site,
            db=closed_port_db,
            secret_key="s3cret-admin-key-" + "x" * 40,
            cookie_secure=False,
            auth_backend=UserModelAuthBackend(Operator),
        )
    )
    async with client(app) as http:
        form = await http.get("/admin/login")
        assert form.status_code == 200
        token = re.search(r'name="csrf_token" value="([^"]+)"', form.text)
        assert token is not None
        for _ in range(2):
            page = await http.post(
                "/admin/login",
                data={"username": "ana@example.com", "password": "pw", "csrf_token": token[1]},
            )
            assert page.status_code == 503
            assert page.headers["Retry-After"] == "5"
            assert page.headers["content-type"].startswith("text/html")
            assert "Database unavailable, retrying" in page.text
            assert '<meta http-equiv="refresh" content="5">' in page.text
            assert "Traceback" not in page.text and "asyncpg" not in page.text
    assert len(_lines(outage_log, "database unreachable")) == 1
