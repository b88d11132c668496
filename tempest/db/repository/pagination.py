"""Offset pagination: one page, its total (exact, or estimated on big PostgreSQL tables).

The total costs nothing when the page itself shows where the rows end (a short,
non-empty page, or a first page with room to spare). Otherwise it is an exact
``COUNT(*)``, except for an unfiltered, unscoped query on PostgreSQL whose table the
planner estimates above ``estimate_count_above`` rows: then ``total`` is that estimate
and ``total_is_exact`` is False. A table never analysed has no estimate (exact count).
"""

from __future__ import annotations

import math
from collections.abc import Mapping
from typing import Any

from sqlalchemy import Select

from tempest.db.repository.core import ModelType, RepositoryCore
from tempest.db.repository.counting import estimated_rows, exact_count
from tempest.db.repository.ordering import resolve_ordering
from tempest.exceptions import ValidationException

__all__ = ["PaginationMethods", "check_bounds"]

_MAX_OFFSET = 2**63 - 1


def check_bounds(name: str, value: object, maximum: int) -> int:
    """Return ``value`` if it is an int from 1 to ``maximum``; else raise a 422.

    Raises:
        ValidationException: ``value`` is not an int (bools are not) or out of range.
    """
    if isinstance(value, bool) or not isinstance(value, int) or not 1 <= value <= maximum:
        raise ValidationException(
            f"{name} must be an integer from 1 to {maximum}, got {value!r}.",
            details={"field": name, "minimum": 1, "maximum": maximum},
        )
    return value


class PaginationMethods(RepositoryCore[ModelType]):
    """:meth:`paginate` of :class:`~tempest.db.repository.base.BaseRepository`."""

    async def paginate(
        self,
        filters: Mapping[str, Any] | None = None,
        order_by: str | None = None,
        page: int = 1,
        page_size: int = 20,
        ascending: bool = True,
        query: Select[Any] | None = None,
    ) -> dict[str, Any]:
        """Return one page of matching rows and the total.

        Args:
            filters: Filter dict.
            order_by: Column attribute name (``"-name"``: descending); None sorts by
                ``created_at``. ``id`` breaks ties.
            page: 1-based page number; past the last page gives no items.
            page_size: Rows per page, from 1 to :attr:`max_page_size`.
            ascending: Sort direction.
            query: A ``select(Model)`` to start from instead of the whole table (joins,
                options); the scope, filters and ordering are added to it.

        Returns:
            ``{"items", "total", "page", "page_size", "pages", "total_is_exact"}``;
            ``pages`` is 0 when nothing matches.

        Raises:
            ValidationException: A filter, ``order_by``, ``page`` or ``page_size`` is
                invalid.
        """
        page_size = check_bounds("page_size", page_size, self.max_page_size)
        page = check_bounds("page", page, _MAX_OFFSET // page_size + 1)
        ordering = resolve_ordering(self.model, order_by, ascending)
        base = self._select(filters, query)
        offset = (page - 1) * page_size
        paged = base.order_by(*ordering.clauses()).offset(offset).limit(page_size)
        items = list((await self.session.execute(paged)).unique().scalars().all())
        if 0 < len(items) < page_size or (page == 1 and not items):
            total, exact = offset + len(items), True  # the page shows where the rows end
        else:
            unfiltered = query is None and base.whereclause is None
            total, exact = await self._total(base, unfiltered)
        return {
            "items": items,
            "total": total,
            "page": page,
            "page_size": page_size,
            "pages": math.ceil(total / page_size),
            "total_is_exact": exact,
        }

    async def _total(self, query: Select[Any], unfiltered: bool) -> tuple[int, bool]:
        threshold = self.estimate_count_above
        if unfiltered and threshold > 0:
            estimate = await estimated_rows(self.session, self.table)
            if estimate is not None and estimate > threshold:
                return estimate, False
        return await exact_count(self.session, query), True
