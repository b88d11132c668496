"""SlowQueryLogger: idempotent attach, safe detach, ``level=``, ``log_parameters=`` and
``explain=`` (a plan for slow SELECTs on PostgreSQL and SQLite, never for other statements)."""

from __future__ import annotations

import logging
from collections.abc import AsyncIterator
from pathlib import Path

import pytest
from sqlalchemy import text

from tempest.db import AsyncDatabaseManager, SlowQueryLogger
from tests.conftest import service_url

pytestmark = pytest.mark.anyio

LOGGER = "tempest.db.slow"


@pytest.fixture
def anyio_backend() -> str:
    return "asyncio"


@pytest.fixture(params=["sqlite", "postgresql"])
async def manager(
    request: pytest.FixtureRequest, tmp_path: Path
) -> AsyncIterator[AsyncDatabaseManager]:
    if request.param == "sqlite":
        url = f"sqlite+aiosqlite:///{tmp_path / 'slow.db'}"
    else:
        url = service_url("TEMPEST_TEST_DATABASE_URL")
    database = AsyncDatabaseManager(url)
    await database.connect()
    try:
        yield database
    finally:
        await database.disconnect()


def _catalog_query(manager: AsyncDatabaseManager) -> str:
    if manager.engine.dialect.name == "sqlite":
        return "SELECT name FROM sqlite_master WHERE name LIKE :kind"
    return "SELECT relname FROM pg_class WHERE relname LIKE :kind"


def _slow_records(caplog: pytest.LogCaptureFixture) -> list[logging.LogRecord]:
    # Transaction control (BEGIN / SAVEPOINT) is logged too at threshold 0: keep the rest.
    return [
        r
        for r in caplog.records
        if r.name == LOGGER and getattr(r, "statement", "") not in ("BEGIN", "COMMIT")
    ]


async def test_attaching_twice_then_detaching_twice_is_safe(
    manager: AsyncDatabaseManager, caplog: pytest.LogCaptureFixture
) -> None:
    slow = SlowQueryLogger(threshold_ms=0)
    slow.attach(manager.engine)
    slow.attach(manager.engine)  # idempotent: one listener, one record per statement
    slow.attach(manager.engine.sync_engine)  # the same engine, seen through its sync side
    with caplog.at_level(logging.WARNING, logger=LOGGER):
        async with manager.engine.connect() as connection:
            await connection.execute(text("SELECT 1"))
    assert len(_slow_records(caplog)) == 1
    slow.detach()
    slow.detach()  # nothing attached any more: no InvalidRequestError
    caplog.clear()
    with caplog.at_level(logging.WARNING, logger=LOGGER):
        async with manager.engine.connect() as connection:
            await connection.execute(text("SELECT 1"))
    assert _slow_records(caplog) == []
    slow.attach(manager.engine)  # and it can be attached again
    slow.detach()


async def test_level_sets_the_records_level(
    manager: AsyncDatabaseManager, caplog: pytest.LogCaptureFixture
) -> None:
    for level, expected in ((logging.INFO, logging.INFO), ("error", logging.ERROR)):
        slow = SlowQueryLogger(threshold_ms=0, level=level)
        slow.attach(manager.engine)
        caplog.clear()
        try:
            with caplog.at_level(logging.DEBUG, logger=LOGGER):
                async with manager.engine.connect() as connection:
                    await connection.execute(text("SELECT 1"))
        finally:
            slow.detach()
        assert [r.levelno for r in _slow_records(caplog)] == [expected]


def test_a_bad_level_is_refused() -> None:
    with pytest.raises(ValueError, match="level must be a logging level"):
        SlowQueryLogger(level="LOUD")
    with pytest.raises(TypeError, match="level must be a logging level"):
        SlowQueryLogger(level=1.5)  # type: ignore[arg-type]


async def test_parameters_are_logged_only_when_asked(
    manager: AsyncDatabaseManager, caplog: pytest.LogCaptureFixture
) -> None:
    for log_parameters in (False, True):
        slow = SlowQueryLogger(threshold_ms=0, log_parameters=log_parameters)
        slow.attach(manager.engine)
        caplog.clear()
        try:
            with caplog.at_level(logging.WARNING, logger=LOGGER):
                async with manager.engine.connect() as connection:
                    await connection.execute(text("SELECT :secret"), {"secret": "hunter2"})
        finally:
            slow.detach()
        [record] = _slow_records(caplog)
        assert ("hunter2" in record.getMessage()) is log_parameters
        assert (getattr(record, "parameters", None) is not None) is log_parameters


async def test_explain_logs_the_plan_of_a_slow_select_and_keeps_its_rows(
    manager: AsyncDatabaseManager, caplog: pytest.LogCaptureFixture
) -> None:
    slow = SlowQueryLogger(threshold_ms=0, explain=True)
    slow.attach(manager.engine)
    kind = "pg_%"
    try:
        with caplog.at_level(logging.WARNING, logger=LOGGER):
            async with manager.engine.begin() as connection:
                result = await connection.execute(text(_catalog_query(manager)), {"kind": kind})
                rows = result.fetchall()
                # The transaction is intact: the next statement runs and sees the same.
                again = (
                    await connection.execute(text(_catalog_query(manager)), {"kind": kind})
                ).fetchall()
    finally:
        slow.detach()
    assert rows == again
    if manager.engine.dialect.name == "postgresql":
        assert rows  # pg_class always has tables
    records = _slow_records(caplog)
    assert len(records) == 2
    for record in records:
        plan = getattr(record, "plan", None)
        assert isinstance(plan, str) and plan
        assert "plan:" in record.getMessage()
        marker = "SCAN" if manager.engine.dialect.name == "sqlite" else "Scan"
        assert marker in plan


async def test_explain_never_runs_for_a_statement_that_is_not_a_select(
    manager: AsyncDatabaseManager, caplog: pytest.LogCaptureFixture
) -> None:
    slow = SlowQueryLogger(threshold_ms=0, explain=True)
    slow.attach(manager.engine)
    try:
        with caplog.at_level(logging.WARNING, logger=LOGGER):
            async with manager.engine.begin() as connection:
                await connection.execute(text("CREATE TEMPORARY TABLE slow_probe (n INTEGER)"))
                await connection.execute(text("INSERT INTO slow_probe (n) VALUES (:n)"), {"n": 1})
                await connection.execute(text("UPDATE slow_probe SET n = n + 1"))
                count = (await connection.execute(text("SELECT n FROM slow_probe"))).scalar_one()
                await connection.execute(text("DROP TABLE slow_probe"))
    finally:
        slow.detach()
    assert count == 2  # the INSERT and UPDATE ran once each
    plans = {
        record.getMessage().split(":", 1)[1].split("\n")[0].strip(): getattr(record, "plan", None)
        for record in _slow_records(caplog)
    }
    assert [statement for statement, plan in plans.items() if plan] == ["SELECT n FROM slow_probe"]


async def test_without_explain_there_is_no_plan(
    manager: AsyncDatabaseManager, caplog: pytest.LogCaptureFixture
) -> None:
    slow = SlowQueryLogger(threshold_ms=0)
    slow.attach(manager.engine)
    try:
        with caplog.at_level(logging.WARNING, logger=LOGGER):
            async with manager.engine.connect() as connection:
                await connection.execute(text("SELECT 1"))
    finally:
        slow.detach()
    [record] = _slow_records(caplog)
    assert getattr(record, "plan", None) is None and "plan:" not in record.getMessage()


async def test_explain_works_on_an_autocommit_connection(
    manager: AsyncDatabaseManager, caplog: pytest.LogCaptureFixture
) -> None:
    slow = SlowQueryLogger(threshold_ms=0, explain=True)
    slow.attach(manager.engine)
    try:
        with caplog.at_level(logging.WARNING, logger=LOGGER):
            async with manager.engine.connect() as connection:
                autocommit = await connection.execution_options(isolation_level="AUTOCOMMIT")
                result = await autocommit.execute(text(_catalog_query(manager)), {"kind": "pg_%"})
                result.fetchall()
    finally:
        slow.detach()
    [record] = _slow_records(caplog)
    assert getattr(record, "plan", None)
