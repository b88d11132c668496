"""Copy a mapping while dropping and overriding keys."""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from typing import Any

__all__ = ["modify_dict"]


def modify_dict(
    data: Mapping[str, Any],
    exclude: Iterable[str] | None = None,
    include: Mapping[str, Any] | None = None,
) -> dict[str, Any]:
    """Return a new dict built from ``data`` without ``exclude`` and with ``include``.

    The source is never mutated. ``include`` wins over both ``data`` and ``exclude``: a
    key named in both ``exclude`` and ``include`` ends up with the ``include`` value.

    Example::

        modify_dict(payload, exclude=["password"], include={"password_hash": digest})

    Args:
        data: The source mapping.
        exclude: Keys to leave out. A bare string is refused, since it would otherwise be
            read as a collection of one-letter keys.
        include: Keys to add or override.

    Returns:
        A new ``dict``.

    Raises:
        TypeError: ``data`` or ``include`` is not a mapping, or ``exclude`` is a string.
    """
    if not isinstance(data, Mapping):
        raise TypeError(f"modify_dict() data must be a mapping, got {type(data).__name__}")
    if isinstance(exclude, str | bytes):
        raise TypeError("modify_dict() exclude must be a collection of keys, not a string")
    if include is not None and not isinstance(include, Mapping):
        raise TypeError(f"modify_dict() include must be a mapping, got {type(include).__name__}")
    dropped = frozenset(exclude) if exclude else frozenset()
    result = {key: value for key, value in data.items() if key not in dropped}
    if include:
        result.update(include)
    return result
