"""``Authorization: Bearer <jwt>``: the token's claims, and the user it names.

Every failure is a 401 envelope with a ``WWW-Authenticate: Bearer`` header (RFC 6750):
``UNAUTHORIZED`` when the header is missing or is not a bearer token, ``INVALID_TOKEN``
or ``TOKEN_EXPIRED`` when the token does not verify. With ``soft=True`` the dependencies
return ``None`` instead, for routes that serve anonymous callers too.
"""

from __future__ import annotations

import inspect
from collections.abc import Awaitable, Callable
from typing import TYPE_CHECKING, Annotated, Any, Literal, TypeVar, overload

from fastapi import Security
from fastapi.security import HTTPAuthorizationCredentials, HTTPBearer

from tempest.exceptions import InvalidTokenException, UnauthorizedException

if TYPE_CHECKING:
    from tempest.utils.jwt import JWTUtils

__all__ = [
    "BearerCredentials",
    "UserLoader",
    "bearer_scheme",
    "make_bearer_token_dependency",
    "make_jwt_user_dependency",
]

UserT = TypeVar("UserT")

UserLoader = Callable[[str], Awaitable[UserT | None]]
"""``async def load_user(subject: str) -> User | None``: the user a token's subject names."""

bearer_scheme = HTTPBearer(
    bearerFormat="JWT",
    description="An access token: `Authorization: Bearer <token>`.",
    auto_error=False,
)
"""The OpenAPI security scheme every bearer dependency declares (shown in ``/docs``)."""

BearerCredentials = Annotated[HTTPAuthorizationCredentials | None, Security(bearer_scheme)]
"""A dependency parameter receiving the ``Authorization: Bearer`` credentials, if any."""

_CHALLENGE = {"WWW-Authenticate": "Bearer"}
_INVALID_TOKEN_CHALLENGE = {"WWW-Authenticate": 'Bearer error="invalid_token"'}


def check_tokens(tokens: JWTUtils) -> None:
    """Refuse, at construction, something that cannot decode tokens.

    Args:
        tokens: What was passed as ``tokens``.

    Raises:
        TypeError: ``tokens`` has no ``decode`` method.
    """
    if not callable(getattr(tokens, "decode", None)):
        raise TypeError(
            f"tokens must be a JWTUtils (or have its decode method), not {type(tokens).__name__}"
        )


def bearer_claims(
    tokens: JWTUtils, credentials: HTTPAuthorizationCredentials | None
) -> dict[str, Any]:
    """Decode the request's bearer token, raising the 401 a client can act on.

    Args:
        tokens: Verifies the token.
        credentials: What :data:`bearer_scheme` found in the ``Authorization`` header.

    Returns:
        The token's claims.

    Raises:
        UnauthorizedException: No bearer token was sent (``UNAUTHORIZED``), the token is
            invalid (``INVALID_TOKEN``) or expired (``TOKEN_EXPIRED``).
    """
    if credentials is None:
        raise UnauthorizedException(
            "Missing bearer token: send the header 'Authorization: Bearer <token>'",
            headers=_CHALLENGE,
        )
    try:
        return tokens.decode(credentials.credentials)
    except UnauthorizedException as exc:
        exc.headers.update(_INVALID_TOKEN_CHALLENGE)
        raise


@overload
def make_bearer_token_dependency(
    tokens: JWTUtils, soft: Literal[False] = False
) -> Callable[..., Awaitable[dict[str, Any]]]: ...


@overload
def make_bearer_token_dependency(
    tokens: JWTUtils, soft: Literal[True]
) -> Callable[..., Awaitable[dict[str, Any] | None]]: ...


@overload
def make_bearer_token_dependency(
    tokens: JWTUtils, soft: bool
) -> Callable[..., Awaitable[dict[str, Any] | None]]: ...


def make_bearer_token_dependency(
    tokens: JWTUtils, soft: bool = False
) -> Callable[..., Awaitable[dict[str, Any] | None]]:
    """Build a dependency that decodes ``Authorization: Bearer <jwt>`` into its claims.

    Only access tokens are accepted: a refresh token is an ``INVALID_TOKEN``.

    Example:
        >>> require_bearer = make_bearer_token_dependency(tokens)  # doctest: +SKIP
        >>> @router.get("/whoami")  # doctest: +SKIP
        ... async def whoami(claims: dict = Depends(require_bearer)) -> dict:
        ...     return {"sub": claims["sub"]}

    Args:
        tokens: The :class:`~tempest.utils.jwt.JWTUtils` that verifies the tokens.
        soft: Return ``None`` instead of raising when the token is missing or invalid.

    Returns:
        An async dependency returning the claims dict (or ``None`` when ``soft``).

    Raises:
        TypeError: ``tokens`` cannot decode tokens.
    """
    check_tokens(tokens)

    if soft:

        async def optional_bearer_claims(
            credentials: BearerCredentials,
        ) -> dict[str, Any] | None:
            if credentials is None:
                return None
            try:
                return tokens.decode(credentials.credentials)
            except UnauthorizedException:
                return None

        return optional_bearer_claims

    async def required_bearer_claims(
        credentials: BearerCredentials,
    ) -> dict[str, Any]:
        return bearer_claims(tokens, credentials)

    return required_bearer_claims


def _subject(claims: dict[str, Any], subject_claim: str) -> str | None:
    value = claims.get(subject_claim)
    if isinstance(value, str) and value:
        return value
    if isinstance(value, int) and not isinstance(value, bool):
        return str(value)
    return None


@overload
def make_jwt_user_dependency(
    tokens: JWTUtils,
    user_loader: UserLoader[UserT],
    soft: Literal[False] = False,
    subject_claim: str = "sub",
) -> Callable[..., Awaitable[UserT]]: ...


@overload
def make_jwt_user_dependency(
    tokens: JWTUtils,
    user_loader: UserLoader[UserT],
    soft: Literal[True],
    subject_claim: str = "sub",
) -> Callable[..., Awaitable[UserT | None]]: ...


@overload
def make_jwt_user_dependency(
    tokens: JWTUtils,
    user_loader: UserLoader[UserT],
    soft: bool,
    subject_claim: str = "sub",
) -> Callable[..., Awaitable[UserT | None]]: ...


def make_jwt_user_dependency(
    tokens: JWTUtils,
    user_loader: UserLoader[UserT],
    soft: bool = False,
    subject_claim: str = "sub",
) -> Callable[..., Awaitable[UserT | None]]:
    """Build a dependency that returns the user named by the bearer token.

    The token is verified, its ``subject_claim`` is read and ``await user_loader(subject)``
    loads the user. Whatever the loader raises reaches the client as its own envelope (a
    ``NotFoundException`` is a 404), in both modes. The loader may also return ``None``
    for "no such user": that is a 401 ``UNAUTHORIZED``, or ``None`` when ``soft``.

    Example:
        >>> async def load_user(subject: str) -> User | None:  # doctest: +SKIP
        ...     async with database.session() as session:
        ...         return await session.get(User, UUID(subject))
        >>> get_current_user = make_jwt_user_dependency(tokens, load_user)  # doctest: +SKIP

    Args:
        tokens: The :class:`~tempest.utils.jwt.JWTUtils` that verifies the tokens.
        user_loader: ``async (subject: str) -> user | None``.
        soft: Return ``None`` instead of raising when the token is missing or invalid,
            has no subject, or names no user.
        subject_claim: The claim holding the user's id (``"sub"``, ``"user_id"``, ...).
            A number is passed to the loader as a string.

    Returns:
        An async dependency returning the loaded user (or ``None`` when ``soft``).

    Raises:
        TypeError: ``tokens`` cannot decode tokens, or ``user_loader`` is not callable.
        ValueError: ``subject_claim`` is empty.
    """
    check_tokens(tokens)
    if not callable(user_loader):
        raise TypeError(
            "user_loader must be an async function taking the subject, "
            f"not {type(user_loader).__name__}"
        )
    if not isinstance(subject_claim, str) or not subject_claim:
        raise ValueError("subject_claim must name a claim, e.g. 'sub' or 'user_id'")

    async def load(subject: str) -> UserT | None:
        user = user_loader(subject)
        return await user if inspect.isawaitable(user) else user

    if soft:

        async def optional_current_user(
            credentials: BearerCredentials,
        ) -> UserT | None:
            if credentials is None:
                return None
            try:
                claims = tokens.decode(credentials.credentials)
            except UnauthorizedException:
                return None
            subject = _subject(claims, subject_claim)
            return None if subject is None else await load(subject)

        return optional_current_user

    async def current_user(
        credentials: BearerCredentials,
    ) -> UserT:
        subject = _subject(bearer_claims(tokens, credentials), subject_claim)
        if subject is None:
            raise InvalidTokenException(
                f"The token has no '{subject_claim}' claim", headers=_INVALID_TOKEN_CHALLENGE
            )
        user = await load(subject)
        if user is None:
            raise UnauthorizedException(
                "The token's user does not exist", headers=_INVALID_TOKEN_CHALLENGE
            )
        return user

    return current_user
