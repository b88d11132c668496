"""Repositories: :class:`BaseRepository` and :class:`TenantScopedRepository`.

One module per concern: ``filters`` (the filter dict), ``ordering`` (``order_by``),
``counting``, ``pagination`` (offset pages), ``keyset`` and ``cursor`` (cursor pages),
``reads``, ``writes``, ``rows``/``bulk``/``copy`` (bulk statements), ``outbox``
(``save_with_outbox``), ``audited`` (``add_audited``...), ``conflicts`` (integrity
errors as 409s), ``core`` (constructor and scoping hooks), ``base`` and ``tenant`` (the classes).
"""

from tempest.db.repository.base import BaseRepository
from tempest.db.repository.tenant import TenantScopedRepository

__all__ = ["BaseRepository", "TenantScopedRepository"]
