"""The audit trail: add/update/delete_audited, rollbacks, secrets, keys, who acted."""

from __future__ import annotations

import json
import uuid
from decimal import Decimal
from typing import Any

import pytest
from sqlalchemy import Numeric, String, Table, Uuid, select
from sqlalchemy.ext.asyncio import AsyncSession
from sqlalchemy.orm import Mapped, mapped_column

from tempest import AuditAction, BaseAuditLogModel, diff_snapshots, snapshot_model
from tempest.contrib.audit.models import AuditLog
from tempest.contrib.auth.base import BaseUserModel, MFAMixin
from tempest.db import AsyncDatabaseManager, BaseModel, BaseRepository, atomic
from tempest.db.audit import get_audit_model, set_default_audit_model
from tempest.exceptions import (
    ConflictException,
    ImproperlyConfigured,
    NotFoundException,
    ValidationException,
)
from tempest.tasks import AsyncTaskBrokerManager, make_broker, task
from tempest.tasks.registry import unregister
from tempest.utils.context import Actor, get_actor, reset_actor, set_actor

pytestmark = pytest.mark.anyio


class AuditedItem(BaseModel):
    __tablename__ = "audit_t_item"
    __audit_exclude__ = frozenset({"pin"})

    name: Mapped[str] = mapped_column(String(40), unique=True)
    price: Mapped[Decimal | None] = mapped_column(Numeric(10, 2), default=None, nullable=True)
    pin: Mapped[str | None] = mapped_column(String(10), default=None, nullable=True)
    api_secret: Mapped[str | None] = mapped_column(String(40), default=None, nullable=True)
    token_hash: Mapped[str | None] = mapped_column(String(64), default=None, nullable=True)


class AuditedPair(BaseModel):
    """A composite primary key: (id, code)."""

    __tablename__ = "audit_t_pair"

    code: Mapped[str] = mapped_column(String(10), primary_key=True)
    label: Mapped[str] = mapped_column(String(40))


class Keyless(BaseModel):
    """Mapped over a table without a primary key (a view, a legacy table)."""

    __tablename__ = "audit_t_keyless"
    __mapper_args__ = {"primary_key": ["code"]}

    id: Mapped[uuid.UUID] = mapped_column(Uuid, primary_key=False, default=uuid.uuid4)
    code: Mapped[str] = mapped_column(String(10))


class SecretUser(BaseUserModel, MFAMixin):
    __tablename__ = "audit_t_user"


def repository(session: AsyncSession, model: type[Any] = AuditedItem) -> BaseRepository[Any]:
    return BaseRepository(session, model=model, audit_model=AuditLog)


async def history(database: AsyncDatabaseManager, table: str = "audit_t_item") -> list[AuditLog]:
    async with database.request_session() as session:
        query = (
            select(AuditLog)
            .where(AuditLog.table_name == table)
            .order_by(AuditLog.created_at, AuditLog.id)
        )
        return list((await session.scalars(query)).all())


async def test_add_audited_records_the_new_row(database: AsyncDatabaseManager) -> None:
    async with database.request_session() as session:
        item = await repository(session).add_audited(AuditedItem(name="tea", price=Decimal("2.50")))
    [row] = await history(database)
    assert row.action is AuditAction.CREATE
    assert (row.table_name, row.object_pk) == ("audit_t_item", str(item.id))
    assert row.changes["name"] == {"before": None, "after": "tea"}
    assert row.changes["price"] == {"before": None, "after": "2.50"}
    assert row.changes["id"] == {"before": None, "after": str(item.id)}
    assert "updated_at" not in row.changes and row.created_at is not None
    assert (row.actor_kind, row.actor_id) == (None, None)  # no one is acting in a test


async def test_update_audited_records_only_what_changed(database: AsyncDatabaseManager) -> None:
    async with database.request_session() as session:
        repo = repository(session)
        item = await repo.add_audited(AuditedItem(name="tea", price=Decimal("2.50")))
        item.name = "green tea"
        await repo.update_audited(item)
        await repo.update_audited(item, {"price": Decimal("3.00")})
        await repo.update_audited(item)  # nothing changed: nothing recorded
    rows = await history(database)
    assert [row.action for row in rows] == ["create", "update", "update"]
    assert rows[1].changes == {"name": {"before": "tea", "after": "green tea"}}
    assert rows[2].changes == {"price": {"before": "2.50", "after": "3.00"}}
    assert {row.object_pk for row in rows} == {str(item.id)}


async def test_update_audited_refuses_a_name_that_is_no_column(
    database: AsyncDatabaseManager,
) -> None:
    async with database.request_session() as session:
        item = await repository(session).add_audited(AuditedItem(name="tea"))
        with pytest.raises(ValidationException):
            await repository(session).update_audited(item, {"colour": "green"})
    assert [row.action for row in await history(database)] == ["create"]


async def test_update_audited_reads_old_values_it_never_loaded(
    database: AsyncDatabaseManager,
) -> None:
    async with database.request_session() as session:
        item = await repository(session).add_audited(AuditedItem(name="tea"))
        session.expire(item, ["name"])  # the old name is not in memory any more
        item.name = "black tea"
        await repository(session).update_audited(item)
    assert (await history(database))[-1].changes == {
        "name": {"before": "tea", "after": "black tea"}
    }


async def test_delete_audited_records_the_last_values(database: AsyncDatabaseManager) -> None:
    async with database.request_session() as session:
        repo = repository(session)
        item = await repo.add_audited(AuditedItem(name="tea"))
        await repo.delete_audited(item.id)
        assert await repo.get_or_none({"id": item.id}) is None
        with pytest.raises(NotFoundException):
            await repo.delete_audited(item.id)
    rows = await history(database)
    assert [row.action for row in rows] == ["create", "delete"]
    assert rows[1].changes["name"] == {"before": "tea", "after": None}
    assert rows[1].object_pk == str(item.id)


async def test_a_failing_change_leaves_no_audit_row(database: AsyncDatabaseManager) -> None:
    async with database.request_session() as session:
        await repository(session).add_audited(AuditedItem(name="tea"))
    async with database.request_session() as session:
        with pytest.raises(ConflictException):
            await repository(session).add_audited(AuditedItem(name="tea"))
    async with database.request_session() as session:
        other = await repository(session).add_audited(AuditedItem(name="coffee"))
        other.name = "tea"  # the unique name is taken: the update fails
        with pytest.raises(ConflictException):
            await repository(session).update_audited(other)
    assert [row.action for row in await history(database)] == ["create", "create"]


async def test_an_outer_block_that_rolls_back_takes_the_audit_rows_with_it(
    database: AsyncDatabaseManager,
) -> None:
    async with database.request_session() as session:
        with pytest.raises(RuntimeError):
            async with atomic(session):
                item = await repository(session).add_audited(AuditedItem(name="cake"))
                await repository(session).update_audited(item, {"name": "pie"})
                raise RuntimeError("a later step failed")
        assert await repository(session).count() == 0
    assert await history(database) == []


async def test_secrets_are_never_stored(database: AsyncDatabaseManager) -> None:
    async with database.request_session() as session:
        repo = repository(session)
        item = await repo.add_audited(
            AuditedItem(name="vault", pin="1234", api_secret="s3cr3t", token_hash="abc")
        )
        await repo.update_audited(item, {"pin": "9999", "api_secret": "other", "name": "safe"})
        await repo.delete_audited(item.id)
    stored = json.dumps([row.changes for row in await history(database)])
    for secret in ("1234", "9999", "s3cr3t", "other", "abc", "pin", "api_secret", "token_hash"):
        assert secret not in stored
    assert "safe" in stored


def test_the_user_models_leave_out_the_password_hash_and_the_totp_secret() -> None:
    user = SecretUser(email="ann@example.com", mfa_secret="JBSWY3DPEHPK3PXP", mfa_enabled=True)
    user.hashed_password = "$2b$12$abcdefghijklmnopqrstuv"
    snapshot = snapshot_model(user)
    assert snapshot["email"] == "ann@example.com" and snapshot["mfa_enabled"] is True
    assert not {"hashed_password", "mfa_secret", "mfa_last_used_step"} & set(snapshot)
    assert "JBSWY3DP" not in json.dumps(snapshot) and "$2b$" not in json.dumps(snapshot)
    assert "email" not in snapshot_model(user, exclude={"email"})


def test_snapshots_are_json_and_diffs_name_before_and_after() -> None:
    item = AuditedItem(name="tea", price=Decimal("1.10"))
    snapshot = snapshot_model(item)
    assert json.loads(json.dumps(snapshot)) == snapshot
    assert snapshot["id"] == str(item.id) and snapshot["price"] == "1.10"
    assert diff_snapshots({"a": 1, "b": 2}, {"a": 1, "b": 3, "c": None}) == {
        "b": {"before": 2, "after": 3}
    }
    assert diff_snapshots({"a": 1}, {}) == {"a": {"before": 1, "after": None}}


async def test_composite_keys_are_stored_as_a_json_list(database: AsyncDatabaseManager) -> None:
    async with database.request_session() as session:
        repo = repository(session, AuditedPair)
        pair = await repo.add_audited(AuditedPair(code="X1", label="first"))
        await repo.update_audited(pair, {"label": "second"})
        await repo.delete_audited(pair)
    rows = await history(database, "audit_t_pair")
    assert [row.action for row in rows] == ["create", "update", "delete"]
    assert {row.object_pk for row in rows} == {json.dumps([str(pair.id), "X1"])}


async def test_a_model_without_a_primary_key_is_refused(database: AsyncDatabaseManager) -> None:
    async with database.request_session() as session:
        with pytest.raises(ImproperlyConfigured, match="has no primary key"):
            await repository(session, Keyless).add_audited(Keyless(code="A"))
        assert await repository(session, Keyless).count() == 0
    assert await history(database, "audit_t_keyless") == []


async def test_without_an_audit_model_the_error_says_what_to_install(
    database: AsyncDatabaseManager,
) -> None:
    set_default_audit_model(None)
    async with database.request_session() as session:
        with pytest.raises(ImproperlyConfigured, match=r"tempest\.contrib\.audit"):
            await BaseRepository(session, model=AuditedItem).add_audited(AuditedItem(name="x"))
    set_default_audit_model(AuditLog)  # what installing the app does
    try:
        assert get_audit_model() is AuditLog
        async with database.request_session() as session:
            await BaseRepository(session, model=AuditedItem).add_audited(AuditedItem(name="x"))
        assert len(await history(database)) == 1
    finally:
        set_default_audit_model(None)


def test_an_audit_model_is_a_base_model_with_its_row_index() -> None:
    assert issubclass(AuditLog, BaseAuditLogModel)
    table = AuditLog.__table__
    assert isinstance(table, Table)
    assert "ix_audit_log_row" in {index.name for index in table.indexes}


async def test_the_actor_is_the_user_then_the_task_then_the_command(
    database: AsyncDatabaseManager,
) -> None:
    tokens = [set_actor("command", "loaddata")]
    try:
        async with database.request_session() as session:
            await repository(session).add_audited(AuditedItem(name="by command"))
            tokens.append(set_actor("task", "orders.import"))
            await repository(session).add_audited(AuditedItem(name="by task"))
            tokens.append(set_actor("user", "42"))
            await repository(session).add_audited(AuditedItem(name="by user"))
            explicit = Actor("user", "7")
            await repository(session).add_audited(AuditedItem(name="explicit"), actor=explicit)
    finally:
        for token in reversed(tokens):
            reset_actor(token)
    assert get_actor() is None
    who = [(row.actor_kind, row.actor_id) for row in await history(database)]
    assert who == [
        ("command", "loaddata"),
        ("task", "orders.import"),
        ("user", "42"),
        ("user", "7"),
    ]


async def test_a_task_run_by_a_worker_is_the_actor(database: AsyncDatabaseManager) -> None:
    @task(name=f"audit.rename.{uuid.uuid4().hex[:8]}")
    async def rename(name: str) -> str | None:
        async with database.request_session() as session:
            await repository(session).add_audited(AuditedItem(name=name))
        actor = get_actor()
        return actor.id if actor is not None else None

    broker = make_broker("memory://")
    try:
        async with AsyncTaskBrokerManager(broker).lifespan():
            handle = await rename.bind(broker).kiq("from a task")
            result = await handle.wait_result(timeout=5)
    finally:
        unregister(rename.task_name)
    assert result.return_value == rename.task_name
    [row] = await history(database)
    assert (row.actor_kind, row.actor_id) == ("task", rename.task_name)
    assert get_actor() is None  # the task's context did not leak into the caller's
