"""The admin's audit trail: the rows its writes leave, and a row's history for the detail page.

Active when an audit-log model is known (``tempest.contrib.audit`` installed, see
:func:`tempest.db.audit.get_audit_model`): the create, edit, delete and bulk views then
write one audit row per changed row, in the transaction of the change, naming the
signed-in operator. A bulk action writes all of its audit rows with one INSERT.
"""

from __future__ import annotations

import json
from collections.abc import Iterator, Mapping, Sequence
from contextlib import contextmanager
from dataclasses import dataclass
from typing import Any

from sqlalchemy import ClauseElement, select
from sqlalchemy.ext.asyncio import AsyncSession

from tempest.contrib.admin.views.common import ModelInfo
from tempest.db.audit import AuditAction, BaseAuditLogModel, get_audit_model
from tempest.db.audit_rows import audit_entry
from tempest.db.audit_snapshots import diff_snapshots, json_value, row_pk_text, snapshot_model
from tempest.utils.context import Actor, reset_actor, set_actor

__all__ = [
    "HISTORY_LIMIT",
    "HistoryEntry",
    "acting",
    "audit_model_of",
    "audit_value",
    "bulk_entries",
    "change_entry",
    "history_entries",
    "load_history",
]

HISTORY_LIMIT = 50
"""How many of a row's latest changes the detail page shows."""


def audit_model_of(info: ModelInfo) -> type[BaseAuditLogModel] | None:
    """The audit model the views write to for ``info``'s model; None: no audit trail.

    The audit log's own rows are not audited.
    """
    model = get_audit_model(required=False)
    if model is None or issubclass(info.admin.model, BaseAuditLogModel):
        return None
    table = getattr(info.admin.model, "__table__", None)
    if table is None or not table.primary_key.columns:
        return None
    return model


@contextmanager
def acting(actor: Actor) -> Iterator[Actor]:
    """Name ``actor`` as who acts (:func:`tempest.utils.context.get_actor`) in the block."""
    token = set_actor(actor.kind, actor.id)
    try:
        yield actor
    finally:
        reset_actor(token)


def change_entry(
    action: AuditAction,
    instance: Any,
    before: Mapping[str, Any],
    actor: Actor,
) -> dict[str, Any] | None:
    """The audit row of one change of ``instance``, or None when nothing changed.

    ``before`` is the row's snapshot before the change (empty for a new row); after a
    deletion the row has no values, otherwise they are read from ``instance``.
    """
    if action is AuditAction.DELETE:
        changes = diff_snapshots(before, {})
    elif action is AuditAction.UPDATE:
        after = snapshot_model(instance)
        shared = [key for key in before if key in after]  # what expired is not known to differ
        changes = diff_snapshots(
            {key: before[key] for key in shared}, {key: after[key] for key in shared}
        )
    else:
        changes = diff_snapshots({}, snapshot_model(instance))
    if not changes:
        return None
    table = instance.__table__.name
    return audit_entry(action, table, row_pk_text(instance), changes, actor=actor)


def bulk_entries(
    action: str,
    befores: Sequence[tuple[Any, dict[str, Any]]],
    values: Mapping[str, Any],
    actor: Actor,
) -> list[dict[str, Any]]:
    """The audit rows of a bulk action: one per row it changed.

    Args:
        action: ``delete``, ``activate`` or ``deactivate``.
        befores: The rows and their snapshots before the action.
        values: What an update set (a SQL expression counts for ``session_version``,
            which goes up by one, and is left out otherwise).
        actor: The operator.
    """
    kind = AuditAction.DELETE if action == "delete" else AuditAction.UPDATE
    entries = []
    for row, before in befores:
        if kind is AuditAction.DELETE:
            changes = diff_snapshots(before, {})
        else:
            after = dict(before)
            for key, value in values.items():
                if key not in before:
                    continue
                if isinstance(value, ClauseElement):
                    old = before[key]
                    if key != "session_version" or not isinstance(old, int):
                        continue
                    value = old + 1
                after[key] = json_value(value)
            changes = diff_snapshots(before, after)
        if changes:
            table = row.__table__.name
            entries.append(audit_entry(kind, table, row_pk_text(row), changes, actor=actor))
    return entries


@dataclass(slots=True)
class HistoryEntry:
    """One change shown on the detail page."""

    at: Any
    action: str
    who: str
    changes: list[tuple[str, Any, Any]]


async def load_history(
    db_session: AsyncSession, audit: type[BaseAuditLogModel], instance: Any
) -> list[BaseAuditLogModel]:
    """The audit rows of the latest changes of ``instance``, newest first, in one query.

    At most :data:`HISTORY_LIMIT`; the index ``ix_<audit table>_row`` serves the query.
    """
    query = (
        select(audit)
        .where(
            audit.table_name == instance.__table__.name, audit.object_pk == row_pk_text(instance)
        )
        .order_by(audit.created_at.desc(), audit.id.desc())
        .limit(HISTORY_LIMIT)
    )
    return list((await db_session.scalars(query)).all())


def history_entries(
    rows: Sequence[BaseAuditLogModel], names: Mapping[str, str]
) -> list[HistoryEntry]:
    """``rows`` as the detail page shows them; ``names`` maps user ids to operator names."""
    return [
        HistoryEntry(
            at=row.created_at,
            action=str(row.action.value if hasattr(row.action, "value") else row.action),
            who=_who(row.actor_kind, row.actor_id, names),
            changes=[
                (column, change.get("before"), change.get("after"))
                for column, change in (row.changes or {}).items()
                if isinstance(change, dict)
            ],
        )
        for row in rows
    ]


def _who(kind: str | None, actor_id: str | None, names: Mapping[str, str]) -> str:
    if kind is None or actor_id is None:
        return "—"
    if kind == "user":
        return names.get(actor_id, actor_id)
    return f"{kind} {actor_id}"


def audit_value(value: Any) -> str:
    """A value of an audit row's diff as the detail page shows it."""
    if value is None:
        return "—"
    if isinstance(value, bool):
        return "Yes" if value else "No"
    if isinstance(value, dict | list):
        return json.dumps(value, ensure_ascii=False)
    return str(value)
