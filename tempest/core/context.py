"""The request ID context, kept under ``tempest.core`` where ARCHITECTURE.md §3 lists it.

The names live in :mod:`tempest.utils.context` so that ``api`` and ``db`` can use them
without importing ``core`` (a higher layer; see docs/topics/layers.md).
"""

from __future__ import annotations

from tempest.utils.context import (
    clear_request_id,
    get_request_id,
    request_id_ctx,
    set_request_id,
)

__all__ = ["clear_request_id", "get_request_id", "request_id_ctx", "set_request_id"]
