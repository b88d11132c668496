"""``BaseController``: the thin orchestration layer between routers and services."""

from __future__ import annotations

import builtins
from typing import Any, Generic, TypeVar, cast

from tempest.services import BaseService

__all__ = ["BaseController"]

ServiceT = TypeVar("ServiceT", bound=BaseService[Any, Any])
ResponseT = TypeVar("ResponseT")


class BaseController(Generic[ServiceT, ResponseT]):
    """Base class of a controller: forwards to its service until a use case needs more.

    Routers depend on controllers only, so when a use case grows to coordinate several
    services (an email, a queued task), the controller method grows and the router does
    not change::

        class UserController(BaseController[UserService, UserResponse]):
            async def signup(self, data: UserCreate) -> UserResponse:
                user = await self.service.signup(data)
                await self.emails.send_welcome(user)
                return user

    Attributes:
        service: The service the controller forwards to.
    """

    def __init__(self, service: ServiceT) -> None:
        """Build the controller.

        Args:
            service: The service to forward to.
        """
        self.service: ServiceT = service

    async def get_by_id(self, id: Any) -> ResponseT:
        """Forward to ``service.get_by_id``; raises its not-found error on a miss."""
        return cast(ResponseT, await self.service.get_by_id(id))

    async def list(
        self,
        filters: dict[str, Any] | None = None,
        order_by: Any | None = None,
        ascending: bool = True,
    ) -> builtins.list[ResponseT]:
        """Forward to ``service.list``."""
        return cast(
            builtins.list[ResponseT],
            await self.service.list(filters=filters, order_by=order_by, ascending=ascending),
        )

    async def paginate(
        self,
        filters: dict[str, Any] | None = None,
        order_by: Any | None = None,
        page: int = 1,
        page_size: int = 20,
        ascending: bool = True,
    ) -> dict[str, Any]:
        """Forward to ``service.paginate``."""
        return await self.service.paginate(
            filters=filters,
            order_by=order_by,
            page=page,
            page_size=page_size,
            ascending=ascending,
        )

    async def cursor_paginate(
        self,
        filters: dict[str, Any] | None = None,
        order_by: Any | None = None,
        cursor: str | None = None,
        limit: int = 20,
        ascending: bool = True,
    ) -> dict[str, Any]:
        """Forward to ``service.cursor_paginate``."""
        return await self.service.cursor_paginate(
            filters=filters,
            order_by=order_by,
            cursor=cursor,
            limit=limit,
            ascending=ascending,
        )

    async def count(self, filters: dict[str, Any] | None = None) -> int:
        """Forward to ``service.count``."""
        return await self.service.count(filters)

    async def delete(self, id: Any) -> None:
        """Forward to ``service.delete``; raises its not-found error on a miss."""
        await self.service.delete(id)
