"""LogUtils: a logger whose level methods take structured fields as keyword arguments."""

from __future__ import annotations

import logging
from collections.abc import Mapping
from typing import Any

__all__ = ["LogUtils", "safe_extra"]

# Names logging refuses in ``extra=`` (makeRecord raises KeyError) or that would overwrite
# an attribute of the record: every LogRecord attribute, plus message and asctime.
_RECORD_ATTRIBUTES = frozenset(vars(logging.LogRecord("", logging.INFO, "", 0, "", None, None))) | {
    "message",
    "asctime",
}


def safe_extra(fields: Mapping[str, Any]) -> dict[str, Any]:
    """``fields`` ready for ``extra=``: keys that clash with record attributes renamed.

    The standard library raises ``KeyError`` for ``logger.info("...", extra={"message": ...})``
    and silently overwrites other record attributes (``name``, ``args``, ``levelname``...).
    Each such key becomes ``extra_<key>`` (``extra_message``), so the call logs instead.

    Args:
        fields: The structured fields of a log line.

    Returns:
        A new dict with the same values, colliding keys renamed.
    """
    return {
        (f"extra_{key}" if key in _RECORD_ATTRIBUTES else key): value
        for key, value in fields.items()
    }


class LogUtils:
    """A named logger whose level methods take the line's fields as keyword arguments.

    ``log.info("user_created", user_id=..., email=...)`` logs the event name as the
    message and the fields as ``extra``; with JSON logging each field is a key of the
    line's object, next to ``request_id``. A field named like a record attribute
    (``message``, ``name``, ``args``...) is written as ``extra_<name>`` instead of failing
    (see :func:`safe_extra`). The message is never %-formatted, so an event name holding
    ``%`` is safe.

    Example:
        >>> log = LogUtils("app.users")
        >>> log.info("user_created", user_id="42")
    """

    def __init__(self, name: str, level: str | int | None = None) -> None:
        """Wrap the logger called ``name``.

        Args:
            name: The logger's name (``app.users``).
            level: Set the logger's own level too (``"INFO"``); default: leave it.

        Raises:
            ValueError: ``level`` is not a level name.
        """
        self.logger = logging.getLogger(name)
        if level is not None:
            if isinstance(level, str):
                number = logging.getLevelNamesMapping().get(level.strip().upper())
                if number is None:
                    raise ValueError(
                        f"Unknown log level {level!r}; use DEBUG, INFO, WARNING, ERROR or CRITICAL."
                    )
                level = number
            self.logger.setLevel(level)

    @property
    def name(self) -> str:
        """The logger's name."""
        return self.logger.name

    def log(self, level: int, event: str, /, **fields: Any) -> None:
        """Log ``event`` at ``level`` with ``fields``; see the class docstring."""
        if self.logger.isEnabledFor(level):
            self.logger.log(level, "%s", event, extra=safe_extra(fields), stacklevel=3)

    def debug(self, event: str, /, **fields: Any) -> None:
        """Log ``event`` at DEBUG with ``fields``."""
        self.log(logging.DEBUG, event, **fields)

    def info(self, event: str, /, **fields: Any) -> None:
        """Log ``event`` at INFO with ``fields``."""
        self.log(logging.INFO, event, **fields)

    def warning(self, event: str, /, **fields: Any) -> None:
        """Log ``event`` at WARNING with ``fields``."""
        self.log(logging.WARNING, event, **fields)

    def error(self, event: str, /, **fields: Any) -> None:
        """Log ``event`` at ERROR with ``fields``."""
        self.log(logging.ERROR, event, **fields)

    def critical(self, event: str, /, **fields: Any) -> None:
        """Log ``event`` at CRITICAL with ``fields``."""
        self.log(logging.CRITICAL, event, **fields)

    def exception(self, event: str, /, **fields: Any) -> None:
        """Log ``event`` at ERROR with ``fields`` and the exception being handled."""
        if self.logger.isEnabledFor(logging.ERROR):
            self.logger.error("%s", event, exc_info=True, extra=safe_extra(fields), stacklevel=2)

    @staticmethod
    def extra(**fields: Any) -> dict[str, Any]:
        """``fields`` for ``logger.info(..., extra=...)``; see :func:`safe_extra`."""
        return safe_extra(fields)
