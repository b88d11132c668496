"""``add_audited`` / ``update_audited`` / ``delete_audited``: writes that leave an audit row.

Each write and its audit row run in one ``atomic(self.session)`` block (joining the
caller's block, if any): a write that fails, or an outer block that rolls back, leaves no
audit row. The audit row holds who made the change (the context's actor, see
:func:`tempest.utils.context.get_actor`), when, the action, the table, the row's primary
key and the columns that changed, before and after, without secrets (see
:mod:`tempest.db.audit_snapshots`).
"""

from __future__ import annotations

import builtins
from collections.abc import Mapping
from typing import TYPE_CHECKING, Any

from sqlalchemy import inspect, select
from sqlalchemy.orm.exc import StaleDataError

from tempest.db.audit import AuditAction, get_audit_model
from tempest.db.audit_rows import audit_entry, write_audit_rows
from tempest.db.audit_snapshots import (
    audited_table,
    committed_snapshot,
    diff_snapshots,
    json_value,
    row_pk_text,
    snapshot_model,
)
from tempest.db.repository.columns import require_column
from tempest.db.repository.core import ModelType
from tempest.db.repository.writes import WriteMethods

if TYPE_CHECKING:
    from sqlalchemy.ext.asyncio import AsyncSession

    from tempest.db.audit import BaseAuditLogModel
    from tempest.utils.context import Actor

__all__ = ["AuditMethods"]


class AuditMethods(WriteMethods[ModelType]):
    """The audited writes of :class:`~tempest.db.repository.base.BaseRepository`.

    The audit table is the constructor's ``audit_model``, else the class attribute
    ``audit_model``, else the default one (``tempest.contrib.audit``'s ``AuditLog`` when
    that app is installed).
    """

    async def add_audited(self, instance: ModelType, *, actor: Actor | None = None) -> ModelType:
        """Insert ``instance`` (as :meth:`add`) and record a ``create`` audit row.

        Args:
            instance: The new row.
            actor: Who makes the change; None reads it from the context.

        Returns:
            ``instance``, with database defaults loaded.

        Raises:
            ImproperlyConfigured: No audit model, or the model's table has no primary key.
            ConflictException: A constraint is broken; neither row is saved.
        """
        audit = self._audit_target()
        self._prepare_new(instance)
        async with self._writing(self.create_conflict_message) as session:
            session.add(instance)
            await session.flush()
            await self._load_unloaded([instance])
            changes = diff_snapshots({}, snapshot_model(instance))
            entry = self._entry(AuditAction.CREATE, instance, changes, actor)
            await write_audit_rows(session, audit, [entry])
        return instance

    async def update_audited(
        self,
        instance: ModelType,
        values: Mapping[str, Any] | None = None,
        *,
        actor: Actor | None = None,
    ) -> ModelType:
        """Save the changes made to ``instance`` (as :meth:`update`) and record them.

        The audit row holds the columns that changed, with their values before (as last
        loaded; values never loaded are read in the same transaction) and after. A save
        that changes nothing records nothing.

        Args:
            instance: A loaded row, possibly changed already.
            values: More changes to apply first (attribute name -> value).
            actor: Who makes the change; None reads it from the context.

        Returns:
            ``instance``, refreshed.

        Raises:
            ImproperlyConfigured: No audit model, or the model's table has no primary key.
            ValidationException: ``values`` names something that is not a column.
            NotFoundException: The row no longer exists (or is outside the scope).
            ConflictException: A constraint is broken; neither row is saved.
        """
        audit = self._audit_target()
        self._check_owned(instance)
        for key in values or {}:
            require_column(self.model, key, "column")
        for key, value in (values or {}).items():
            setattr(instance, key, value)
        before, unknown = committed_snapshot(instance)
        taken = self._take_changes([instance])
        try:
            async with self._writing(self.update_conflict_message) as session:
                for changed, changed_values in taken:
                    for key, value in changed_values.items():
                        setattr(changed, key, value)
                if unknown:
                    before.update(await self._stored_values(session, instance, unknown))
                session.add(instance)
                await session.flush()
                await self._load_unloaded([instance])
                after = snapshot_model(instance)
                changes = diff_snapshots(before, {key: after.get(key) for key in before})
                if changes:
                    entry = self._entry(AuditAction.UPDATE, instance, changes, actor)
                    await write_audit_rows(session, audit, [entry])
        except StaleDataError:
            raise self._not_found() from None
        return instance

    async def delete_audited(self, id: Any, *, actor: Actor | None = None) -> None:
        """Delete a row (as :meth:`delete`) and record its last values.

        Args:
            id: The primary key, or the (loaded) instance itself: a model with a
                composite key passes the instance.
            actor: Who makes the change; None reads it from the context.

        Raises:
            ImproperlyConfigured: No audit model, or the model's table has no primary key.
            NotFoundException: No such row.
            ConflictException: Another row still references it; nothing is deleted.
        """
        audit = self._audit_target()
        async with self._writing(None) as session:
            if isinstance(id, self.model):
                self._check_owned(id)
                instance: ModelType | None = id
                await session.refresh(id)
            else:
                instance = await session.scalar(self._select({"id": id}).limit(1))
            if instance is not None:
                changes = diff_snapshots(snapshot_model(instance), {})
                entry = self._entry(AuditAction.DELETE, instance, changes, actor)
                await session.delete(instance)
                await session.flush()
                await write_audit_rows(session, audit, [entry])
        if instance is None:
            raise self._not_found()

    def _audit_target(self) -> type[BaseAuditLogModel]:
        audited_table(self.model)  # fails now, with the fix, on a table without a key
        model = get_audit_model(self.audit_model)
        assert model is not None
        return model

    def _entry(
        self,
        action: AuditAction,
        instance: ModelType,
        changes: dict[str, Any],
        actor: Actor | None,
    ) -> dict[str, Any]:
        return audit_entry(action, self.table.name, row_pk_text(instance), changes, actor=actor)

    async def _stored_values(
        self, session: AsyncSession, instance: ModelType, keys: builtins.list[str]
    ) -> dict[str, Any]:
        """The values of ``keys`` in the database row of ``instance``, without flushing."""
        state = inspect(instance)
        identity = state.identity or ()
        conditions = [
            column == value
            for column, value in zip(state.mapper.primary_key, identity, strict=True)
        ]
        columns = [getattr(self.model, key) for key in keys]
        with session.no_autoflush:
            row = (await session.execute(select(*columns).where(*conditions))).first()
        if row is None:
            return {}
        return {key: json_value(value) for key, value in zip(keys, row, strict=True)}
