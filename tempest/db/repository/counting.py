"""Row counts: exact ``COUNT(*)`` and PostgreSQL's planner estimate for big tables."""

from __future__ import annotations

from typing import Any

from sqlalchemy import Select, Table, func, select, text
from sqlalchemy.ext.asyncio import AsyncSession

__all__ = ["count_statement", "estimated_rows", "exact_count"]

_RELTUPLES = text("SELECT reltuples FROM pg_class WHERE oid = to_regclass(:name)")


def count_statement(query: Select[Any]) -> Select[int]:
    """``SELECT count(*) FROM (<query without ORDER BY, LIMIT, OFFSET>)``.

    Args:
        query: The filtered query whose rows are counted.

    Returns:
        The count statement.
    """
    inner = query.order_by(None).limit(None).offset(None).subquery()
    return select(func.count()).select_from(inner)


async def exact_count(session: AsyncSession, query: Select[Any]) -> int:
    """Count the rows of ``query`` (see :func:`count_statement`)."""
    return int(await session.scalar(count_statement(query)) or 0)


async def estimated_rows(session: AsyncSession, table: Table) -> int | None:
    """The planner's row estimate for ``table`` on PostgreSQL.

    Args:
        session: A session on the table's database.
        table: The table.

    Returns:
        ``pg_class.reltuples`` rounded, or None on another database, for a table that
        was never analysed (-1) or that does not exist.
    """
    dialect = session.get_bind().dialect
    if dialect.name != "postgresql":
        return None
    name = dialect.identifier_preparer.format_table(table)
    estimate = await session.scalar(_RELTUPLES, {"name": name})
    if not isinstance(estimate, int | float) or estimate < 0:
        return None
    return round(estimate)
