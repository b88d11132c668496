"""Typed JSON for cursor payloads: datetimes, dates, times, UUIDs and decimals survive.

A value JSON cannot hold is written as a one-key object whose key names its type::

    datetime -> {"$datetime": "2024-05-01T12:00:00+00:00"}   (ISO 8601; offset kept,
                                                              naive stays naive)
    date     -> {"$date": "2024-05-01"}
    time     -> {"$time": "12:00:00.500000"}
    UUID     -> {"$uuid": "0b5e...-..."}
    Decimal  -> {"$decimal": "10.50"}                        (exact text, no float)

Strings, numbers, booleans, ``None``, lists and dicts are written as themselves
(``str`` and ``int`` enum members as their values).
"""

from __future__ import annotations

import math
from collections.abc import Callable, Mapping
from datetime import date, datetime, time
from decimal import Decimal
from typing import Any
from uuid import UUID

__all__ = ["from_json_value", "to_json_value"]

_PARSERS: dict[str, Callable[[str], Any]] = {
    "$datetime": datetime.fromisoformat,
    "$date": date.fromisoformat,
    "$time": time.fromisoformat,
    "$uuid": UUID,
    "$decimal": Decimal,
}


def _tag(value: Any) -> str | None:
    # datetime is a subclass of date: test it first.
    if isinstance(value, datetime):
        return "$datetime"
    if isinstance(value, date):
        return "$date"
    if isinstance(value, time):
        return "$time"
    if isinstance(value, UUID):
        return "$uuid"
    if isinstance(value, Decimal):
        return "$decimal"
    return None


def to_json_value(value: Any) -> Any:
    """Return ``value`` as JSON-ready data, tagging the types JSON lacks.

    Raises:
        TypeError: A value of an unsupported type, a non-string key, or a one-key
            object whose key is a reserved type tag.
        ValueError: A float is NaN or infinite (JSON has no spelling for them).
    """
    if value is None or isinstance(value, str | int):  # bool is an int
        return value
    if isinstance(value, float):
        if not math.isfinite(value):
            raise ValueError("cursor payloads cannot hold NaN or infinite floats")
        return value
    tag = _tag(value)
    if tag is not None:
        return {tag: value.isoformat() if isinstance(value, date | time) else str(value)}
    if isinstance(value, list | tuple):
        return [to_json_value(item) for item in value]
    if isinstance(value, Mapping):
        if len(value) == 1 and next(iter(value)) in _PARSERS:
            raise TypeError(f"cursor payload key {next(iter(value))!r} is reserved")
        converted: dict[str, Any] = {}
        for key, item in value.items():
            if not isinstance(key, str):
                raise TypeError(f"cursor payload keys must be strings, got {key!r}")
            converted[key] = to_json_value(item)
        return converted
    raise TypeError(f"cursor payloads cannot hold {type(value).__name__} values")


def from_json_value(value: Any) -> Any:
    """Undo :func:`to_json_value` on parsed JSON.

    Raises:
        ValueError: A tagged value does not parse as its type.
    """
    if isinstance(value, list):
        return [from_json_value(item) for item in value]
    if not isinstance(value, dict):
        return value
    if len(value) == 1:
        ((key, item),) = value.items()
        parser = _PARSERS.get(key)
        if parser is not None:
            if not isinstance(item, str):
                raise ValueError(f"{key} value must be a string")
            try:
                return parser(item)
            except (ValueError, ArithmeticError) as error:
                raise ValueError(f"bad {key} value") from error
    return {key: from_json_value(item) for key, item in value.items()}
