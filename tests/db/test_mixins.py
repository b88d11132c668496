"""AuditMixin and SoftDeleteMixin add their columns and helpers to a model."""

from __future__ import annotations

import uuid
from datetime import UTC, datetime

import pytest
from sqlalchemy import Table, Uuid

from tempest.db import AsyncDatabaseManager, BaseRepository
from tempest.db.types import UTCDateTime
from tests.db.repository.models import RepoDocument

pytestmark = pytest.mark.anyio


def test_the_columns() -> None:
    table = RepoDocument.__table__
    assert isinstance(table, Table)
    for name in ("created_by", "updated_by"):
        assert isinstance(table.c[name].type, Uuid) and table.c[name].nullable
    deleted_at = table.c["deleted_at"]
    assert isinstance(deleted_at.type, UTCDateTime) and deleted_at.type.timezone
    assert deleted_at.nullable
    assert list(table.c.keys())[:4] == ["id", "is_active", "created_at", "updated_at"]


def test_the_helpers() -> None:
    document = RepoDocument(title="draft")
    author, editor = uuid.uuid4(), uuid.uuid4()
    assert (document.created_by, document.updated_by, document.deleted_at) == (None, None, None)

    document.stamp_created_by(author)
    assert (document.created_by, document.updated_by) == (author, author)
    document.stamp_updated_by(editor)
    assert (document.created_by, document.updated_by) == (author, editor)

    assert document.is_deleted is False
    document.mark_deleted()
    assert document.is_deleted is True
    assert document.deleted_at is not None and document.deleted_at.tzinfo is not None
    moment = datetime(2024, 1, 1, tzinfo=UTC)
    document.mark_deleted(moment)
    assert document.deleted_at == moment
    document.mark_restored()
    assert document.is_deleted is False and document.deleted_at is None


async def test_a_round_trip_through_the_repository(database: AsyncDatabaseManager) -> None:
    author = uuid.uuid4()
    async with database.request_session() as session:
        repository = BaseRepository(session, model=RepoDocument)
        document = RepoDocument(title="report")
        document.stamp_created_by(author)
        document.mark_deleted()
        saved = await repository.add(document)
        await repository.add(RepoDocument(title="alive"))
    async with database.request_session() as session:
        repository = BaseRepository(session, model=RepoDocument)
        loaded = await repository.get_by_id(saved.id)
        assert loaded.created_by == author and loaded.is_deleted
        loaded.mark_restored()
        await repository.update(loaded)
        assert await repository.count({"created_by": author}) == 1
        assert (await repository.get_by_id(saved.id)).deleted_at is None
