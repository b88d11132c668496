"""Gate a route on the roles or permissions a bearer token carries.

A missing or invalid token is a 401 (see :mod:`tempest.api.dependencies.bearer`); a valid
token without what the route needs is a 403 ``FORBIDDEN`` envelope whose ``details`` say
what was required.
"""

from __future__ import annotations

from collections.abc import Awaitable, Callable, Iterable
from typing import TYPE_CHECKING, Any

from tempest.api.dependencies.bearer import BearerCredentials, bearer_claims, check_tokens
from tempest.exceptions import ForbiddenException

if TYPE_CHECKING:
    from tempest.utils.jwt import JWTUtils

__all__ = ["make_permission_dependency", "make_role_dependency"]


def _required(values: str | Iterable[str], kind: str) -> tuple[str, ...]:
    if not isinstance(values, str | Iterable):
        raise TypeError(
            f"{kind}s must be a string or a list of strings, not {type(values).__name__}"
        )
    items = (values,) if isinstance(values, str) else tuple(values)
    if not items:
        raise ValueError(f"{kind}s must name at least one {kind}, e.g. ['admin']")
    for item in items:
        if not isinstance(item, str) or not item:
            raise ValueError(f"every {kind} must be a non-empty string, got {item!r}")
    return tuple(dict.fromkeys(items))


def _granted(claims: dict[str, Any], claim: str) -> frozenset[str]:
    """The claim as a set: one string, or a list of strings (anything else grants nothing)."""
    value = claims.get(claim)
    if isinstance(value, str):
        return frozenset({value})
    if isinstance(value, list | tuple):
        return frozenset(item for item in value if isinstance(item, str))
    return frozenset()


def _make_grant_dependency(
    tokens: JWTUtils,
    required: tuple[str, ...],
    require_all: bool,
    claim: str,
    kind: str,
) -> Callable[..., Awaitable[dict[str, Any]]]:
    check_tokens(tokens)
    if not isinstance(claim, str) or not claim:
        raise ValueError(f"{kind}s_claim must name a claim, e.g. '{kind}s'")
    needed = frozenset(required)
    quoted = ", ".join(f"'{item}'" for item in required)
    if len(required) == 1:
        message = f"This action requires the {kind} {quoted}"
        variant = kind
    else:
        quantity = "all" if require_all else "one"
        message = f"This action requires {quantity} of the {kind}s {quoted}"
        variant = f"{kind}s_{quantity}"
    # The catalog's FORBIDDEN:role, FORBIDDEN:roles_all, ... messages in other languages.
    message_key = f"FORBIDDEN:{variant}"
    message_params = {"names": quoted}
    details = {f"required_{kind}s": list(required), "require_all": require_all}

    async def require_grant(
        credentials: BearerCredentials,
    ) -> dict[str, Any]:
        claims = bearer_claims(tokens, credentials)
        granted = _granted(claims, claim)
        allowed = needed <= granted if require_all else not needed.isdisjoint(granted)
        if not allowed:
            raise ForbiddenException(
                message, details=details, message_key=message_key, message_params=message_params
            )
        return claims

    return require_grant


def make_role_dependency(
    tokens: JWTUtils,
    roles: str | Iterable[str],
    require_all: bool = False,
    roles_claim: str = "roles",
) -> Callable[..., Awaitable[dict[str, Any]]]:
    """Build a dependency that lets through only tokens carrying the given roles.

    The token's ``roles_claim`` may hold one role as a string or a list of roles.

    Example:
        >>> require_admin = make_role_dependency(tokens, ["admin"])  # doctest: +SKIP
        >>> @router.delete("/{user_id}", dependencies=[Depends(require_admin)])  # doctest: +SKIP
        ... async def delete_user(user_id: UUID) -> None: ...

    Args:
        tokens: The :class:`~tempest.utils.jwt.JWTUtils` that verifies the tokens.
        roles: One role or several.
        require_all: Require every role; by default any one of them is enough.
        roles_claim: The claim holding the token's roles.

    Returns:
        An async dependency returning the token's claims. It raises a 401 when the token
        is missing or invalid and ``ForbiddenException`` (403) when the roles do not match.

    Raises:
        ValueError: ``roles`` is empty or holds an empty name, or ``roles_claim`` is empty.
        TypeError: ``tokens`` cannot decode tokens.
    """
    return _make_grant_dependency(
        tokens, _required(roles, "role"), require_all, roles_claim, "role"
    )


def make_permission_dependency(
    tokens: JWTUtils,
    permissions: str | Iterable[str],
    require_all: bool = True,
    permissions_claim: str = "permissions",
) -> Callable[..., Awaitable[dict[str, Any]]]:
    """Build a dependency that lets through only tokens carrying the given permissions.

    The token's ``permissions_claim`` may hold one permission as a string or a list.

    Example:
        >>> can_write = make_permission_dependency(tokens, ["users:write"])  # doctest: +SKIP

    Args:
        tokens: The :class:`~tempest.utils.jwt.JWTUtils` that verifies the tokens.
        permissions: One permission or several.
        require_all: Require every permission (the default); ``False`` accepts any one.
        permissions_claim: The claim holding the token's permissions.

    Returns:
        An async dependency returning the token's claims. It raises a 401 when the token
        is missing or invalid and ``ForbiddenException`` (403) when permissions are missing.

    Raises:
        ValueError: ``permissions`` is empty or holds an empty name, or
            ``permissions_claim`` is empty.
        TypeError: ``tokens`` cannot decode tokens.
    """
    return _make_grant_dependency(
        tokens, _required(permissions, "permission"), require_all, permissions_claim, "permission"
    )
