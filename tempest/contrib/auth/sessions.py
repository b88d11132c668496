"""Signing in and the sessions it opens: tokens, refresh, sign-out, re-authentication.

:class:`SessionMethods` checks credentials under the sign-in throttle, issues token
pairs (a signed access token and an opaque refresh token stored as a peppered digest),
rotates refresh tokens on every use (a reused one revokes its whole family), signs out
one session or all of them, asks for the password again before sensitive changes
(:meth:`SessionMethods.require_recent_auth`), and gives the ``current_user`` dependency.
"""

from __future__ import annotations

import uuid
from collections.abc import Awaitable, Callable
from datetime import timedelta
from typing import Any

from fastapi import Depends
from sqlalchemy.ext.asyncio import AsyncSession

from tempest.api.dependencies.bearer import BearerCredentials, bearer_claims
from tempest.contrib.auth.base import BaseUserModel
from tempest.contrib.auth.core import (
    AUTH_TIME_CLAIM,
    SESSION_VERSION_CLAIM,
    AuthServiceCore,
    fail_closed,
    too_many,
)
from tempest.contrib.auth.schemas import MFAChallengeResponseSchema, TokenPairResponseSchema
from tempest.db import atomic, get_session
from tempest.exceptions import (
    ExpiredTokenException,
    ForbiddenException,
    InvalidTokenException,
    UnauthorizedException,
)
from tempest.utils import utcnow
from tempest.utils.context import set_actor
from tempest.utils.opaque_tokens import generate_opaque_token

__all__ = ["MFA_TOKEN_TYPE", "SessionMethods"]

MFA_TOKEN_TYPE = "mfa"
"""The ``type`` of the short-lived token a login gives when the account needs MFA."""
_MFA_TOKEN_TTL = timedelta(minutes=5)


def _invalid_credentials() -> UnauthorizedException:
    return UnauthorizedException("Invalid email or password", code="INVALID_CREDENTIALS")


class SessionMethods(AuthServiceCore):
    """Login, refresh, logout, re-authentication and the current-user dependency."""

    # -- login, refresh, logout --------------------------------------------------------------

    async def login(
        self, session: AsyncSession, email: str, password: str, *, client_ip: str | None = None
    ) -> TokenPairResponseSchema | MFAChallengeResponseSchema:
        """Check the credentials; give a token pair, or an MFA challenge when MFA is on.

        Unknown emails and wrong passwords are answered alike, in about the same time. The
        attempt is counted (per account, and per client when ``client_ip`` is given)
        before the password is checked, so concurrent guesses cannot outrun the lockout.

        Args:
            session: The request's session.
            email: The account's email.
            password: Its password.
            client_ip: The client's address (:meth:`client_ip`), for the per-client limit.

        Returns:
            A token pair, or ``{mfa_required, mfa_token}`` for ``POST /mfa/verify``.

        Raises:
            UnauthorizedException: Unknown email or wrong password (401
                ``INVALID_CREDENTIALS``).
            ForbiddenException: Right password, but the account is not active (403).
            TooManyRequestsException: Too many attempts for the account or from the client;
                retry after ``retry_after`` (429).
            AppException: The throttle's store is unreachable (503
                ``THROTTLE_UNAVAILABLE``): sign-in fails closed.
        """
        throttle = self.sign_in_throttle
        with fail_closed():
            attempt = await throttle.begin(email, client_ip)
        if not attempt.allowed:
            raise too_many(attempt.retry_after_seconds)
        user = await self.find_user(session, email)
        if user is None or not user.hashed_password:
            await self._verify_password(password, self._dummy_hash)
            user = None
        elif not await self._verify_password(password, user.hashed_password):
            user = None
        if user is None:
            if attempt.last:  # that was the account's last attempt of the window
                raise too_many(attempt.retry_after_seconds)
            raise _invalid_credentials()
        if not user.is_active:
            raise ForbiddenException(
                "This account is not active: follow the link in the activation email",
                code="ACCOUNT_INACTIVE",
            )
        with fail_closed():
            await throttle.succeeded(attempt)
        if getattr(user, "mfa_enabled", False):
            mfa_token = self.tokens.encode(
                {"sub": str(user.id)}, ttl=_MFA_TOKEN_TTL, token_type=MFA_TOKEN_TYPE
            )
            return MFAChallengeResponseSchema(
                mfa_token=mfa_token, expires_in=int(_MFA_TOKEN_TTL.total_seconds())
            )
        return await self._sign_in(session, user)

    async def refresh(self, session: AsyncSession, refresh_token: str) -> TokenPairResponseSchema:
        """Exchange a refresh token for a new pair; the presented token is used up.

        A refresh token presented a second time (after rotation or logout) means it leaked:
        its whole family is revoked, so the thief's and the user's tokens both stop working.

        Args:
            session: The request's session.
            refresh_token: The refresh token of the last pair.

        Returns:
            A new token pair of the same family.

        Raises:
            InvalidTokenException: Unknown, used or revoked token (401).
            ExpiredTokenException: The token expired (401).
        """
        tokens = self._refresh_tokens(session)
        row = await self._find_digest(tokens.find, refresh_token)
        if row is None:
            raise InvalidTokenException()
        if row.used_at is not None or row.revoked_at is not None:
            await self._revoke_family(session, row.family_id)
            raise InvalidTokenException()
        if row.is_expired:
            raise ExpiredTokenException()
        async with atomic(session):
            # Conditional, so that two concurrent refreshes cannot both rotate the token.
            reused = not await tokens.claim(row.id)
            user = None if reused else await self._active_user(session, row.user_id)  # type: ignore[attr-defined]
            # A token issued before the user signed out everywhere (or changed password).
            ended = user is not None and row.session_version != user.session_version
            if user is not None and not ended:
                return await self._sign_in(session, user, family_id=row.family_id)
        if reused or ended:
            await self._revoke_family(session, row.family_id)
        raise InvalidTokenException()

    async def logout(self, session: AsyncSession, refresh_token: str) -> None:
        """Revoke a refresh token and the rest of its family (the whole session).

        Args:
            session: The request's session.
            refresh_token: The session's current refresh token.

        Raises:
            InvalidTokenException: No such refresh token (401).
        """
        row = await self._find_digest(self._refresh_tokens(session).find, refresh_token)
        if row is None:
            raise InvalidTokenException()
        await self._revoke_family(session, row.family_id)

    async def _revoke_family(self, session: AsyncSession, family_id: uuid.UUID) -> None:
        async with atomic(session):
            await self._refresh_tokens(session).revoke_family(family_id)

    async def revoke_all_refresh_tokens(self, session: AsyncSession, user: BaseUserModel) -> None:
        """Sign a user out everywhere: revoke every refresh token they hold.

        Args:
            session: The request's session.
            user: The user.
        """
        async with atomic(session):
            await self._refresh_tokens(session).revoke_all(user.id)

    async def logout_all(self, session: AsyncSession, user: BaseUserModel) -> None:
        """Sign a user out everywhere: every access token, refresh token and admin session.

        Raises the user's ``session_version`` (see
        :meth:`~tempest.contrib.auth.base.BaseUserModel.end_sessions`) and revokes the
        refresh tokens' rows. Access tokens are refused from the next request on where
        ``AUTH_REVOKE_ACCESS_TOKENS`` is on (the default); otherwise they live out
        ``JWT_ACCESS_TTL_SECONDS``.

        Args:
            session: The request's session.
            user: The user.
        """
        async with atomic(session):
            user.end_sessions()
            await self.revoke_all_refresh_tokens(session, user)

    async def _sign_in(
        self, session: AsyncSession, user: BaseUserModel, *, family_id: uuid.UUID | None = None
    ) -> TokenPairResponseSchema:
        version = user.session_version
        claims: dict[str, Any] = {"sub": str(user.id), SESSION_VERSION_CLAIM: version}
        if family_id is None:  # a sign-in, not a refresh: the user just proved who they are
            claims[AUTH_TIME_CLAIM] = int(utcnow().timestamp())
        access_token = self.tokens.encode(claims, ttl=self.access_ttl, token_type="access")
        refresh_token = generate_opaque_token()
        async with atomic(session):
            if family_id is None:
                user.last_login_at = utcnow()
            await self._refresh_tokens(session).issue(
                user.id,
                self._digest(refresh_token),
                family_id or uuid.uuid4(),
                utcnow() + self.refresh_ttl,
                version,
            )
        return TokenPairResponseSchema(
            access_token=access_token,
            refresh_token=refresh_token,
            expires_in=int(self.access_ttl.total_seconds()),
        )

    # -- re-authentication before sensitive changes --------------------------------------------

    def recently_signed_in(self, claims: dict[str, Any] | None) -> bool:
        """Whether an access token comes from a sign-in newer than ``AUTH_REAUTH_SECONDS``.

        Args:
            claims: The access token's claims; None is never recent.
        """
        window = int(self._setting("AUTH_REAUTH_SECONDS", 300))
        auth_time = (claims or {}).get(AUTH_TIME_CLAIM)
        if window <= 0 or type(auth_time) is not int:
            return False
        return 0 <= utcnow().timestamp() - auth_time <= window

    async def require_recent_auth(
        self,
        user: BaseUserModel,
        claims: dict[str, Any] | None,
        password: str | None,
        *,
        client_ip: str | None = None,
    ) -> None:
        """Let a sensitive change through only after a recent sign-in or with the password.

        MFA enrolment and disabling, email change and password change call it, so that a
        stolen access token alone cannot take the account over. A password, when given,
        is always checked; a wrong one counts against the login throttle of the account's
        email, as a failed login does.

        Args:
            user: The signed-in user.
            claims: The claims of the request's access token.
            password: The password the request carries, or None.
            client_ip: The client's address, for the per-client limit of sign-ins.

        Raises:
            ForbiddenException: No password and no recent sign-in (403
                ``REAUTHENTICATION_REQUIRED``), or a wrong password (403 ``WRONG_PASSWORD``).
            TooManyRequestsException: Too many wrong passwords or failed logins (429).
            AppException: The throttle's store is unreachable (503): fails closed.
        """
        if password is None:
            if self.recently_signed_in(claims):
                return
            raise ForbiddenException(
                "Confirm it is you: send your current password, or sign in again (a sign-in "
                "counts for AUTH_REAUTH_SECONDS)",
                code="REAUTHENTICATION_REQUIRED",
            )
        # The login's own throttle and account key: guesses here and at /login add up.
        throttle = self.sign_in_throttle
        with fail_closed():
            attempt = await throttle.begin(user.email, client_ip)
        if not attempt.allowed:
            raise too_many(attempt.retry_after_seconds)
        if not user.hashed_password or not await self._verify_password(
            password, user.hashed_password
        ):
            if attempt.last:  # that was the account's last attempt of the window
                raise too_many(attempt.retry_after_seconds)
            raise ForbiddenException("The password is wrong", code="WRONG_PASSWORD")
        with fail_closed():
            await throttle.succeeded(attempt)

    # -- dependencies ------------------------------------------------------------------------

    def current_user_dependency(
        self,
        soft: bool = False,
        *,
        session_dependency: Callable[..., Awaitable[AsyncSession] | AsyncSession] = get_session,
    ) -> Callable[..., Awaitable[BaseUserModel | None]]:
        """A FastAPI dependency giving the user of the request's bearer access token.

        The user is loaded on the request's session, so a route can change it and save it
        with the repositories it uses. With ``AUTH_REVOKE_ACCESS_TOKENS`` on (the default)
        the token's ``sv`` claim must equal the user's ``session_version``, so a token
        issued before a password change, a deactivation or ``POST /logout/all`` is
        refused; this costs nothing, as the user row is loaded anyway. A dependency that
        only reads the token's claims (``make_bearer_token_dependency``) loads no user and
        cannot check it.

        Args:
            soft: Return None instead of answering 401 when the token is missing, invalid
                or names no active user.
            session_dependency: The dependency giving the request's session; keep the
                default unless your repositories depend on another one.

        Returns:
            The dependency; without ``soft`` it never returns None.
        """
        service = self

        async def current_user(
            credentials: BearerCredentials,
            session: AsyncSession = Depends(session_dependency),
        ) -> BaseUserModel | None:
            if soft:
                if credentials is None:
                    return None
                claims = service.tokens.decode_or_none(credentials.credentials)
                if claims is None:
                    return None
                found = await service._active_user(session, claims.get("sub"))
                if found is None or not service._current(claims, found):
                    return None
                set_actor("user", str(found.id))
                return found
            claims = bearer_claims(service.tokens, credentials)
            user = await service._active_user(session, claims.get("sub"))
            if user is not None and not service._current(claims, user):
                raise UnauthorizedException(
                    "This token was issued before the account signed out everywhere or "
                    "changed its password: sign in again",
                    code="INVALID_TOKEN",
                    headers={"WWW-Authenticate": 'Bearer error="invalid_token"'},
                )
            if user is None:
                raise UnauthorizedException(
                    "The account of this token does not exist or is not active",
                    code="INVALID_TOKEN",
                    headers={"WWW-Authenticate": 'Bearer error="invalid_token"'},
                )
            set_actor("user", str(user.id))  # who the audit trail records for this request
            return user

        return current_user

    def _current(self, claims: dict[str, Any], user: BaseUserModel) -> bool:
        """Whether an access token's ``sv`` claim is the user's ``session_version``."""
        if not self._setting("AUTH_REVOKE_ACCESS_TOKENS", True):
            return True
        version = claims.get(SESSION_VERSION_CLAIM)
        return type(version) is int and version == user.session_version
