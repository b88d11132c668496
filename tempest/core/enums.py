"""``BaseStrEnum`` and ``BaseIntEnum``, where ARCHITECTURE.md §3 lists them (``tempest.core``).

The classes live in :mod:`tempest.utils.enums` so that ``db`` (outbox statuses) can use them
without importing ``core`` (a higher layer; see docs/topics/layers.md).
"""

from __future__ import annotations

from tempest.utils.enums import BaseIntEnum, BaseStrEnum

__all__ = ["BaseIntEnum", "BaseStrEnum"]
