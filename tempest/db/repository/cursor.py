"""Cursor (keyset) pagination: pages that stay fast and stable on big, changing tables."""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from tempest.db.repository.core import ModelType, RepositoryCore
from tempest.db.repository.keyset import check_cursor_column, cursor_payload, resume_after
from tempest.db.repository.ordering import resolve_ordering
from tempest.db.repository.pagination import check_bounds

__all__ = ["CursorMethods"]


class CursorMethods(RepositoryCore[ModelType]):
    """:meth:`cursor_paginate` of :class:`~tempest.db.repository.base.BaseRepository`."""

    async def cursor_paginate(
        self,
        filters: Mapping[str, Any] | None = None,
        order_by: str | None = None,
        cursor: str | None = None,
        limit: int = 20,
        ascending: bool = True,
    ) -> dict[str, Any]:
        """Return the rows after ``cursor`` in the given order, and the next cursor.

        The position is the last row's ``(order value, id)``, so rows sharing a value
        are neither skipped nor repeated, and rows inserted meanwhile do not shift the
        pages. Nullable order columns are supported: NULLs come after every value when
        ascending, before when descending. See :mod:`tempest.db.repository.keyset`.

        Args:
            filters: Filter dict.
            order_by: Column attribute name (``"-name"``: descending); None means
                ``created_at``.
            cursor: The previous page's ``next_cursor``; None (or ``""``) for the first
                page.
            limit: Rows per page, from 1 to :attr:`max_page_size`.
            ascending: Sort direction.

        Returns:
            ``{"items", "next_cursor", "has_more", "limit"}``; ``next_cursor`` is None
            on the last page.

        Raises:
            ValidationException: Invalid filters, ``order_by`` or ``limit``; or a cursor
                that is malformed, forged, or made for another ordering (code
                ``INVALID_CURSOR``).
        """
        from tempest.schemas import decode_cursor, encode_cursor

        limit = check_bounds("limit", limit, self.max_page_size)
        ordering = resolve_ordering(self.model, order_by, ascending)
        check_cursor_column(ordering)
        query = self._select(filters)
        if cursor:  # "" (an empty query parameter) asks for the first page too
            query = query.where(resume_after(ordering, decode_cursor(cursor)))
        query = query.order_by(*ordering.clauses()).limit(limit + 1)
        rows = list((await self.session.execute(query)).unique().scalars().all())
        has_more = len(rows) > limit
        items = rows[:limit]
        next_cursor = encode_cursor(cursor_payload(ordering, items[-1])) if has_more else None
        return {"items": items, "next_cursor": next_cursor, "has_more": has_more, "limit": limit}
