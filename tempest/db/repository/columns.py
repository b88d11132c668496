"""The columns of a model, by attribute name, and the 422 for a name that is not one."""

from __future__ import annotations

from collections.abc import Collection, Mapping
from types import MappingProxyType
from typing import Any

from sqlalchemy import Column, inspect

from tempest.exceptions import ValidationException

__all__ = ["model_columns", "python_type", "require_column", "unknown_name"]


_CACHE: dict[type[Any], Mapping[str, Column[Any]]] = {}


def model_columns(model: type[Any]) -> Mapping[str, Column[Any]]:
    """The model's column attributes: attribute name -> its table column.

    Relationships, hybrids and other non-column attributes are not included.

    Args:
        model: A mapped class.

    Returns:
        A read-only mapping in the mapper's attribute order.
    """
    cached = _CACHE.get(model)
    if cached is not None:
        return cached
    columns: dict[str, Column[Any]] = {}
    for attribute in inspect(model).column_attrs:
        column = attribute.columns[0]
        if isinstance(column, Column):
            columns[attribute.key] = column
    result = _CACHE[model] = MappingProxyType(columns)
    return result


def unknown_name(
    model: type[Any], name: object, what: str, allowed: Collection[str]
) -> ValidationException:
    """The 422 for a name that is not one of ``allowed``.

    Args:
        model: The model the name was looked up on.
        name: The rejected name (any value: it is shown with ``repr``).
        what: What the name was used as (``"filter"``, ``"order_by"``...).
        allowed: The accepted names, listed in the message and the details.

    Returns:
        The exception, for the caller to raise.
    """
    names = sorted(allowed)
    return ValidationException(
        f"Unknown {what} {name!r} for {model.__name__}; allowed: {', '.join(names)}.",
        details={"field": what, "value": str(name), "allowed": names},
    )


def require_column(model: type[Any], name: object, what: str) -> Column[Any]:
    """The column of attribute ``name``, or a 422 listing the model's columns.

    Args:
        model: A mapped class.
        name: The attribute name a caller gave.
        what: What the name is used as, for the message.

    Returns:
        The table column.

    Raises:
        ValidationException: ``name`` is not a column attribute of ``model``.
    """
    columns = model_columns(model)
    column = columns.get(name) if isinstance(name, str) else None
    if column is None:
        raise unknown_name(model, name, what, columns)
    return column


def python_type(column: Column[Any]) -> type[Any] | None:
    """The Python type of the column's values, or None when the type does not say."""
    try:
        result = column.type.python_type
    except NotImplementedError:
        return None
    return result if isinstance(result, type) else None
