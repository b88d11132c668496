"""Reads: get, get_or_none, get_by_id, exists, first, list, count."""

from __future__ import annotations

import builtins
import uuid
from collections.abc import Mapping
from typing import Any, cast

from sqlalchemy import Select, select

from tempest.db.repository.core import ModelType, RepositoryCore
from tempest.db.repository.counting import exact_count
from tempest.db.repository.fast_get import fast_get_by_id
from tempest.db.repository.ordering import resolve_ordering

__all__ = ["ReadMethods"]


class ReadMethods(RepositoryCore[ModelType]):
    """The read methods of :class:`~tempest.db.repository.base.BaseRepository`."""

    async def get(self, filters: Mapping[str, Any], for_update: bool = False) -> ModelType:
        """Return a row matching ``filters``.

        When several match, which one is returned is unspecified; use :meth:`first` to
        choose by an ordering.

        Args:
            filters: Filter dict (see :mod:`tempest.db.repository.filters`).
            for_update: Lock the row (``SELECT ... FOR UPDATE``) until the transaction
                ends; ignored on SQLite, which locks the whole database on write. Needs
                a transaction: inside ``atomic()`` on a request session.

        Returns:
            The row.

        Raises:
            NotFoundException: No row matches (the configured ``not_found_exception``).
            ValidationException: A filter is invalid.
            RuntimeError: ``for_update`` on an autocommit session outside ``atomic()``.
        """
        instance = await self.get_or_none(filters, for_update=for_update)
        if instance is None:
            raise self._not_found()
        return instance

    async def get_or_none(
        self, filters: Mapping[str, Any], for_update: bool = False
    ) -> ModelType | None:
        """Return a row matching ``filters``, or None (see :meth:`get`)."""
        query = self._select(filters).limit(1)
        if for_update:
            self._check_lockable()
            query = query.with_for_update()
        instance: ModelType | None = await self.session.scalar(query)
        return instance

    async def get_by_id(self, id: Any, for_update: bool = False) -> ModelType:
        """Return the row with this primary key (see :meth:`get`).

        On a request session with nothing pending, an unscoped lookup runs as one
        precompiled statement on the driver (see :mod:`tempest.db.repository.fast_get`).
        """
        if isinstance(id, uuid.UUID) and not for_update and not self._scope_conditions():
            found = await fast_get_by_id(self.session, self.model, id)
            if found is not NotImplemented:
                if found is None:
                    raise self._not_found()
                return cast(ModelType, found)
        return await self.get({"id": id}, for_update=for_update)

    async def exists(self, filters: Mapping[str, Any] | None = None) -> bool:
        """Whether a row matches, as ``SELECT EXISTS (...)``: no row is loaded."""
        inner = self._select(filters, select(self.model.id))
        return bool(await self.session.scalar(select(inner.exists())))

    async def first(
        self,
        filters: Mapping[str, Any] | None = None,
        order_by: str | None = None,
        ascending: bool = True,
    ) -> ModelType | None:
        """Return the first matching row in the given order, or None.

        Args:
            filters: Filter dict.
            order_by: Column attribute name (``"-name"``: descending); None sorts by
                ``created_at``. ``id`` breaks ties.
            ascending: Sort direction.

        Returns:
            The row, or None when nothing matches.

        Raises:
            ValidationException: A filter or ``order_by`` is invalid.
        """
        query = self._ordered(filters, order_by, ascending).limit(1)
        instance: ModelType | None = await self.session.scalar(query)
        return instance

    async def list(
        self,
        filters: Mapping[str, Any] | None = None,
        order_by: str | None = None,
        ascending: bool = True,
    ) -> builtins.list[ModelType]:
        """Return every matching row in the given order (see :meth:`first`); ``[]`` if none."""
        result = await self.session.execute(self._ordered(filters, order_by, ascending))
        return builtins.list(result.unique().scalars().all())

    async def count(self, filters: Mapping[str, Any] | None = None) -> int:
        """Return the exact number of matching rows: a COUNT over the filtered query."""
        return await exact_count(self.session, self._select(filters))

    def _ordered(
        self, filters: Mapping[str, Any] | None, order_by: str | None, ascending: bool
    ) -> Select[Any]:
        ordering = resolve_ordering(self.model, order_by, ascending)
        return self._select(filters).order_by(*ordering.clauses())
