"""Errors raised when the framework itself is set up wrongly."""

from __future__ import annotations

__all__ = ["ImproperlyConfigured"]


class ImproperlyConfigured(Exception):
    """The project is configured in a way tempest cannot work with.

    Raised for problems a developer must fix in code or settings (a missing setting,
    two models sharing one table name, ...), never for a bad request. The message
    always says what to change.
    """
