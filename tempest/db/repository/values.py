"""Check a value given for a column against the column's Python type.

Filters and cursors come from clients; a value of the wrong type must be a 422, not a
driver error (a 500) on PostgreSQL and a silent mismatch on SQLite.
"""

from __future__ import annotations

import enum
import math
import uuid
from datetime import date, datetime
from decimal import Decimal, InvalidOperation
from typing import Any

from sqlalchemy import Column

from tempest.db.repository.columns import python_type

__all__ = ["coerce_value"]

_FROM_TEXT: dict[type[Any], Any] = {
    uuid.UUID: uuid.UUID,
    datetime: datetime.fromisoformat,
    date: date.fromisoformat,
    Decimal: Decimal,
}


def coerce_value(column: Column[Any], value: Any) -> Any:
    """Return ``value`` as the column's Python type.

    Accepted besides an instance of the type: text for UUID, datetime, date and Decimal
    columns (ISO 8601 for dates), an int for float and Decimal columns, a member's value
    or name for enum columns. ``bool`` is never taken for a number, nor a number for a
    ``bool``.

    Args:
        column: The column the value is compared with.
        value: The value to check (not None).

    Returns:
        The value, converted when one of the rules above applies.

    Raises:
        ValueError: The value does not fit the column.
    """
    kind = python_type(column)
    if kind is None:
        return value
    if isinstance(value, bool) or kind is bool:
        if isinstance(value, bool) and kind is bool:
            return value
        raise ValueError(f"expected {kind.__name__}, got {type(value).__name__}")
    if issubclass(kind, enum.Enum):
        return _enum_member(kind, value)
    if isinstance(value, kind):
        if isinstance(value, float) and not math.isfinite(value):
            raise ValueError("expected a finite number")
        return value
    if kind in (float, Decimal) and isinstance(value, int):
        return kind(value)
    parse = _FROM_TEXT.get(kind)
    if parse is not None and isinstance(value, str):
        try:
            result = parse(value)
        except (ValueError, InvalidOperation) as error:
            raise ValueError(f"{value!r} is not a valid {kind.__name__}") from error
        if isinstance(result, Decimal) and not result.is_finite():
            raise ValueError("expected a finite number")
        return result
    raise ValueError(f"expected {kind.__name__}, got {type(value).__name__}")


def _enum_member(kind: type[enum.Enum], value: Any) -> enum.Enum:
    if isinstance(value, kind):
        return value
    try:
        return kind(value)
    except ValueError:
        pass
    if isinstance(value, str) and value in kind.__members__:
        return kind.__members__[value]
    raise ValueError(f"{value!r} is not a member of {kind.__name__}")
