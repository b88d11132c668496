"""Validate ``order_by`` and build a deterministic ORDER BY.

``order_by`` is the attribute name of one column of the model; ``"-name"`` sorts that
column descending whatever ``ascending`` says. ``None`` (or ``""``) sorts by
``created_at``. Anything else (an unknown name, a relationship, SQL text) is a 422 that
lists the accepted names. ``id`` is always appended, in the same direction, so that rows
with equal values still come in one fixed order and pages never overlap.

NULLs sort as if larger than every value on both backends: last when ascending, first
when descending (PostgreSQL's default, stated explicitly for nullable columns because
SQLite's default is the opposite).
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from sqlalchemy import JSON, Column, ColumnElement
from sqlalchemy.types import TypeDecorator, TypeEngine

from tempest.db.repository.columns import model_columns, require_column, unknown_name

__all__ = ["DEFAULT_ORDER_BY", "TIE_BREAKER", "Ordering", "resolve_ordering"]

DEFAULT_ORDER_BY = "created_at"
"""Column sorted on when ``order_by`` is not given."""

TIE_BREAKER = "id"
"""Column appended to every ordering."""


@dataclass(frozen=True, slots=True)
class Ordering:
    """A validated ordering: one column, a direction, then ``id``.

    Attributes:
        model: The mapped class.
        key: Attribute name of the order column.
        descending: Sort direction of both the column and the tie-breaker.
    """

    model: type[Any]
    key: str
    descending: bool

    @property
    def column(self) -> Column[Any]:
        """The order column."""
        return require_column(self.model, self.key, "order_by")

    @property
    def direction(self) -> str:
        """``"asc"`` or ``"desc"``."""
        return "desc" if self.descending else "asc"

    def clauses(self) -> list[ColumnElement[Any]]:
        """The ORDER BY clauses: the column (NULLs as largest), then ``id``."""
        clauses = [self._clause(self.key)]
        if self.key != TIE_BREAKER:
            clauses.append(self._clause(TIE_BREAKER))
        return clauses

    def _clause(self, key: str) -> ColumnElement[Any]:
        attribute = getattr(self.model, key)
        clause = attribute.desc() if self.descending else attribute.asc()
        if require_column(self.model, key, "order_by").nullable:
            clause = clause.nulls_first() if self.descending else clause.nulls_last()
        return clause  # type: ignore[no-any-return]


def resolve_ordering(model: type[Any], order_by: object, ascending: bool) -> Ordering:
    """Validate ``order_by`` (see the module docstring) into an :class:`Ordering`.

    Args:
        model: A mapped class.
        order_by: A column attribute name, optionally prefixed with ``-``; or None.
        ascending: Direction, unless ``order_by`` starts with ``-``.

    Returns:
        The ordering.

    Raises:
        ValidationException: ``order_by`` is not a column of ``model``.
    """
    key, descending = order_by or DEFAULT_ORDER_BY, not ascending
    if isinstance(key, str) and key.startswith("-"):
        key, descending = key[1:], True
    columns = orderable_columns(model)
    if not isinstance(key, str) or key not in columns:
        raise unknown_name(model, order_by, "order_by", columns)
    return Ordering(model, key, descending)


_ORDERABLE: dict[type[Any], tuple[str, ...]] = {}


def orderable_columns(model: type[Any]) -> tuple[str, ...]:
    """The columns of ``model`` a query may sort on: all but JSON ones (file fields too).

    PostgreSQL has no ordering for ``json``, so sorting on one would be a 500 there.
    """
    found = _ORDERABLE.get(model)
    if found is None:
        found = _ORDERABLE[model] = tuple(
            name
            for name, column in model_columns(model).items()
            if not isinstance(_storage_type(column.type), JSON)
        )
    return found


def _storage_type(column_type: TypeEngine[Any]) -> TypeEngine[Any]:
    """The type the database stores: a TypeDecorator's underlying type."""
    while isinstance(column_type, TypeDecorator):
        column_type = column_type.impl_instance
    return column_type
