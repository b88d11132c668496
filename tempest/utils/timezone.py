"""Timezone-aware datetimes: the one clock and the one normalisation tempest uses."""

from __future__ import annotations

from datetime import UTC, datetime

__all__ = ["to_utc", "utcnow"]


def utcnow() -> datetime:
    """Return the current time as a timezone-aware UTC datetime.

    Returns:
        ``datetime.now(UTC)``; never a naive value.
    """
    return datetime.now(UTC)


def to_utc(value: datetime) -> datetime:
    """Normalise a datetime to UTC.

    A naive value is taken to already be UTC and is only tagged with it (never
    converted from the machine's local time, which is unpredictable in containers and
    workers); an aware value is converted with ``astimezone(UTC)``.

    Args:
        value: The datetime to normalise.

    Returns:
        An aware datetime whose ``tzinfo`` is :data:`datetime.UTC`.

    Raises:
        TypeError: ``value`` is not a :class:`datetime.datetime` (a plain ``date`` has no
            time of day to normalise).
    """
    if not isinstance(value, datetime):
        raise TypeError(f"to_utc() expects a datetime, got {type(value).__name__}")
    if value.utcoffset() is None:
        return value.replace(tzinfo=UTC)
    return value.astimezone(UTC)
