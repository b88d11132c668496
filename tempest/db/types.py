"""Column types shared by tempest's models."""

from __future__ import annotations

from datetime import UTC, datetime
from typing import Any

from sqlalchemy import DateTime
from sqlalchemy.engine import Dialect
from sqlalchemy.types import TypeDecorator

from tempest.utils.timezone import to_utc

__all__ = ["UTCDateTime"]


class UTCDateTime(TypeDecorator[datetime]):
    """``DateTime(timezone=True)`` that is timezone-aware UTC on every database.

    Values are stored as UTC: an aware value is converted (the same instant), a naive one
    is taken to be UTC already. Values read back are aware UTC datetimes on SQLite too,
    which has no time zones and would give naive ones back, so responses carry a ``Z`` on
    every backend. ``BaseModel.created_at``/``updated_at`` use it; use it for your own
    timestamp columns. Migrations render it as ``sa.DateTime(timezone=True)``.
    """

    impl = DateTime(timezone=True)
    cache_ok = True

    @property
    def python_type(self) -> type[datetime]:
        """``datetime``, as ``DateTime``'s (filters and cursors convert values with it)."""
        return datetime

    @property
    def timezone(self) -> bool:
        """Always ``True``, as ``DateTime(timezone=True).timezone``."""
        return True

    def process_bind_param(self, value: datetime | None, dialect: Dialect) -> datetime | None:
        """Convert ``value`` to UTC (naive on SQLite, whose driver would drop the zone)."""
        if value is None:
            return None
        value = to_utc(value)
        return value.replace(tzinfo=None) if dialect.name == "sqlite" else value

    def result_processor(self, dialect: Dialect, coltype: object) -> Any:
        """Only SQLite needs a conversion: elsewhere values come back aware already.

        No processor on PostgreSQL keeps primary-key reads on the driver's fast path.
        """
        if dialect.name != "sqlite":
            return self.impl_instance.dialect_impl(dialect).result_processor(dialect, coltype)
        return super().result_processor(dialect, coltype)

    def process_result_value(self, value: Any, dialect: Dialect) -> datetime | None:
        """Tag a naive value (SQLite) with UTC; aware values are left as they are."""
        if value is None or value.tzinfo is not None:
            return value  # type: ignore[no-any-return]
        return value.replace(tzinfo=UTC)  # type: ignore[no-any-return]
