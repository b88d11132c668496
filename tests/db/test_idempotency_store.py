"""DatabaseIdempotencyStore: keys in a table, marked committed with the request's writes.

On SQLite and PostgreSQL (the ``database`` fixture). The contrib app's model
(``tempest.contrib.idempotency``) is the key table, as in a project.
"""

from __future__ import annotations

import asyncio
import contextvars
import os
from collections.abc import Callable, Coroutine
from typing import Any, TypeVar

import httpx
import pytest
from fastapi import FastAPI
from sqlalchemy import String, func, select
from sqlalchemy.orm import Mapped, mapped_column
from starlette.types import ASGIApp

from tempest.api import IdempotencyMiddleware, IdempotencyStoreUnavailableError
from tempest.conf import Settings
from tempest.contrib.idempotency.models import IdempotencyKey
from tempest.db import AsyncDatabaseManager, BaseModel, DatabaseIdempotencyStore, atomic
from tempest.db.idempotency import ANSWER_LOST_MARK, IdempotencyKeyLostError
from tests.helpers import free_port

pytestmark = pytest.mark.anyio

T = TypeVar("T")
FINGERPRINT = b"f" * 32


class IdemNote(BaseModel):
    __tablename__ = "idempotency_test_note"

    text: Mapped[str] = mapped_column(String(40))


def lease() -> bytes:
    return b"L" + FINGERPRINT + os.urandom(16)


def record(body: bytes = b"answer") -> bytes:
    return b"R" + FINGERPRINT + body


async def in_new_context(call: Callable[[], Coroutine[Any, Any, T]]) -> T:
    """Run ``call`` as another request would: in a task with a context of its own."""
    return await asyncio.create_task(call(), context=contextvars.Context())


async def notes(database: AsyncDatabaseManager) -> int:
    async with database.get_session_context() as session:
        return int((await session.execute(select(func.count()).select_from(IdemNote))).scalar_one())


async def write_note(database: AsyncDatabaseManager, text: str) -> None:
    async with database.get_session_context() as session, atomic(session):
        session.add(IdemNote(text=text))


async def test_claim_complete_replay_and_release(database: AsyncDatabaseManager) -> None:
    store = DatabaseIdempotencyStore(database, IdempotencyKey)
    first = lease()
    assert await store.claim("k1", first, 30) is None
    assert await in_new_context(lambda: store.claim("k1", lease(), 30)) == first
    assert await store.complete("k1", first, record(), 60) is True
    assert await in_new_context(lambda: store.claim("k1", lease(), 30)) == record()
    assert await store.complete("k1", first, record(b"again"), 60) is False, "lease is gone"

    second = lease()
    assert await store.claim("k2", second, 30) is None
    await store.release("k2", second)
    assert await in_new_context(lambda: store.claim("k2", lease(), 30)) is None, "freed"


async def test_commit_marks_the_key_and_a_failed_answer_is_never_rerun(
    database: AsyncDatabaseManager,
) -> None:
    store = DatabaseIdempotencyStore(database, IdempotencyKey)
    held = lease()
    assert await store.claim("k", held, 30) is None
    await write_note(database, "once")  # commits in this task: the key is marked with it
    await store.release("k", held)  # e.g. the answer was a 500, which is not stored
    again = await in_new_context(lambda: store.claim("k", lease(), 30))
    assert again == ANSWER_LOST_MARK + held[1:]
    assert await notes(database) == 1


async def test_a_request_killed_after_its_commit_is_answer_lost_once_its_lease_ends(
    database: AsyncDatabaseManager,
) -> None:
    store = DatabaseIdempotencyStore(database, IdempotencyKey)
    held = lease()
    assert await store.claim("k", held, 0.3) is None
    await write_note(database, "committed")
    # No complete(), no release(): the process died. While the lease runs the key is in
    # use; after it, the retry learns the writes happened.
    assert await in_new_context(lambda: store.claim("k", lease(), 30)) == held
    await asyncio.sleep(0.4)
    assert (
        await in_new_context(lambda: store.claim("k", lease(), 30)) == ANSWER_LOST_MARK + held[1:]
    )


async def test_a_request_whose_lease_was_taken_over_rolls_its_writes_back(
    database: AsyncDatabaseManager,
) -> None:
    store = DatabaseIdempotencyStore(database, IdempotencyKey)
    slow = lease()
    assert await store.claim("k", slow, 0.1) is None
    await asyncio.sleep(0.2)
    assert await in_new_context(lambda: store.claim("k", lease(), 30)) is None, "taken over"
    with pytest.raises(IdempotencyKeyLostError) as raised:
        await write_note(database, "too late")
    assert raised.value.status_code == 409
    assert raised.value.code == "IDEMPOTENCY_KEY_LEASE_LOST"
    assert await notes(database) == 0


async def test_writes_to_another_database_are_not_marked(
    database: AsyncDatabaseManager, tmp_path: Any
) -> None:
    other = AsyncDatabaseManager(f"sqlite+aiosqlite:///{tmp_path / 'other.db'}")
    await other.connect()
    try:
        await other.create_tables()
        store = DatabaseIdempotencyStore(database, IdempotencyKey)
        held = lease()
        assert await store.claim("k", held, 30) is None
        await write_note(other, "elsewhere")
        await store.release("k", held)
        assert await in_new_context(lambda: store.claim("k", lease(), 30)) is None, "not marked"
    finally:
        await other.disconnect()


async def test_fifty_concurrent_claims_one_winner(database: AsyncDatabaseManager) -> None:
    store = DatabaseIdempotencyStore(database, IdempotencyKey)
    results = await asyncio.gather(
        *(in_new_context(lambda: store.claim("burst", lease(), 30)) for _ in range(50))
    )
    assert sum(result is None for result in results) == 1


async def test_expired_rows_are_taken_over_and_pruned(database: AsyncDatabaseManager) -> None:
    store = DatabaseIdempotencyStore(database, IdempotencyKey, prune_every=1)
    held = lease()
    assert await store.claim("old", held, 30) is None
    assert await store.complete("old", held, record(), 0.05) is True
    await asyncio.sleep(0.1)
    assert await in_new_context(lambda: store.claim("old", lease(), 30)) is None
    other = lease()
    assert await store.claim("gone", other, 0.05) is None
    await asyncio.sleep(0.1)
    assert await store.prune() == 1
    async with database.get_session_context() as session:
        keys = (await session.execute(select(IdempotencyKey.key))).scalars().all()
    assert keys == ["old"]


async def test_an_unreachable_database_is_store_unavailable() -> None:
    closed = AsyncDatabaseManager(
        f"postgresql+asyncpg://postgres@127.0.0.1:{free_port()}/nothing",
        connect_args={"timeout": 2},
    )
    await closed.connect()
    try:
        store = DatabaseIdempotencyStore(closed, IdempotencyKey)
        with pytest.raises(IdempotencyStoreUnavailableError, match="could not be reached"):
            await store.claim("k", lease(), 30)
    finally:
        await closed.disconnect()


def test_settings_accept_database_and_name_the_choices() -> None:
    assert Settings(IDEMPOTENCY_URL="database://").IDEMPOTENCY_URL == "database://"
    with pytest.raises(ValueError, match="'database://'"):
        Settings(IDEMPOTENCY_URL="postgresql://somewhere/db")


def app_with(database: AsyncDatabaseManager, store: DatabaseIdempotencyStore) -> ASGIApp:
    api = FastAPI()

    @api.post("/notes", status_code=201)
    async def create(body: dict[str, str]) -> dict[str, str]:
        await write_note(database, body["text"])
        if body.get("then") == "crash":
            raise RuntimeError("failed after the commit")
        return {"text": body["text"]}

    return IdempotencyMiddleware(api, store=store)


async def test_through_the_middleware_a_5xx_after_the_commit_is_not_run_again(
    database: AsyncDatabaseManager,
) -> None:
    store = DatabaseIdempotencyStore(database, IdempotencyKey)
    transport = httpx.ASGITransport(app=app_with(database, store), raise_app_exceptions=False)
    async with httpx.AsyncClient(transport=transport, base_url="http://test") as client:
        headers = {"Idempotency-Key": "crash-1"}
        first = await client.post("/notes", json={"text": "a", "then": "crash"}, headers=headers)
        assert first.status_code == 500
        retry = await client.post("/notes", json={"text": "a", "then": "crash"}, headers=headers)
        assert retry.status_code == 409
        assert retry.json()["code"] == "IDEMPOTENCY_KEY_ANSWER_LOST"
        assert await notes(database) == 1

        ok = {"Idempotency-Key": "ok-1"}
        created = await client.post("/notes", json={"text": "b"}, headers=ok)
        replayed = await client.post("/notes", json={"text": "b"}, headers=ok)
        assert (created.status_code, replayed.status_code) == (201, 201)
        assert replayed.headers["idempotent-replayed"] == "true"
        assert replayed.content == created.content
        assert await notes(database) == 2
