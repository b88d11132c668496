"""``require_admin``: a route dependency letting only administrators (``is_admin``) through.

The operational routers (``make_logs_router``) use it by default.
"""

from __future__ import annotations

from collections.abc import Awaitable, Callable
from functools import cache
from typing import TYPE_CHECKING, Any

from fastapi import Depends
from sqlalchemy.ext.asyncio import AsyncSession

from tempest.api.dependencies.bearer import BearerCredentials
from tempest.db import get_session
from tempest.exceptions import ForbiddenException

if TYPE_CHECKING:
    from tempest.contrib.auth.base import BaseUserModel
    from tempest.contrib.auth.service import UserAuthService

__all__ = ["make_admin_dependency", "require_admin"]

_NOT_ADMIN = "This action requires an administrator"


def make_admin_dependency(
    service: UserAuthService | None = None,
) -> Callable[..., Awaitable[BaseUserModel]]:
    """A dependency giving the request's user when it is an active administrator.

    The user comes from the bearer access token, as for every auth route: no or a bad
    token is a 401, a signed-in user without ``is_admin`` a 403 ``FORBIDDEN``.

    Args:
        service: The auth service checking the token; default ``UserAuthService()``.

    Returns:
        The dependency.
    """
    if service is None:
        from tempest.contrib.auth.service import UserAuthService

        service = UserAuthService()
    current_user = service.current_user_dependency()

    async def admin_user(user: Any = Depends(current_user)) -> BaseUserModel:
        if not getattr(user, "is_admin", False):
            raise ForbiddenException(_NOT_ADMIN)
        found: BaseUserModel = user
        return found

    return admin_user


@cache
def _current_user() -> Callable[..., Awaitable[Any]]:
    from tempest.contrib.auth.service import UserAuthService

    return UserAuthService().current_user_dependency()


async def require_admin(
    credentials: BearerCredentials, session: AsyncSession = Depends(get_session)
) -> BaseUserModel:
    """The request's user when it is an active administrator: 401 without, 403 if not admin.

    The project's ``UserAuthService`` (built from the settings on first use) checks the
    bearer access token; use :func:`make_admin_dependency` for another service.
    """
    user = await _current_user()(credentials, session)
    if not getattr(user, "is_admin", False):
        raise ForbiddenException(_NOT_ADMIN)
    found: BaseUserModel = user
    return found
