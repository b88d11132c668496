"""Keyset (cursor) pagination: the query-string filter and the page wrapper."""

from __future__ import annotations

from typing import Any, ClassVar, Generic, TypeVar

from pydantic import Field

from tempest.schemas._bounds import apply_upper_bound
from tempest.schemas.base import BaseSchema
from tempest.schemas.cursor import MAX_CURSOR_LENGTH

__all__ = ["CursorPaginationFilterSchema", "CursorPaginationSchema"]

T = TypeVar("T")

_DEFAULT_MAX_LIMIT = 100


class CursorPaginationFilterSchema(BaseSchema):
    """Query-string parameters of a cursor-paginated list endpoint.

    Subclass it and add the domain filters as optional fields; use it as a FastAPI
    dependency like :class:`BasePaginationFilterSchema`. ``limit`` is capped by the class
    variable ``max_limit`` (100 by default): a larger value is a 422.

    Attributes:
        cursor: The ``next_cursor`` of the previous page; ``None`` for the first page.
        limit: Items per page, from 1 to ``max_limit``.
        order_by: Column to sort by; the repository rejects unknown columns.
        ascending: Sort direction.
    """

    max_limit: ClassVar[int] = _DEFAULT_MAX_LIMIT
    non_filter_fields: ClassVar[frozenset[str]] = frozenset(
        {"cursor", "limit", "order_by", "ascending"}
    )
    """Fields that :meth:`get_conditions` leaves out; extend it for non-column params."""

    cursor: str | None = Field(
        default=None,
        max_length=MAX_CURSOR_LENGTH,
        description="Opaque cursor from the previous page's next_cursor.",
    )
    limit: int = Field(default=20, ge=1, le=_DEFAULT_MAX_LIMIT, description="Items per page.")
    order_by: str | None = Field(default=None, description="Column to sort by.")
    ascending: bool = Field(default=True, description="Sort ascending (false: descending).")

    @classmethod
    def __pydantic_init_subclass__(cls, **kwargs: Any) -> None:
        """Apply the subclass's ``max_limit`` to ``limit``."""
        super().__pydantic_init_subclass__(**kwargs)
        apply_upper_bound(cls, "limit", "max_limit")

    def get_conditions(self) -> dict[str, Any]:
        """Return the domain filters for the repository.

        Returns:
            Every field except ``non_filter_fields`` (cursor, limit, order_by,
            ascending), without the ones left at ``None``.
        """
        return self.model_dump(exclude=set(self.non_filter_fields), exclude_none=True)


class CursorPaginationSchema(BaseSchema, Generic[T]):
    """One page of a cursor-paginated list; parametrise it with the item schema.

    Attributes:
        items: The records on this page.
        next_cursor: Pass it back as ``cursor`` for the next page; ``None`` at the end.
        has_more: Whether another page follows.
        limit: The requested page size.
    """

    items: list[T]
    next_cursor: str | None = None
    has_more: bool
    limit: int = Field(ge=1)
