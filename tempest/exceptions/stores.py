"""Errors of the stores that hold state shared by every process (idempotency keys...)."""

from __future__ import annotations

__all__ = ["IdempotencyStoreUnavailableError"]


class IdempotencyStoreUnavailableError(RuntimeError):
    """The idempotency store could not be reached (Redis or database down, timeout).

    Public as ``tempest.api.IdempotencyStoreUnavailableError``; defined here so that
    stores of every layer (the Redis one in ``tempest.api``, the database one in
    ``tempest.db``) raise the same class.
    """
