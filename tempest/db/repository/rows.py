"""Rows for bulk statements: validated keys, Python defaults filled, grouped, chunked.

Bound parameters per statement are limited by the driver: 32,767 for asyncpg (a 16-bit
count in the protocol), SQLite's SQLITE_MAX_VARIABLE_NUMBER (32,766 since 3.32; older
builds 999), read from the linked library and capped at 32,766. Bulk statements hold at
most ``limit // columns`` rows.
"""

from __future__ import annotations

import functools
import sqlite3
from collections.abc import Callable, Iterator, Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any, TypeVar, cast

from sqlalchemy import Column
from sqlalchemy.ext.asyncio import AsyncSession

from tempest.db.repository.columns import model_columns, unknown_name
from tempest.exceptions import ValidationException

__all__ = [
    "POSTGRESQL_BIND_LIMIT",
    "SQLITE_BIND_LIMIT",
    "RowGroup",
    "bind_parameter_limit",
    "chunked",
    "group_rows",
]

POSTGRESQL_BIND_LIMIT = 32_767
SQLITE_BIND_LIMIT = 32_766
_OTHER_BIND_LIMIT = 999

_T = TypeVar("_T")


@functools.cache
def _sqlite_bind_limit() -> int:
    connection = sqlite3.connect(":memory:")
    try:
        limit = connection.getlimit(sqlite3.SQLITE_LIMIT_VARIABLE_NUMBER)
    finally:
        connection.close()
    return min(limit, SQLITE_BIND_LIMIT)


def bind_parameter_limit(session: AsyncSession) -> int:
    """The most bound parameters one statement may hold on the session's database."""
    name = session.get_bind().dialect.name
    if name == "postgresql":
        return POSTGRESQL_BIND_LIMIT
    if name == "sqlite":
        return _sqlite_bind_limit()
    return _OTHER_BIND_LIMIT


def chunked(items: Sequence[_T], size: int) -> Iterator[Sequence[_T]]:
    """Consecutive slices of ``items`` of at most ``size`` (at least 1) items."""
    size = max(1, size)
    for start in range(0, len(items), size):
        yield items[start : start + size]


class _DefaultContext:
    """Enough of SQLAlchemy's execution context for a column default to read the row."""

    def __init__(self, parameters: dict[str, Any]) -> None:
        self.current_parameters = parameters

    def get_current_parameters(self, isolate_multiinsert_groups: bool = True) -> dict[str, Any]:
        return self.current_parameters


@dataclass
class RowGroup:
    """Rows that give the same columns, ready for ``insert(table)``.

    Attributes:
        given: Attribute names the caller gave (with the scope's), before defaults.
        columns: Table columns of every row, in table order.
        rows: Column key -> value, one dict per row.
        server_side: Missing columns whose default is computed by SQL (a SQL expression
            or a sequence): only an INSERT statement can fill them.
    """

    given: frozenset[str]
    columns: list[Column[Any]]
    rows: list[dict[str, Any]] = field(default_factory=list)
    server_side: bool = False


def group_rows(
    model: type[Any],
    rows: Sequence[Mapping[str, Any]],
    prepare: Callable[[dict[str, Any]], None],
) -> list[RowGroup]:
    """Validate ``rows``, fill Python-side column defaults, group them by given keys.

    Scalar and callable column defaults (``id``, ``is_active``, ``created_at``,
    ``updated_at`` of :class:`BaseModel` and any ``default=`` of the model) are
    computed per row for the columns the row lacks; a callable default sees the row
    through ``context.get_current_parameters()``.

    Args:
        model: A mapped class.
        rows: Attribute name -> value per row.
        prepare: Called with a copy of each row before anything else (scoping).

    Returns:
        One group per distinct set of given keys, in first-seen order.

    Raises:
        ValidationException: A key is not a column attribute of ``model``.
    """
    columns = model_columns(model)
    groups: dict[frozenset[str], RowGroup] = {}
    plans: dict[frozenset[str], _Plan] = {}
    for row in rows:
        values = dict(row)
        prepare(values)
        given = frozenset(values)
        plan = plans.get(given)
        if plan is None:
            plan = plans[given] = _Plan.build(model, columns, given)
            groups[given] = RowGroup(given, plan.columns, server_side=plan.server_side)
        groups[given].rows.append(plan.apply(values))
    return list(groups.values())


@dataclass
class _Plan:
    """How to turn rows with one set of given keys into column-keyed rows."""

    columns: list[Column[Any]]
    renames: list[tuple[str, str]]
    defaults: list[tuple[str, Any, bool]]
    server_side: bool
    _constants: dict[str, Any] = field(default_factory=dict)

    @classmethod
    def build(
        cls, model: type[Any], columns: Mapping[str, Column[Any]], given: frozenset[str]
    ) -> _Plan:
        for key in given:
            if key not in columns:
                raise unknown_name(model, key, "column", columns)
        if not given:
            raise ValidationException("A bulk row needs at least one value.")
        chosen: list[Column[Any]] = []
        renames: list[tuple[str, str]] = []
        defaults: list[tuple[str, Any, bool]] = []
        server_side = False
        for key, column in columns.items():
            if key in given:
                chosen.append(column)
                if key != column.key:
                    renames.append((key, column.key))
                continue
            default = column.default
            if default is None:
                continue
            if getattr(default, "is_scalar", False) or getattr(default, "is_callable", False):
                chosen.append(column)
                defaults.append((column.key, cast(Any, default).arg, bool(default.is_callable)))
            else:
                server_side = True
        order = {column: position for position, column in enumerate(columns.values())}
        chosen.sort(key=order.__getitem__)
        return cls(chosen, renames, defaults, server_side)

    def apply(self, values: dict[str, Any]) -> dict[str, Any]:
        for key, column_key in self.renames:
            values[column_key] = values.pop(key)
        for column_key, arg, is_callable in self.defaults:
            if not is_callable:
                values[column_key] = arg
            elif getattr(arg, "same_for_every_row", False):
                # One value per bulk call, like now() in a single statement.
                if column_key not in self._constants:
                    self._constants[column_key] = arg(_DefaultContext(values))
                values[column_key] = self._constants[column_key]
            else:
                values[column_key] = arg(_DefaultContext(values))
        return values
