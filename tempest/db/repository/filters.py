r"""Turn a filter dict into WHERE conditions, the same way on SQLite and PostgreSQL.

==========================================  =============================================
``{"col": value}``                          ``col = value``
``{"col": [a, b]}`` (list, tuple or set)    ``col IN (a, b)``
``{"col": True}`` / ``{"col": False}``      ``col IS TRUE`` / ``col IS FALSE``
``{"name": "ana"}`` (a text column          case-insensitive *contains*: ``%``, ``_`` and
literally named ``name``)                   ``\`` in the value match themselves
``{"col": date(2024, 1, 1)}``               ``date(col) = '2024-01-01'`` (plain ``=`` on a
                                            DATE column)
``{"start_in": date}`` / ``{"end_in": d}``  ``date(c) >= d`` / ``date(c) <= d``, where
                                            ``c`` is the column named ``date`` if the model
                                            has one, else ``created_at``
``{"col": None}``                           skipped
==========================================  =============================================

A key that is neither a column attribute nor ``start_in``/``end_in`` is a 422 naming the
key and the allowed ones, even when its value is None; so is a value whose type does not
fit the column. ``date()`` is the SQL function on both backends; on PostgreSQL it takes the
date of a ``timestamptz`` in the session's time zone.
"""

from __future__ import annotations

from collections.abc import Mapping
from datetime import date, datetime
from typing import Any

from sqlalchemy import Column, ColumnElement, Date, false, func, true

from tempest.db.repository.columns import model_columns, python_type, unknown_name
from tempest.db.repository.values import coerce_value
from tempest.exceptions import ValidationException

__all__ = ["DATE_RANGE_KEYS", "build_conditions", "escape_like"]

DATE_RANGE_KEYS = ("start_in", "end_in")
"""Filter keys bounding the date of the model's ``date`` column (else ``created_at``)."""

_LIKE_ESCAPE = "\\"
_ITERABLES = (list, tuple, set, frozenset)


def escape_like(value: str) -> str:
    r"""Escape ``\``, ``%`` and ``_`` so that a LIKE pattern matches them literally."""
    return (
        value.replace(_LIKE_ESCAPE, _LIKE_ESCAPE * 2)
        .replace("%", _LIKE_ESCAPE + "%")
        .replace("_", _LIKE_ESCAPE + "_")
    )


def build_conditions(
    model: type[Any], filters: Mapping[str, Any] | None
) -> list[ColumnElement[bool]]:
    """The WHERE conditions for ``filters`` on ``model`` (see the module's table).

    Args:
        model: A mapped class.
        filters: Attribute name -> value; None or empty means no condition.

    Returns:
        One condition per key whose value is not None.

    Raises:
        ValidationException: An unknown key, or a value that does not fit its column.
    """
    if not filters:
        return []
    columns = model_columns(model)
    conditions: list[ColumnElement[bool]] = []
    for key, value in filters.items():
        if key in DATE_RANGE_KEYS:
            if value is not None:
                conditions.append(_date_bound(model, key, value))
            continue
        column = columns.get(key) if isinstance(key, str) else None
        if column is None:
            raise unknown_name(model, key, "filter", [*columns, *DATE_RANGE_KEYS])
        if value is not None:
            conditions.append(_condition(getattr(model, key), column, key, value))
    return conditions


def _condition(attribute: Any, column: Column[Any], key: str, value: Any) -> ColumnElement[bool]:
    if isinstance(value, bool):
        if python_type(column) is not bool:
            raise _bad_value(key, "True/False only fits a boolean column")
        return attribute.is_(true() if value else false())  # type: ignore[no-any-return]
    if isinstance(value, _ITERABLES):
        return attribute.in_([_coerce(column, key, item) for item in value])  # type: ignore[no-any-return]
    if key == "name" and python_type(column) is str:
        if not isinstance(value, str):
            raise _bad_value(key, f"expected str, got {type(value).__name__}")
        pattern = f"%{escape_like(value)}%"
        return attribute.ilike(pattern, escape=_LIKE_ESCAPE)  # type: ignore[no-any-return]
    if isinstance(value, date) and not isinstance(value, datetime):
        kind = python_type(column)
        if kind is date:
            return attribute == value  # type: ignore[no-any-return]
        if kind is not datetime:
            raise _bad_value(key, "a date only fits a date or datetime column")
        return func.date(attribute, type_=Date) == value
    return attribute == _coerce(column, key, value)  # type: ignore[no-any-return]


def _date_bound(model: type[Any], key: str, value: Any) -> ColumnElement[bool]:
    if isinstance(value, datetime):
        value = value.date()
    elif isinstance(value, str):
        try:
            value = date.fromisoformat(value)
        except ValueError:
            raise _bad_value(key, f"{value!r} is not an ISO date") from None
    elif not isinstance(value, date):
        raise _bad_value(key, f"expected a date, got {type(value).__name__}")
    columns = model_columns(model)
    name = "date" if "date" in columns else "created_at"
    if name not in columns:
        raise _bad_value(key, f"{model.__name__} has neither a date nor a created_at column")
    attribute = getattr(model, name)
    target = attribute if python_type(columns[name]) is date else func.date(attribute, type_=Date)
    return (target >= value) if key == "start_in" else (target <= value)  # type: ignore[no-any-return]


def _coerce(column: Column[Any], key: str, value: Any) -> Any:
    try:
        return coerce_value(column, value)
    except ValueError as error:
        raise _bad_value(key, str(error)) from None


def _bad_value(key: str, reason: str) -> ValidationException:
    return ValidationException(
        f"Invalid value for filter {key!r}: {reason}.",
        details={"field": key, "reason": reason},
    )
