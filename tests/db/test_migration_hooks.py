"""Autogenerate hooks and the slow-query logger."""

from __future__ import annotations

import logging
from pathlib import Path

import pytest
from alembic.operations import ops
from sqlalchemy import Column, Integer, String, text

from tempest.db import (
    BASE_COLUMN_ORDER,
    AsyncDatabaseManager,
    SlowQueryLogger,
    compose_hooks,
    reorder_base_columns_first,
)


def script_with(*columns: str) -> ops.MigrationScript:
    table = ops.CreateTableOp("thing", [Column(name, Integer) for name in columns])
    other = ops.AddColumnOp("other", Column("extra", String()))
    return ops.MigrationScript("abc", ops.UpgradeOps(ops=[table, other]), ops.DowngradeOps(ops=[]))


def created_columns(script: ops.MigrationScript) -> list[str]:
    operation = script.upgrade_ops.ops[0]
    assert isinstance(operation, ops.CreateTableOp)
    return [column.name for column in operation.columns]


def test_base_columns_come_first_in_their_order() -> None:
    script = script_with("name", "updated_at", "price", "id", "created_at", "is_active")
    reorder_base_columns_first(None, None, [script])
    assert created_columns(script) == [*BASE_COLUMN_ORDER, "name", "price"]


def test_tables_without_base_columns_keep_their_order() -> None:
    script = script_with("b", "a", "c")
    reorder_base_columns_first(None, None, [script])
    assert created_columns(script) == ["b", "a", "c"]


def test_compose_hooks_runs_each_in_order() -> None:
    calls: list[str] = []
    hook = compose_hooks(
        lambda context, revision, directives: calls.append("first"),
        reorder_base_columns_first,
        lambda context, revision, directives: calls.append(created_columns(directives[0])[0]),
    )
    hook(None, None, [script_with("name", "id")])
    assert calls == ["first", "id"]


@pytest.mark.anyio
async def test_slow_queries_are_logged_without_parameters(
    tmp_path: Path, caplog: pytest.LogCaptureFixture
) -> None:
    manager = AsyncDatabaseManager(f"sqlite+aiosqlite:///{tmp_path / 'slow.sqlite3'}")
    await manager.connect()
    everything, nothing = SlowQueryLogger(threshold_ms=0), SlowQueryLogger(threshold_ms=60_000)
    everything.attach(manager.engine)
    nothing.attach(manager.engine)
    try:
        with caplog.at_level(logging.WARNING, logger="tempest.db.slow"):
            async with manager.engine.connect() as connection:
                await connection.execute(text("SELECT :secret"), {"secret": "hunter2"})
        # SQLite's transaction starts with tempest's own BEGIN (see AsyncDatabaseManager).
        messages = [r.getMessage() for r in caplog.records if not r.getMessage().endswith("BEGIN")]
        assert len(messages) == 1
        assert "Slow query" in messages[0] and "SELECT ?" in messages[0]
        assert "hunter2" not in messages[0]
        everything.detach()
        caplog.clear()
        async with manager.engine.connect() as connection:
            await connection.execute(text("SELECT 1"))
        assert caplog.records == []
    finally:
        nothing.detach()
        await manager.disconnect()


def test_a_negative_threshold_is_refused() -> None:
    with pytest.raises(ValueError, match="threshold_ms"):
        SlowQueryLogger(threshold_ms=-1)
