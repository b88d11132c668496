"""Offset pagination: the query-string filter and the page wrapper."""

from __future__ import annotations

from typing import Any, ClassVar, Generic, TypeVar

from pydantic import Field

from tempest.schemas._bounds import apply_upper_bound
from tempest.schemas.base import BaseSchema

__all__ = ["BasePaginationFilterSchema", "BasePaginationSchema"]

T = TypeVar("T")

_DEFAULT_MAX_PAGE_SIZE = 100


class BasePaginationFilterSchema(BaseSchema):
    """Query-string parameters of a paginated list endpoint.

    Subclass it and add the domain filters as optional fields; use it as a FastAPI
    dependency, either ``filters: MyFilter = Depends()`` or
    ``filters: Annotated[MyFilter, Query()]``. Out-of-range values are answered with
    422.

    ``page_size`` is capped by the class variable ``max_page_size`` (100 by default): a
    larger value is rejected with 422 (not silently clamped), and the cap shows in the
    OpenAPI schema as the parameter's ``maximum``. Raise or lower it per subclass::

        class AuditFilter(BasePaginationFilterSchema):
            max_page_size = 500
            actor_id: UUID | None = None

    Attributes:
        page: 1-based page number.
        page_size: Items per page, from 1 to ``max_page_size``.
        order_by: Column to sort by; the repository rejects unknown columns.
        ascending: Sort direction.
        is_active: Filter on the soft-delete flag; ``None`` means both.
    """

    max_page_size: ClassVar[int] = _DEFAULT_MAX_PAGE_SIZE
    non_filter_fields: ClassVar[frozenset[str]] = frozenset(
        {"page", "page_size", "order_by", "ascending"}
    )
    """Fields that :meth:`get_conditions` leaves out; extend it for non-column params."""

    page: int = Field(default=1, ge=1, description="1-based page number.")
    page_size: int = Field(
        default=20, ge=1, le=_DEFAULT_MAX_PAGE_SIZE, description="Items per page."
    )
    order_by: str | None = Field(default=None, description="Column to sort by.")
    ascending: bool = Field(default=True, description="Sort ascending (false: descending).")
    is_active: bool | None = Field(default=None, description="Filter on the active flag.")

    @classmethod
    def __pydantic_init_subclass__(cls, **kwargs: Any) -> None:
        """Apply the subclass's ``max_page_size`` to ``page_size``."""
        super().__pydantic_init_subclass__(**kwargs)
        apply_upper_bound(cls, "page_size", "max_page_size")

    def get_conditions(self) -> dict[str, Any]:
        """Return the domain filters for the repository.

        Returns:
            Every field except ``non_filter_fields`` (page, page_size, order_by,
            ascending), without the ones left at ``None``.
        """
        return self.model_dump(exclude=set(self.non_filter_fields), exclude_none=True)


class BasePaginationSchema(BaseSchema, Generic[T]):
    """One page of an offset-paginated list; parametrise it with the item schema.

    ``BasePaginationSchema[UserResponse]`` documents the concrete item type in OpenAPI.

    Attributes:
        items: The records on this page.
        total: Number of matching records (see ``total_is_exact``).
        page: This page's number, from 1.
        page_size: The requested page size.
        pages: Number of pages, 0 when nothing matches.
        total_is_exact: ``False`` when ``total`` (and so ``pages``) is an estimate,
            which the data layer may return for very large PostgreSQL tables.
    """

    items: list[T]
    total: int = Field(ge=0)
    page: int = Field(ge=1)
    page_size: int = Field(ge=1)
    pages: int = Field(ge=0)
    total_is_exact: bool = True
