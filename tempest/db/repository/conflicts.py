"""What an integrity error may tell a client: the constraint's name, never the SQL.

The driver's message holds the statement, its parameters and the conflicting values;
none of it reaches the exception. The details say which constraint (or, for a missing
value, which column) failed, the same way on PostgreSQL and SQLite: SQLite names the
columns of a UNIQUE violation, which are matched to the table's constraint names.
"""

from __future__ import annotations

import re
from typing import Any

from sqlalchemy import Column, Index, Table, UniqueConstraint
from sqlalchemy.exc import IntegrityError

__all__ = ["conflict_details"]

_SQLITE_FAILURE = re.compile(r"^(UNIQUE|NOT NULL|CHECK|PRIMARY KEY) constraint failed: (.+)$")


def conflict_details(error: IntegrityError, table: Table) -> dict[str, Any]:
    """Safe details for the conflict exception raised for ``error``.

    Args:
        error: The integrity error raised by SQLAlchemy.
        table: The repository's table, used to name SQLite's constraints.

    Returns:
        ``{"constraint": name}``, ``{"column": name}`` or ``{}``.
    """
    driver_error = getattr(error.orig, "driver_exception", None) or error.orig
    constraint = getattr(driver_error, "constraint_name", None)
    if isinstance(constraint, str) and constraint:
        return {"constraint": constraint}
    column = getattr(driver_error, "column_name", None)
    if isinstance(column, str) and column:
        return {"column": column}
    return _sqlite_details(str(error.orig), table)


def _sqlite_details(message: str, table: Table) -> dict[str, Any]:
    match = _SQLITE_FAILURE.match(message.strip())
    if match is None:
        return {}
    kind, subject = match.groups()
    if kind == "CHECK":
        return {"constraint": subject} if subject.isidentifier() else {}
    names = [item.strip().rpartition(".")[2] for item in subject.split(",")]
    if kind == "NOT NULL":
        return {"column": names[0]} if names[0] in table.columns else {}
    found = _unique_named(table, set(names))
    return {"constraint": found} if found else {}


def _unique_named(table: Table, names: set[str]) -> str | None:
    candidates: list[tuple[Any, list[Column[Any]]]] = []
    if table.primary_key is not None:
        candidates.append((table.primary_key.name, list(table.primary_key.columns)))
    for constraint in table.constraints:
        if isinstance(constraint, UniqueConstraint):
            candidates.append((constraint.name, list(constraint.columns)))
    for index in table.indexes:
        if isinstance(index, Index) and index.unique:
            candidates.append((index.name, [c for c in index.columns if isinstance(c, Column)]))
    for name, columns in candidates:
        if isinstance(name, str) and {column.name for column in columns} == names:
            return name
    return None
