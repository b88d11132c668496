"""Timestamps come back timezone-aware in UTC on SQLite as on PostgreSQL."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta, timezone

import pytest
from sqlalchemy import String, select
from sqlalchemy.orm import Mapped, mapped_column

from tempest.db import AsyncDatabaseManager, BaseModel
from tempest.db.mixins import SoftDeleteMixin
from tempest.db.types import UTCDateTime

pytestmark = pytest.mark.anyio


class Stamped(BaseModel, SoftDeleteMixin):
    __tablename__ = "utc_stamped"
    name: Mapped[str] = mapped_column(String(20))
    happened_at: Mapped[datetime | None] = mapped_column(UTCDateTime(), nullable=True)


async def test_created_at_is_aware_utc_when_read_back(database: AsyncDatabaseManager) -> None:
    async with database.request_session() as session:
        session.add(Stamped(name="a"))
    async with database.request_session() as session:
        row = (await session.scalars(select(Stamped))).one()
        for value in (row.created_at, row.updated_at):
            assert value.tzinfo is not None
            assert value.utcoffset() == timedelta(0)


async def test_a_non_utc_instant_is_stored_and_returned_as_the_same_instant_in_utc(
    database: AsyncDatabaseManager,
) -> None:
    paris = datetime(2026, 7, 1, 14, 30, 15, 123456, tzinfo=timezone(timedelta(hours=2)))
    async with database.request_session() as session:
        session.add(Stamped(name="a", happened_at=paris, deleted_at=paris))
    async with database.request_session() as session:
        row = (await session.scalars(select(Stamped))).one()
        assert row.happened_at == paris
        assert row.happened_at is not None and row.happened_at.utcoffset() == timedelta(0)
        assert row.happened_at.hour == 12
        assert row.deleted_at == paris and row.deleted_at.utcoffset() == timedelta(0)
        # Comparisons in SQL bind the same way: the instant, whatever its zone.
        later = paris.astimezone(timezone(timedelta(hours=-5))) + timedelta(seconds=1)
        found = await session.scalars(select(Stamped.name).where(Stamped.happened_at < later))
        assert found.all() == ["a"]


async def test_a_naive_value_is_taken_as_utc(database: AsyncDatabaseManager) -> None:
    naive = datetime(2026, 1, 2, 3, 4, 5)
    async with database.request_session() as session:
        session.add(Stamped(name="a", happened_at=naive))
    async with database.request_session() as session:
        row = (await session.scalars(select(Stamped))).one()
        assert row.happened_at == naive.replace(tzinfo=UTC)


def test_it_renders_as_a_plain_datetime_in_migrations() -> None:
    from tempest.db.migrations.environment import render_item

    assert render_item("type", UTCDateTime(), None) == "sa.DateTime(timezone=True)"
