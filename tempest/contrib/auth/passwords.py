"""Passwords in the auth flow: reset by email, change, and setting one.

:class:`PasswordMethods` emails reset links, sets a new password with one, lets a
signed-in user change theirs (after :meth:`~tempest.contrib.auth.sessions.SessionMethods.
require_recent_auth`), and sets passwords for the other paths. Every new password is
checked by ``AUTH_PASSWORD_VALIDATORS``, hashed off the event loop, and ends every
session of the user.
"""

from __future__ import annotations

from datetime import timedelta
from typing import Any

from sqlalchemy.ext.asyncio import AsyncSession
from starlette.background import BackgroundTasks

from tempest.contrib.auth.base import BaseUserModel, UserTokenPurpose
from tempest.contrib.auth.core import LinkBuilder
from tempest.contrib.auth.emails import EmailMethods
from tempest.contrib.auth.schemas import TokenPairResponseSchema
from tempest.contrib.auth.sessions import SessionMethods
from tempest.db import atomic
from tempest.exceptions import InvalidTokenException

__all__ = ["PasswordMethods"]


class PasswordMethods(SessionMethods, EmailMethods):
    """Password reset, password change and :meth:`set_password`."""

    async def request_password_reset(
        self,
        session: AsyncSession,
        email: str,
        *,
        reset_link: LinkBuilder | None = None,
        locale: str | None = None,
        background: BackgroundTasks | None = None,
    ) -> None:
        """Email a reset link to an active account; do nothing visible otherwise.

        Returns the same way whether or not the account exists, and also when the email
        cannot be sent (the failure is logged), so that the answer reveals nothing. The
        token is issued and the email sent after the response (``background``), so a
        known email costs the request no more time than an unknown one.

        Args:
            session: The request's session.
            email: Where to send the link.
            reset_link: Builds the emailed URL from the token; default
                ``AUTH_FRONTEND_URL + "/password-reset?token=..."``.
            locale: The email's locale.
            background: Where to queue the email (the router passes the response's
                ``BackgroundTasks``); None sends it before returning.

        Raises:
            ValidationException: The email is malformed (422).
        """
        email = self._check_email(email)
        user = await self.find_user(session, email)
        if user is None or not user.is_active:
            return
        ttl = timedelta(seconds=int(self._setting("AUTH_PASSWORD_RESET_TTL_SECONDS", 3_600)))
        await self._later(
            background,
            self._token_email_job(
                user.id, UserTokenPurpose.PASSWORD_RESET, ttl, reset_link, locale
            ),
        )

    async def confirm_password_reset(
        self, session: AsyncSession, token: str, password: str
    ) -> BaseUserModel:
        """Set a new password with a reset token; sign the user out everywhere.

        The token is used up. MFA stays as it was: the next login still asks for a code.

        Args:
            session: The request's session.
            token: The token from the reset email.
            password: The new password.

        Returns:
            The user.

        Raises:
            ValidationException: AUTH_PASSWORD_VALIDATORS refuse the password (422).
            InvalidTokenException: Unknown or already used token (401).
            ExpiredTokenException: The token expired (401).
        """
        self._check_new_password(password)
        hashed = await self._hash_password(password)
        async with atomic(session):
            row = await self._use_email_token(session, token, UserTokenPurpose.PASSWORD_RESET)
            user = await self.get_user(session, row.user_id)  # type: ignore[attr-defined]
            if user is None:
                raise InvalidTokenException()
            # Again with the user (the similarity rule); raising here keeps the token.
            self._check_new_password(password, user)
            await self._store_password(session, user, hashed)
            # Other reset links sent earlier die with this one.
            await self._use_up_email_tokens(session, user, UserTokenPurpose.PASSWORD_RESET)
        return user

    async def set_password(self, session: AsyncSession, user: BaseUserModel, password: str) -> None:
        """Give ``user`` a new password and sign them out everywhere.

        Every path of the auth flow that changes a password goes through this method (or
        :meth:`~tempest.contrib.auth.base.BaseUserModel.set_password_hash`, which it
        calls): the hash is computed off the event loop, ``session_version`` is raised so
        that access tokens and admin sessions end, and the refresh tokens are revoked.

        Args:
            session: The request's session.
            user: The user.
            password: The new password (at least ``AUTH_PASSWORD_MIN_LENGTH`` characters).

        Raises:
            ValidationException: AUTH_PASSWORD_VALIDATORS refuse the password (422).
        """
        self._check_new_password(password, user)
        hashed = await self._hash_password(password)
        async with atomic(session):
            await self._store_password(session, user, hashed)

    async def _store_password(
        self, session: AsyncSession, user: BaseUserModel, hashed: str
    ) -> None:
        user.set_password_hash(hashed)
        await self.revoke_all_refresh_tokens(session, user)

    async def change_password(
        self,
        session: AsyncSession,
        user: BaseUserModel,
        new_password: str,
        *,
        current_password: str | None = None,
        claims: dict[str, Any] | None = None,
    ) -> TokenPairResponseSchema:
        """Change the password of the signed-in user; end every other session.

        Needs the current password or a recent sign-in (:meth:`require_recent_auth`).
        Every session is signed out (:meth:`set_password`); the caller gets a new token
        pair, a fresh sign-in.

        Args:
            session: The request's session.
            user: The signed-in user.
            new_password: The new password (``AUTH_PASSWORD_VALIDATORS``).
            current_password: The password in use, when the sign-in is not recent.
            claims: The claims of the request's access token.

        Returns:
            A new token pair for the caller.

        Raises:
            ForbiddenException: Re-authentication needed or a wrong password (403).
            ValidationException: The new password is refused (422 ``PASSWORD_INVALID``).
            TooManyRequestsException: Too many wrong passwords (429).
        """
        await self.require_recent_auth(user, claims, current_password)
        self._check_new_password(new_password, user, field="new_password")
        await self.set_password(session, user, new_password)
        return await self._sign_in(session, user)
