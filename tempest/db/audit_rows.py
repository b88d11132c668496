"""Writing audit rows: who, when, what, with one INSERT statement for any number of rows."""

from __future__ import annotations

from collections.abc import Sequence
from typing import TYPE_CHECKING, Any

from sqlalchemy import insert

from tempest.db.audit import AuditAction
from tempest.utils.context import Actor, get_actor, get_request_id

if TYPE_CHECKING:
    from sqlalchemy.ext.asyncio import AsyncSession

    from tempest.db.audit import BaseAuditLogModel

__all__ = ["audit_entry", "write_audit_rows"]


def audit_entry(
    action: AuditAction,
    table_name: str,
    object_pk: str,
    changes: dict[str, Any],
    *,
    actor: Actor | None = None,
) -> dict[str, Any]:
    """The values of one audit row.

    Args:
        action: What the change did.
        table_name: The changed row's table.
        object_pk: Its primary key as text (:func:`tempest.db.audit_snapshots.pk_text`).
        changes: Column -> ``{"before": ..., "after": ...}``
            (:func:`tempest.db.audit_snapshots.diff_snapshots`).
        actor: Who made the change; None reads it from the context
            (:func:`tempest.utils.context.get_actor`: the request's user, else the task,
            else the ``manage.py`` command).

    Returns:
        Attribute name -> value, for :func:`write_audit_rows`.
    """
    who = actor if actor is not None else get_actor()
    request_id = get_request_id()
    return {
        "action": action,
        "table_name": table_name,
        "object_pk": object_pk,
        "actor_kind": who.kind if who is not None else None,
        "actor_id": who.id[:255] if who is not None else None,
        "request_id": request_id[:64] if request_id else None,
        "changes": changes,
    }


async def write_audit_rows(
    session: AsyncSession, model: type[BaseAuditLogModel], entries: Sequence[dict[str, Any]]
) -> None:
    """Insert audit rows with one INSERT statement (an executemany).

    They are written in ``session``'s transaction: they commit or roll back with the
    changes they describe.

    Args:
        session: The session making the changes, inside its transaction.
        model: The audit-log model.
        entries: Values from :func:`audit_entry`; nothing is done when empty.
    """
    if entries:
        await session.execute(insert(model), list(entries))
