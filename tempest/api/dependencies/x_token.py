"""The ``X-Token`` shared-secret header: internal tools, log readers, service-to-service."""

from __future__ import annotations

import hmac
from collections.abc import Awaitable, Callable
from typing import Annotated

from fastapi import Security
from fastapi.security import APIKeyHeader

from tempest.exceptions import ImproperlyConfigured, InvalidTokenException, UnauthorizedException

__all__ = ["X_TOKEN_HEADER", "make_token_dependency", "require_x_token"]

X_TOKEN_HEADER = "X-Token"

_x_token_header = APIKeyHeader(
    name=X_TOKEN_HEADER,
    scheme_name="XToken",
    description="The project's shared secret (settings.TOKEN_SECRET).",
    auto_error=False,
)


XTokenHeader = Annotated[str | None, Security(_x_token_header)]


def _check(sent: str | None, secret: str) -> None:
    if not sent:
        raise UnauthorizedException(f"Missing {X_TOKEN_HEADER} header")
    # Bytes, not str: compare_digest refuses non-ASCII strings, and header values may have any.
    if not hmac.compare_digest(sent.encode("utf-8"), secret.encode("utf-8")):
        raise InvalidTokenException(f"Invalid {X_TOKEN_HEADER} header")


async def _no_check() -> None:
    return None


def make_token_dependency(secret: str) -> Callable[..., Awaitable[None]]:
    """Build a dependency that requires the ``X-Token`` header to equal ``secret``.

    The comparison takes the same time whatever the header holds. An empty ``secret``
    turns the check off (for local development): the dependency then accepts every
    request and does not show the header in the OpenAPI schema.

    Example:
        >>> require_token = make_token_dependency(settings.TOKEN_SECRET)  # doctest: +SKIP
        >>> app.include_router(router, dependencies=[Depends(require_token)])  # doctest: +SKIP

    Args:
        secret: The shared secret, usually ``settings.TOKEN_SECRET``.

    Returns:
        An async dependency. It raises ``UnauthorizedException`` (401, ``UNAUTHORIZED``)
        when the header is missing and ``InvalidTokenException`` (401, ``INVALID_TOKEN``)
        when it is wrong.

    Raises:
        TypeError: ``secret`` is not a string.
    """
    if not isinstance(secret, str):
        raise TypeError(
            f"secret must be a string (settings.TOKEN_SECRET), not {type(secret).__name__}"
        )
    if not secret:
        return _no_check

    async def require_token(x_token: XTokenHeader) -> None:
        _check(x_token, secret)

    return require_token


async def require_x_token(x_token: XTokenHeader) -> None:
    """Require the ``X-Token`` header to equal the project's ``settings.TOKEN_SECRET``.

    The ready-made form of :func:`make_token_dependency` for a tempest project: the secret
    is read from the settings on each request, so ``override_settings(TOKEN_SECRET=...)``
    applies, and an empty ``TOKEN_SECRET`` turns the check off.

    Example:
        >>> guarded = [Depends(require_x_token)]  # doctest: +SKIP
        >>> @router.get("/internal/stats", dependencies=guarded)  # doctest: +SKIP
        ... async def stats() -> dict[str, int]: ...

    Args:
        x_token: The header's value, supplied by FastAPI.

    Raises:
        UnauthorizedException: The header is missing (401, ``UNAUTHORIZED``).
        InvalidTokenException: The header is wrong (401, ``INVALID_TOKEN``).
        ImproperlyConfigured: The project's settings have no ``TOKEN_SECRET``.
    """
    from tempest.conf import settings

    try:
        secret = settings.TOKEN_SECRET
    except AttributeError:
        raise ImproperlyConfigured(
            "require_x_token reads settings.TOKEN_SECRET, which the project's settings do "
            "not have: add tempest.conf.TokenSettings to the Settings class"
        ) from None
    if secret:
        _check(x_token, secret)
