"""From a provider's identity to a tempest user, and from the user to a session.

:func:`user_for_identity` finds the user linked to ``(provider, subject)``; on a first
sign-in it links the account whose email the provider has verified, or creates one
(``AUTH_OAUTH_CREATE_USERS``). An email the provider does not vouch for links and
creates nothing: anyone can type someone else's address at some providers, and linking
on it would hand them that account. :func:`finish_sign_in` then ends the sign-in the way
``POST /login`` does after the password check: an inactive account is refused, an
account with MFA gets the same ``mfa_token`` challenge, any other a token pair of the
service (session version, ``auth_time``, refresh-token family...).
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

from sqlalchemy import select
from sqlalchemy.exc import IntegrityError
from sqlalchemy.ext.asyncio import AsyncSession

from tempest.contrib.auth.base import normalize_email
from tempest.contrib.auth.oauth_models import BaseUserOAuthAccountModel
from tempest.db import atomic
from tempest.exceptions import ConflictException, ForbiddenException

if TYPE_CHECKING:
    from tempest.contrib.auth.base import BaseUserModel
    from tempest.contrib.auth.oauth_clients import OAuthIdentity
    from tempest.contrib.auth.schemas import MFAChallengeResponseSchema, TokenPairResponseSchema
    from tempest.contrib.auth.service import UserAuthService

__all__ = ["finish_sign_in", "oauth_account_model", "user_for_identity"]


def oauth_account_model(service: UserAuthService) -> type[BaseUserOAuthAccountModel]:
    """The installed provider-link model of the service's user model.

    Raises:
        ImproperlyConfigured: The project's user model has none (see
            :func:`~tempest.contrib.auth.oauth_models.make_user_oauth_account_model`).
    """
    cached = service._parts.get("oauth_account_model")
    if cached is None:
        model = service._find_model(BaseUserOAuthAccountModel, "make_user_oauth_account_model")
        cached = ((), model)
        service._parts["oauth_account_model"] = cached
    found: type[BaseUserOAuthAccountModel] = cached[1]
    return found


def _unverified(identity: OAuthIdentity) -> ForbiddenException:
    return ForbiddenException(
        f"{identity.provider} did not confirm that this email belongs to you; verify it "
        "there, or sign in with your password",
        code="OAUTH_EMAIL_UNVERIFIED",
        details={"provider": identity.provider},
    )


async def user_for_identity(
    service: UserAuthService,
    session: AsyncSession,
    identity: OAuthIdentity,
    *,
    create: bool | None = None,
) -> BaseUserModel:
    """The user ``identity`` signs in as; links or creates it on a first sign-in.

    Args:
        service: The auth service (its user model and settings).
        session: The request's session.
        identity: What the provider said.
        create: Whether a first sign-in without an account creates one; default
            ``AUTH_OAUTH_CREATE_USERS``.

    Returns:
        The user (not checked for ``is_active``: :func:`finish_sign_in` does).

    Raises:
        ForbiddenException: A first sign-in without an email the provider verified (403
            ``OAUTH_EMAIL_UNVERIFIED``), or no account and creating is off (403
            ``OAUTH_NO_ACCOUNT``).
        ConflictException: The same first sign-in ran concurrently (409; retry).
    """
    links = oauth_account_model(service)
    user_model = service.user_model
    linked = await session.scalar(
        select(user_model)
        .join(links, links.user_id == user_model.id)
        .where(links.provider == identity.provider, links.subject == identity.subject)
    )
    if linked is not None:
        return linked
    if not identity.email or not identity.email_verified:
        raise _unverified(identity)
    if create is None:
        create = bool(service._setting("AUTH_OAUTH_CREATE_USERS", True))
    try:
        async with atomic(session):
            user = await service.find_user(session, identity.email)
            if user is None:
                if not create:
                    raise ForbiddenException(
                        "No account uses this email: sign up first",
                        code="OAUTH_NO_ACCOUNT",
                        details={"provider": identity.provider},
                    )
                # No password: this user signs in with the provider (or sets one by reset).
                user = await service._users(session).insert(
                    user_model(email=identity.email, hashed_password="", is_active=True)
                )
            session.add(
                links(
                    user_id=user.id,
                    provider=identity.provider,
                    subject=identity.subject,
                    email=normalize_email(identity.email),
                )
            )
            await session.flush()
    except IntegrityError:
        raise ConflictException(
            "This account was being linked by another request: try again",
            code="OAUTH_LINK_CONFLICT",
        ) from None
    return user


async def finish_sign_in(
    service: UserAuthService, session: AsyncSession, user: BaseUserModel
) -> TokenPairResponseSchema | MFAChallengeResponseSchema:
    """End an OAuth sign-in as ``POST /login`` ends a password check.

    Args:
        service: The auth service.
        session: The request's session.
        user: The user from :func:`user_for_identity`.

    Returns:
        A token pair, or the MFA challenge for ``POST /mfa/verify``.

    Raises:
        ForbiddenException: The account is not active (403 ``ACCOUNT_INACTIVE``).
    """
    from tempest.contrib.auth.schemas import MFAChallengeResponseSchema
    from tempest.contrib.auth.sessions import _MFA_TOKEN_TTL, MFA_TOKEN_TYPE

    if not user.is_active:
        raise ForbiddenException(
            "This account is not active: follow the link in the activation email",
            code="ACCOUNT_INACTIVE",
        )
    if getattr(user, "mfa_enabled", False):
        claims: dict[str, Any] = {"sub": str(user.id)}
        mfa_token = service.tokens.encode(claims, ttl=_MFA_TOKEN_TTL, token_type=MFA_TOKEN_TYPE)
        return MFAChallengeResponseSchema(
            mfa_token=mfa_token, expires_in=int(_MFA_TOKEN_TTL.total_seconds())
        )
    return await service._sign_in(session, user)
