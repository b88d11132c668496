"""Writes: add, update, bulk_update, delete, soft_delete, restore and their batch forms.

Each runs inside ``atomic(self.session)``: its own transaction on a request session, or
part of the caller's ``atomic()`` block. A broken constraint raises the configured
conflict exception (409) whose message and details hold no SQL.
"""

from __future__ import annotations

import builtins
from collections.abc import Iterable, Mapping, Sequence
from typing import Any

from sqlalchemy import ColumnElement, delete, inspect, select, update
from sqlalchemy.orm.exc import StaleDataError

from tempest.db.repository.columns import model_columns, require_column
from tempest.db.repository.core import ModelType, RepositoryCore
from tempest.db.repository.rows import bind_parameter_limit, chunked
from tempest.db.repository.values import coerce_value
from tempest.db.transaction import AUTOCOMMIT_INFO_KEY, in_atomic_block
from tempest.exceptions import ValidationException

__all__ = ["WriteMethods"]


class WriteMethods(RepositoryCore[ModelType]):
    """The write methods of :class:`~tempest.db.repository.base.BaseRepository`."""

    async def add(self, instance: ModelType) -> ModelType:
        """Insert ``instance`` and return it with database defaults loaded.

        Raises:
            ConflictException: A constraint is broken (the configured
                ``conflict_exception`` with ``create_conflict_message``).
        """
        return (await self.add_all([instance]))[0]

    async def add_all(self, instances: Iterable[ModelType]) -> builtins.list[ModelType]:
        """Insert several rows in one transaction (batched INSERTs) and return them.

        Raises:
            ConflictException: A constraint is broken; nothing is inserted.
        """
        instances = builtins.list(instances)
        for instance in instances:
            self._prepare_new(instance)
        async with self._writing(self.create_conflict_message) as session:
            session.add_all(instances)
            await session.flush()
            await self._load_unloaded(instances)
        return instances

    async def update(self, instance: ModelType) -> ModelType:
        """Save the changes made to ``instance`` and return it refreshed.

        Raises:
            NotFoundException: The row no longer exists (or is outside the scope).
            ConflictException: A constraint is broken (``update_conflict_message``).
        """
        return (await self.update_many([instance]))[0]

    async def update_many(self, instances: Iterable[ModelType]) -> builtins.list[ModelType]:
        """Save the changes made to several instances in one transaction.

        Raises:
            NotFoundException: One of the rows no longer exists; nothing is saved.
            ConflictException: A constraint is broken; nothing is saved.
        """
        instances = builtins.list(instances)
        for instance in instances:
            self._check_owned(instance)
        changes = self._take_changes(instances)
        try:
            async with self._writing(self.update_conflict_message) as session:
                for instance, values in changes:
                    for key, value in values.items():
                        setattr(instance, key, value)
                session.add_all(instances)
                await session.flush()
                await self._load_unloaded(instances)
        except StaleDataError:
            raise self._not_found() from None
        return instances

    async def bulk_update(self, filters: Mapping[str, Any], values: Mapping[str, Any]) -> int:
        """``UPDATE ... SET values WHERE filters`` in one statement.

        ``updated_at`` is set by its ``onupdate`` default. Empty filters are refused:
        updating every row must be written as an explicit statement.

        Args:
            filters: Filter dict; must select something (not empty, not all None).
            values: Attribute name -> new value.

        Returns:
            The number of rows updated.

        Raises:
            ValidationException: Empty filters, no values, or an unknown name.
            ConflictException: A constraint is broken (``update_conflict_message``).
        """
        conditions = self._required_conditions(filters, "bulk_update")
        if not values:
            raise ValidationException("bulk_update needs at least one value to set.")
        for key in values:
            require_column(self.model, key, "column")
        self._check_values(values)
        statement = (
            update(self.model).where(*self._scope_conditions(), *conditions).values(dict(values))
        )
        async with self._writing(self.update_conflict_message) as session:
            result = await session.execute(statement)
        return int(getattr(result, "rowcount", 0))

    async def delete(self, id: Any) -> None:
        """Delete the row with this primary key (ORM cascades apply).

        Raises:
            NotFoundException: No such row.
            ConflictException: Another row still references it.
        """
        query = self._select({"id": id}).limit(1)
        async with self._writing(None) as session:
            instance = await session.scalar(query)
            if instance is not None:
                await session.delete(instance)
                await session.flush()
        if instance is None:
            raise self._not_found()

    async def delete_many(self, filters: Mapping[str, Any]) -> int:
        """``DELETE ... WHERE filters``; empty filters are refused (see bulk_update).

        Returns:
            The number of rows deleted.
        """
        conditions = self._required_conditions(filters, "delete_many")
        statement = delete(self.model).where(*self._scope_conditions(), *conditions)
        async with self._writing(None) as session:
            result = await session.execute(statement)
        return int(getattr(result, "rowcount", 0))

    async def delete_batch(self, ids: Iterable[Any]) -> int:
        """Delete the rows with these primary keys; unknown ones are ignored.

        Returns:
            The number of rows deleted.

        Raises:
            ValidationException: An id is not a valid primary key value.
        """
        ids = builtins.list(dict.fromkeys(self._primary_key(value) for value in ids))
        deleted = 0
        if not ids:
            return deleted
        size = bind_parameter_limit(self.session) - 16  # room for the scope's parameters
        async with self._writing(None) as session:
            for chunk in chunked(ids, size):
                statement = delete(self.model).where(
                    self.model.id.in_(chunk), *self._scope_conditions()
                )
                result = await session.execute(statement)
                deleted += int(getattr(result, "rowcount", 0))
        return deleted

    async def soft_delete(self, id: Any) -> ModelType:
        """Set ``is_active`` to False and return the row (one UPDATE ... RETURNING).

        Raises:
            NotFoundException: No such row.
        """
        return await self._set_active(id, False)

    async def restore(self, id: Any) -> ModelType:
        """Set ``is_active`` back to True and return the row (see :meth:`soft_delete`)."""
        return await self._set_active(id, True)

    async def _set_active(self, id: Any, active: bool) -> ModelType:
        values: dict[str, Any] = {"is_active": active}
        if not active and "session_version" in model_columns(self.model):
            # A user model: deactivating signs the user out everywhere (see
            # tempest.contrib.auth.base.BaseUserModel.end_sessions).
            values["session_version"] = model_columns(self.model)["session_version"] + 1
        statement = (
            update(self.model)
            .where(*self._scope_conditions(), *self._conditions({"id": id}))
            .values(**values)
            .returning(self.model)
            .execution_options(populate_existing=True)
        )
        async with self._writing(self.update_conflict_message) as session:
            instance = (await session.execute(statement)).scalars().first()
        if instance is None:
            raise self._not_found()
        return instance

    def _primary_key(self, value: Any) -> Any:
        try:
            return coerce_value(model_columns(self.model)["id"], value)
        except ValueError as error:
            raise ValidationException(
                f"Invalid id {value!r}: {error}.", details={"field": "id"}
            ) from None

    def _required_conditions(
        self, filters: Mapping[str, Any], method: str
    ) -> builtins.list[ColumnElement[bool]]:
        conditions = self._conditions(filters)
        if not conditions:
            raise ValidationException(
                f"{method} needs at least one filter: it would change every row. Pass a "
                "filter, or write the statement explicitly if that is what you want.",
                details={"field": "filters"},
            )
        return conditions

    def _take_changes(
        self, instances: Sequence[ModelType]
    ) -> builtins.list[tuple[ModelType, dict[str, Any]]]:
        """Take the unsaved column changes off ``instances``, to set them again in the block.

        On a request session outside ``atomic()``, changes made before the call are
        pending in an autocommit transaction, which ``atomic()`` would save statement by
        statement before its own transaction begins. Taken off (the attributes are
        expired, which loads nothing) and set again inside, they are saved all together
        and a failure rolls them all back.
        """
        session = self.session
        if not (session.info.get(AUTOCOMMIT_INFO_KEY) and not in_atomic_block(session)):
            return []
        # A changed primary key stays pending: the UPDATE needs its old value.
        keys = [key for key, column in model_columns(self.model).items() if not column.primary_key]
        taken: builtins.list[tuple[ModelType, dict[str, Any]]] = []
        for instance in instances:
            state = inspect(instance)
            if not state.persistent or instance not in session:
                continue
            changed = {
                key: state.attrs[key].value
                for key in keys
                if key not in state.unloaded and state.attrs[key].history.has_changes()
            }
            if changed:
                session.expire(instance, builtins.list(changed))
                taken.append((instance, changed))
        return taken

    async def _load_unloaded(self, instances: Sequence[ModelType]) -> None:
        """Load column values the flush left unloaded, without a query per row.

        Server-side defaults normally come back through RETURNING; this covers the rest.
        """
        keys = model_columns(self.model).keys()
        stale = [item for item in instances if keys & inspect(item).unloaded]
        if len(stale) == 1:
            await self.session.refresh(stale[0], attribute_names=keys & inspect(stale[0]).unloaded)
        elif stale:
            size = bind_parameter_limit(self.session)
            for chunk in chunked([item.id for item in stale], size):
                query = select(self.model).where(self.model.id.in_(chunk))
                await self.session.execute(query.execution_options(populate_existing=True))
