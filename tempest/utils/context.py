"""Request-scoped logging context: the ID of the request being served, and record flags.

The request ID is set by ``RequestIDMiddleware`` and read by the log formatter; the
flags are the ``extra=`` attributes the exception handlers set and the log handlers route on.
"""

from __future__ import annotations

from contextvars import ContextVar, Token

__all__ = [
    "UNCAUGHT_500_FLAG",
    "clear_request_id",
    "get_request_id",
    "request_id_ctx",
    "set_request_id",
]

UNCAUGHT_500_FLAG = "uncaught_500"
"""Record attribute set (via ``extra``) on uncaught-500 records; they go to ``500.log``."""

request_id_ctx: ContextVar[str | None] = ContextVar("tempest_request_id", default=None)
"""The current request's ID; set by ``RequestIDMiddleware``, read by the log formatter."""


def get_request_id() -> str | None:
    """Return the ID of the request being served, if any.

    Returns:
        The request ID, or ``None`` outside a request.
    """
    return request_id_ctx.get()


def set_request_id(request_id: str | None) -> Token[str | None]:
    """Set the current request ID, e.g. in a background job continuing a request.

    Args:
        request_id: The ID to attach to everything logged from this context.

    Returns:
        A token that ``request_id_ctx.reset`` accepts to restore the previous value.
    """
    return request_id_ctx.set(request_id)


def clear_request_id() -> None:
    """Forget the current request ID in this context."""
    request_id_ctx.set(None)
