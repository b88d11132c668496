"""``BaseService``: the service layer's read and delete paths, mapped to response schemas."""

from __future__ import annotations

import builtins
import inspect
from collections.abc import Awaitable, Mapping
from typing import Any, Generic, Protocol, TypeVar, cast

__all__ = ["BaseService", "ServiceRepository"]

ResponseT = TypeVar("ResponseT")
ResponseT_co = TypeVar("ResponseT_co", covariant=True)


class ServiceRepository(Protocol[ResponseT_co]):
    """The repository methods :class:`BaseService` calls.

    :class:`tempest.db.BaseRepository` provides them; ``map_to_response`` is the one a
    repository subclass writes, and it may be sync or async. The service passes every
    argument (by keyword where there are several), so the repository's defaults do not
    matter, but ``filters`` may be ``None`` wherever it is optional on the service.
    """

    def get_by_id(self, id: Any, /) -> Awaitable[Any]:
        """Return the record with this primary key, raising its not-found error if none."""
        ...

    def get_or_none(self, filters: dict[str, Any], /) -> Awaitable[Any | None]:
        """Return the one record matching ``filters``, or ``None``."""
        ...

    def list(
        self,
        *,
        filters: dict[str, Any] | None,
        order_by: Any | None,
        ascending: bool,
    ) -> Awaitable[builtins.list[Any]]:
        """Return every record matching ``filters``."""
        ...

    def paginate(
        self,
        *,
        filters: dict[str, Any] | None,
        order_by: Any | None,
        page: int,
        page_size: int,
        ascending: bool,
    ) -> Awaitable[Mapping[str, Any]]:
        """Return ``{items, total, page, page_size, pages[, total_is_exact]}``."""
        ...

    def cursor_paginate(
        self,
        *,
        filters: dict[str, Any] | None,
        order_by: Any | None,
        cursor: str | None,
        limit: int,
        ascending: bool,
    ) -> Awaitable[Mapping[str, Any]]:
        """Return ``{items, next_cursor, has_more, limit}``."""
        ...

    def count(self, filters: dict[str, Any] | None, /) -> Awaitable[int]:
        """Return the number of records matching ``filters``."""
        ...

    def exists(self, filters: dict[str, Any], /) -> Awaitable[bool]:
        """Return whether a record matches ``filters``."""
        ...

    def delete(self, id: Any, /) -> Awaitable[Any]:
        """Delete the record with this primary key, raising its not-found error if none."""
        ...

    def map_to_response(self, instance: Any, /) -> ResponseT_co | Awaitable[ResponseT_co]:
        """Turn a record into its response schema."""
        ...


RepositoryT = TypeVar("RepositoryT", bound=ServiceRepository[Any])


class BaseService(Generic[RepositoryT, ResponseT]):
    """Base class of a service: business rules over one repository.

    The inherited methods pass through to the repository and map each record with
    ``repository.map_to_response``, awaiting it when it is async. Override one to add a
    rule (keeping its signature, so the controller does not notice); add methods for
    the use cases the base does not cover::

        class UserService(BaseService[UserRepository, UserResponse]):
            async def signup(self, data: UserCreate) -> UserResponse:
                ...

    Attributes:
        repository: The repository the service reads and writes through.
    """

    def __init__(self, repository: RepositoryT) -> None:
        """Build the service.

        Args:
            repository: The repository to work through.
        """
        self.repository: RepositoryT = repository

    async def to_response(self, instance: Any) -> ResponseT:
        """Map one record with the repository's ``map_to_response`` (sync or async).

        Args:
            instance: A record the repository returned.

        Returns:
            The response schema.
        """
        response = self.repository.map_to_response(instance)
        if inspect.isawaitable(response):
            response = await response
        return cast(ResponseT, response)

    async def to_responses(self, instances: builtins.list[Any]) -> builtins.list[ResponseT]:
        """Map records in order with :meth:`to_response`.

        Args:
            instances: Records the repository returned.

        Returns:
            The response schemas, in the same order.
        """
        return [await self.to_response(instance) for instance in instances]

    async def get_by_id(self, id: Any) -> ResponseT:
        """Return the record with this primary key.

        Args:
            id: The primary key.

        Returns:
            The mapped record.

        Raises:
            NotFoundException: No such record (the repository's not-found error).
        """
        return await self.to_response(await self.repository.get_by_id(id))

    async def get_or_none(self, filters: dict[str, Any]) -> ResponseT | None:
        """Return the record matching ``filters``, or ``None``.

        Args:
            filters: Filter dict in the repository's conventions.

        Returns:
            The mapped record, or ``None`` when nothing matches.
        """
        instance = await self.repository.get_or_none(filters)
        return None if instance is None else await self.to_response(instance)

    async def list(
        self,
        filters: dict[str, Any] | None = None,
        order_by: Any | None = None,
        ascending: bool = True,
    ) -> builtins.list[ResponseT]:
        """Return every record matching ``filters``; ``[]`` when none does.

        Args:
            filters: Filter dict in the repository's conventions.
            order_by: Column to sort by.
            ascending: Sort direction.

        Returns:
            The mapped records.
        """
        instances = await self.repository.list(
            filters=filters, order_by=order_by, ascending=ascending
        )
        return await self.to_responses(instances)

    async def paginate(
        self,
        filters: dict[str, Any] | None = None,
        order_by: Any | None = None,
        page: int = 1,
        page_size: int = 20,
        ascending: bool = True,
    ) -> dict[str, Any]:
        """Return one page of records, ready for ``BasePaginationSchema[ResponseT]``.

        Args:
            filters: Filter dict in the repository's conventions.
            order_by: Column to sort by.
            page: 1-based page number.
            page_size: Items per page.
            ascending: Sort direction.

        Returns:
            The repository's page dict (``total``, ``page``, ``page_size``, ``pages``,
            ``total_is_exact`` -- ``True`` unless the repository says otherwise -- and
            anything else it holds) with ``items`` mapped.

        Raises:
            TypeError: The repository's result has no ``items`` list.
        """
        result = await self.repository.paginate(
            filters=filters,
            order_by=order_by,
            page=page,
            page_size=page_size,
            ascending=ascending,
        )
        page_data = await self._map_items(result, "paginate")
        page_data.setdefault("total_is_exact", True)
        return page_data

    async def cursor_paginate(
        self,
        filters: dict[str, Any] | None = None,
        order_by: Any | None = None,
        cursor: str | None = None,
        limit: int = 20,
        ascending: bool = True,
    ) -> dict[str, Any]:
        """Return one keyset page of records, ready for ``CursorPaginationSchema``.

        Args:
            filters: Filter dict in the repository's conventions.
            order_by: Column to sort by.
            cursor: The previous page's ``next_cursor``; ``None`` for the first page.
            limit: Items per page.
            ascending: Sort direction.

        Returns:
            The repository's page dict (``next_cursor``, ``has_more``, ``limit``) with
            ``items`` mapped.

        Raises:
            ValidationException: The cursor is invalid (code ``INVALID_CURSOR``).
            TypeError: The repository's result has no ``items`` list.
        """
        result = await self.repository.cursor_paginate(
            filters=filters,
            order_by=order_by,
            cursor=cursor,
            limit=limit,
            ascending=ascending,
        )
        return await self._map_items(result, "cursor_paginate")

    async def count(self, filters: dict[str, Any] | None = None) -> int:
        """Return the number of records matching ``filters``.

        Args:
            filters: Filter dict in the repository's conventions; ``None`` counts all.

        Returns:
            The count.
        """
        return await self.repository.count(filters)

    async def exists(self, filters: dict[str, Any]) -> bool:
        """Return whether any record matches ``filters``.

        Args:
            filters: Filter dict in the repository's conventions.

        Returns:
            ``True`` when at least one record matches.
        """
        return await self.repository.exists(filters)

    async def delete(self, id: Any) -> None:
        """Hard-delete the record with this primary key.

        Args:
            id: The primary key.

        Raises:
            NotFoundException: No such record (the repository's not-found error).
        """
        await self.repository.delete(id)

    async def _map_items(self, result: Mapping[str, Any], method: str) -> dict[str, Any]:
        items = result.get("items") if isinstance(result, Mapping) else None
        if not isinstance(items, builtins.list):
            raise TypeError(
                f"{type(self.repository).__name__}.{method}() must return a mapping with "
                f"an 'items' list, got {type(result).__name__}"
            )
        return {**result, "items": await self.to_responses(items)}
