"""Keyset positions: what a cursor holds and the WHERE clause that resumes after it.

A cursor's payload is ``{"o": order key, "d": "asc"|"desc", "v": value, "id": id}``: the
last row's order value and primary key, plus the ordering it was made for, so that a
cursor is refused (422) under another ``order_by`` or direction. Values keep their type
through :func:`tempest.schemas.encode_cursor` (datetimes naive or aware, dates, UUIDs,
decimals); enum members are stored by name. Decoded values are checked against the
column, so a forged cursor is a 422, never a driver error.

Rows come after ``(v, id)`` in the ordering of
:mod:`~tempest.db.repository.ordering`, where NULL sorts above every value::

    ascending,  v not NULL:  (col, id) > (v, id)  OR col IS NULL
    ascending,  v NULL:      col IS NULL AND id > :id
    descending, v not NULL:  (col, id) < (v, id)               -- NULLs came first
    descending, v NULL:      col IS NOT NULL OR (col IS NULL AND id < :id)

The row-value comparison works on PostgreSQL and on SQLite (3.15+), and PostgreSQL
serves it from an index on ``(col, id)``.
"""

from __future__ import annotations

import enum
from datetime import date, datetime, time
from decimal import Decimal
from typing import Any
from uuid import UUID

from sqlalchemy import Column, ColumnElement, and_, literal, or_, tuple_

from tempest.db.repository.columns import model_columns, python_type
from tempest.db.repository.ordering import TIE_BREAKER, Ordering
from tempest.db.repository.values import coerce_value
from tempest.exceptions import ValidationException

__all__ = ["check_cursor_column", "cursor_payload", "resume_after"]

_SUPPORTED = (bool, int, float, Decimal, str, datetime, date, time, UUID, enum.Enum)
_PAYLOAD_KEYS = frozenset({"o", "d", "v", "id"})


def check_cursor_column(ordering: Ordering) -> None:
    """Refuse (422) an order column whose values a cursor cannot carry (JSON, binary...).

    Raises:
        ValidationException: The column's type is not one of bool, int, float, Decimal,
            str, datetime, date, time, UUID or an enum.
    """
    kind = python_type(ordering.column)
    if kind is None or not issubclass(kind, _SUPPORTED):
        raise ValidationException(
            f"Cannot paginate {ordering.model.__name__} by cursor on {ordering.key!r}: its "
            "values cannot be carried in a cursor.",
            details={"field": "order_by", "value": ordering.key},
        )


def cursor_payload(ordering: Ordering, instance: Any) -> dict[str, Any]:
    """The payload to encode after ``instance``, the last row of a page."""
    value = getattr(instance, ordering.key)
    if isinstance(value, enum.Enum):
        value = value.name
    return {"o": ordering.key, "d": ordering.direction, "v": value, "id": instance.id}


def resume_after(ordering: Ordering, payload: Any) -> ColumnElement[bool]:
    """The condition selecting the rows that follow the position in ``payload``.

    Args:
        ordering: The ordering of the current request.
        payload: A decoded cursor.

    Returns:
        The WHERE condition.

    Raises:
        ValidationException: The payload is malformed or made for another ordering
            (code ``INVALID_CURSOR``).
    """
    if not isinstance(payload, dict) or set(payload) != _PAYLOAD_KEYS:
        raise _invalid("Invalid cursor")
    if payload["o"] != ordering.key or payload["d"] != ordering.direction:
        raise _invalid("This cursor was made for another order_by or direction")
    model = ordering.model
    id_column = model_columns(model)[TIE_BREAKER]
    last_id = literal(_decode(id_column, payload["id"]), id_column.type)
    id_attribute = getattr(model, TIE_BREAKER)
    descending = ordering.descending
    if ordering.key == TIE_BREAKER:
        return id_attribute < last_id if descending else id_attribute > last_id  # type: ignore[no-any-return]
    column = ordering.column
    attribute = getattr(model, ordering.key)
    value = _decode(column, payload["v"])
    if value is None:
        after_in_nulls = and_(
            attribute.is_(None), id_attribute < last_id if descending else id_attribute > last_id
        )
        return or_(attribute.is_not(None), after_in_nulls) if descending else after_in_nulls
    current = tuple_(attribute, id_attribute)
    position = tuple_(literal(value, column.type), last_id)
    after = current < position if descending else current > position
    if column.nullable and not descending:
        return or_(after, attribute.is_(None))
    return after


def _decode(column: Column[Any], raw: Any) -> Any:
    if raw is None:
        if column.nullable:
            return None
        raise _invalid("Invalid cursor")
    kind = python_type(column)
    try:
        if kind is not None and issubclass(kind, enum.Enum):
            if not isinstance(raw, str) or raw not in kind.__members__:
                raise ValueError(raw)
            return kind.__members__[raw]
        return coerce_value(column, raw)
    except ValueError:
        raise _invalid("Invalid cursor") from None


def _invalid(message: str) -> ValidationException:
    return ValidationException(message, code="INVALID_CURSOR", details={"field": "cursor"})
