"""Alembic autogenerate hooks: base columns first, and chaining several hooks.

Pass them as ``process_revision_directives`` in Alembic's ``context.configure(...)``::

    context.configure(
        ...,
        process_revision_directives=compose_hooks(reorder_base_columns_first, my_hook),
    )
"""

from __future__ import annotations

from collections.abc import Callable, Iterable
from typing import Any

__all__ = ["BASE_COLUMN_ORDER", "compose_hooks", "reorder_base_columns_first"]

BASE_COLUMN_ORDER: tuple[str, ...] = ("id", "is_active", "created_at", "updated_at")
"""The columns of :class:`tempest.db.BaseModel`, in the order tables start with them."""

RevisionHook = Callable[[Any, Any, list[Any]], None]


def reorder_base_columns_first(context: Any, revision: Any, directives: list[Any]) -> None:
    """Put ``BASE_COLUMN_ORDER`` columns first in every ``create_table`` of a revision.

    The other columns keep their order. Tables without base columns are unchanged.

    Args:
        context: Alembic's migration context (unused).
        revision: The revision being generated (unused).
        directives: Alembic's ``MigrationScript`` list, changed in place.
    """
    from alembic.operations import ops

    rank = {name: position for position, name in enumerate(BASE_COLUMN_ORDER)}
    for script in directives:
        for operation in _walk(getattr(script, "upgrade_ops_list", None) or [script.upgrade_ops]):
            if isinstance(operation, ops.CreateTableOp):
                operation.columns = sorted(
                    operation.columns,
                    key=lambda item: rank.get(str(getattr(item, "name", "")), len(rank)),
                )


def _walk(containers: Iterable[Any]) -> Iterable[Any]:
    for container in containers:
        for operation in getattr(container, "ops", []):
            if hasattr(operation, "ops"):
                yield from _walk([operation])
            else:
                yield operation


def compose_hooks(*hooks: RevisionHook) -> RevisionHook:
    """One ``process_revision_directives`` hook that runs ``hooks`` in order.

    Args:
        *hooks: Hooks taking ``(context, revision, directives)``.

    Returns:
        The combined hook.
    """

    def composed(context: Any, revision: Any, directives: list[Any]) -> None:
        for hook in hooks:
            hook(context, revision, directives)

    return composed
