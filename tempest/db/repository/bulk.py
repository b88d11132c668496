"""Bulk inserts and upserts from plain rows: no ORM objects, no reloads.

Rows are dicts of attribute name -> value. Missing Python-side defaults are filled per
row (see :func:`~tempest.db.repository.rows.group_rows`); rows giving different keys
go in separate statements. Statements are executed as executemany calls of at most
``bind limit // columns`` rows each; SQLAlchemy's batched form (used with RETURNING)
renders at most that many rows, and never more than 1,000, per statement. On
PostgreSQL (asyncpg) :meth:`bulk_create_values` uses COPY for 100 rows or more.
"""

from __future__ import annotations

from collections.abc import Callable, Iterable, Mapping, Sequence
from typing import Any

from sqlalchemy import Index, UniqueConstraint, and_, insert, literal_column
from sqlalchemy.dialects import postgresql, sqlite
from sqlalchemy.ext.asyncio import AsyncSession

from tempest.db.repository.columns import model_columns, require_column
from tempest.db.repository.copy import can_copy, copy_rows
from tempest.db.repository.core import ModelType, RepositoryCore
from tempest.db.repository.rows import RowGroup, bind_parameter_limit, chunked, group_rows
from tempest.exceptions import ValidationException

__all__ = ["BulkMethods"]

_MAX_ROWS_PER_STATEMENT = 1_000
_NEVER_UPDATED = frozenset({"id", "created_at"})
_INSERTS: dict[str, Callable[..., Any]] = {
    "postgresql": postgresql.insert,
    "sqlite": sqlite.insert,
}


class BulkMethods(RepositoryCore[ModelType]):
    """The bulk methods of :class:`~tempest.db.repository.base.BaseRepository`."""

    async def bulk_create_values(self, rows: Sequence[Mapping[str, Any]]) -> int:
        """Insert many rows at once, in one transaction, loading nothing back.

        On PostgreSQL (asyncpg) 100 rows or more go through COPY; otherwise executemany
        INSERTs of at most ``bind limit // columns`` rows per call.

        Args:
            rows: Attribute name -> value per row; any number of rows.

        Returns:
            The number of rows inserted.

        Raises:
            ValidationException: A key is not a column of the model.
            ConflictException: A constraint is broken (``create_conflict_message``);
                nothing is inserted.
        """
        groups = group_rows(self.model, rows, self._prepare_row)
        async with self._writing(self.create_conflict_message) as session:
            for group in groups:
                if not group.server_side and can_copy(session, len(group.rows)):
                    await copy_rows(session, self.table, group.columns, group.rows)
                    continue
                for chunk in self._chunks(session, group):
                    await session.execute(insert(self.table), chunk)
        return sum(len(group.rows) for group in groups)

    async def bulk_upsert(
        self,
        rows: Sequence[Mapping[str, Any]],
        *,
        conflict_columns: Sequence[str],
        update_columns: Sequence[str] | None = None,
    ) -> int:
        """Insert rows, updating the existing row on a unique-key conflict.

        Native ``INSERT ... ON CONFLICT (...) DO UPDATE`` on PostgreSQL and SQLite. When
        several rows share a conflict key, the last one wins (as if applied in order).

        Args:
            rows: Attribute name -> value per row.
            conflict_columns: The columns of the primary key or of a unique
                constraint/index that identify an existing row.
            update_columns: Columns overwritten on conflict with the row's value; None
                means every column the rows give, except the conflict columns, ``id``
                and ``created_at``; ``[]`` keeps existing rows unchanged (``DO
                NOTHING``). A listed column that a row does not give gets what the
                insert would have stored (its default). ``updated_at`` is refreshed on
                every updated row.

        Returns:
            The number of rows inserted or updated.

        Raises:
            ValidationException: An unknown column, conflict columns that are not a
                unique key, or a row without a conflict column.
            ConflictException: Another constraint is broken; nothing is written.
            NotImplementedError: The database is neither PostgreSQL nor SQLite.
        """
        make_insert = _INSERTS.get(self.session.get_bind().dialect.name)
        if make_insert is None:
            raise NotImplementedError("bulk_upsert supports PostgreSQL and SQLite.")
        conflict = self._conflict_key(conflict_columns)
        if update_columns is not None:
            for key in update_columns:
                require_column(self.model, key, "update column")
        groups = group_rows(self.model, rows, self._prepare_row)
        for group in groups:
            missing = [key for key in conflict if key not in group.given]
            if any(model_columns(self.model)[key].default is None for key in missing):
                raise ValidationException(
                    f"bulk_upsert rows must give the conflict columns {', '.join(conflict)}.",
                    details={"field": "rows", "missing": missing},
                )
        written = 0
        async with self._writing(self.create_conflict_message) as session:
            for group in groups:
                written += await self._upsert_group(
                    session, make_insert, group, conflict, update_columns
                )
        return written

    async def _upsert_group(
        self,
        session: AsyncSession,
        make_insert: Callable[..., Any],
        group: RowGroup,
        conflict: list[str],
        update_columns: Sequence[str] | None,
    ) -> int:
        columns = model_columns(self.model)
        _keep_last_per_key(group, [columns[key].key for key in conflict])
        statement = make_insert(self.table)
        if update_columns is None:
            update_columns = [key for key in group.given if key not in (*conflict, *_NEVER_UPDATED)]
        updated = [columns[key] for key in update_columns]
        if updated and "updated_at" in columns and columns["updated_at"] not in updated:
            updated.append(columns["updated_at"])
        index_elements = [columns[key] for key in conflict]
        guard = self._scope_conditions()
        if updated:
            statement = statement.on_conflict_do_update(
                index_elements=index_elements,
                set_={column: statement.excluded[column.key] for column in updated},
                where=and_(*guard) if guard else None,
            )
        else:
            statement = statement.on_conflict_do_nothing(index_elements=index_elements)
        if updated and not guard:  # every row is written: no need to count them
            for chunk in self._chunks(session, group):
                await session.execute(statement, chunk)
            return len(group.rows)
        statement = statement.returning(literal_column("1"))
        statement = statement.execution_options(
            insertmanyvalues_page_size=self._rows_per_statement(session, group)
        )
        written = 0
        for chunk in self._chunks(session, group):
            written += len((await session.execute(statement, chunk)).all())
        return written

    def _conflict_key(self, conflict_columns: Sequence[str]) -> list[str]:
        if isinstance(conflict_columns, str) or not conflict_columns:
            raise ValidationException("bulk_upsert needs conflict_columns (a list of names).")
        names = list(dict.fromkeys(conflict_columns))
        wanted = {require_column(self.model, key, "conflict column").name for key in names}
        table = self.table
        keys = [{column.name for column in table.primary_key.columns}]
        for constraint in table.constraints:
            if isinstance(constraint, UniqueConstraint):
                keys.append({column.name for column in constraint.columns})
        for index in table.indexes:
            if isinstance(index, Index) and index.unique:
                keys.append({getattr(column, "name", "") for column in index.expressions})
        if wanted not in keys:
            allowed = sorted(", ".join(sorted(key)) for key in keys)
            raise ValidationException(
                f"conflict_columns {names} are not a unique key of {self.model.__name__}; "
                f"unique keys: {'; '.join(allowed)}.",
                details={"field": "conflict_columns", "allowed": allowed},
            )
        return names

    def _rows_per_statement(self, session: AsyncSession, group: RowGroup) -> int:
        limit = bind_parameter_limit(session) // max(1, len(group.columns))
        return max(1, min(limit, _MAX_ROWS_PER_STATEMENT))

    def _chunks(self, session: AsyncSession, group: RowGroup) -> Iterable[Sequence[Any]]:
        size = bind_parameter_limit(session) // max(1, len(group.columns))
        return chunked(group.rows, size)


def _keep_last_per_key(group: RowGroup, keys: list[str]) -> None:
    """Keep the last of the rows sharing a conflict key.

    PostgreSQL refuses a statement that would update one row twice; SQLite applies the
    rows in order, which leaves the last one: the result is the same on both.
    """
    latest = {tuple(row[key] for key in keys): row for row in group.rows}
    if len(latest) != len(group.rows):
        group.rows = list(latest.values())
