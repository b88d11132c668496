"""Filling a message template's ``{placeholders}``, never raising: for messages and catalogs."""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

__all__ = ["format_message"]


class _KeepMissing(dict[str, Any]):
    """Format parameters that leave an unknown ``{placeholder}`` as it is written."""

    def __missing__(self, key: str) -> str:
        return "{" + key + "}"


def format_message(template: str, params: Mapping[str, Any] | None = None) -> str:
    """Fill a message template's ``{name}`` placeholders; never raises.

    A placeholder with no value in ``params`` stays as written; a template that cannot
    be filled at all (a format spec that does not fit its value) comes back unfilled.

    Example:
        >>> format_message("Order {id} of {owner} not found", {"id": 7})
        'Order 7 of {owner} not found'

    Args:
        template: The message, with ``{name}`` placeholders.
        params: The values of the placeholders.

    Returns:
        The message.
    """
    if not params or "{" not in template:
        return template
    try:
        return template.format_map(_KeepMissing(params))
    except (ValueError, TypeError, KeyError, IndexError, AttributeError):
        return template
