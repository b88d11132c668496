"""Accounts proven by an emailed link: signup, activation and email change.

:class:`SignupMethods` creates accounts (answering alike whether or not the email was
taken), activates them with the emailed token, sends a new activation link, and moves an
account to a new email once a link sent there is followed.
"""

from __future__ import annotations

from datetime import timedelta
from typing import Any

from sqlalchemy.exc import IntegrityError
from sqlalchemy.ext.asyncio import AsyncSession
from starlette.background import BackgroundTasks

from tempest.contrib.auth.base import BaseUserModel, UserTokenPurpose
from tempest.contrib.auth.core import LinkBuilder
from tempest.contrib.auth.emails import EmailMethods
from tempest.contrib.auth.sessions import SessionMethods
from tempest.db import atomic
from tempest.exceptions import ConflictException, InvalidTokenException

__all__ = ["EMAIL_CHANGE_TOKEN_TYPE", "SignupMethods"]

EMAIL_CHANGE_TOKEN_TYPE = "email_change"
"""The ``type`` of the signed token emailed to confirm a new address."""


class SignupMethods(SessionMethods, EmailMethods):
    """Signup, activation (and its resending) and email change."""

    async def signup(
        self,
        session: AsyncSession,
        email: str,
        password: str,
        *,
        activation_link: LinkBuilder | None = None,
        locale: str | None = None,
        background: BackgroundTasks | None = None,
    ) -> BaseUserModel | None:
        """Create an account; email an activation link when ``AUTH_REQUIRE_ACTIVATION``.

        An email already in use is answered like a new one (``AUTH_SIGNUP_REVEAL_EXISTING``
        off, the default): nothing is created, the password is hashed all the same, and
        the address receives a "someone tried to sign up with your address" email. The
        emails go out after the response (``background``), so neither the answer nor its
        timing tells whether the address has an account; one that cannot be sent is
        logged, and the user can ask for a new link with :meth:`resend_activation`.

        Args:
            session: The request's session.
            email: The new account's email.
            password: Its password (checked by ``AUTH_PASSWORD_VALIDATORS``).
            activation_link: Builds the emailed URL from the token; default
                ``AUTH_FRONTEND_URL + "/activate?token=..."``.
            locale: The email's locale; default ``AUTH_DEFAULT_LOCALE``.
            background: Where to queue the emails (the router passes the response's
                ``BackgroundTasks``); None sends them before returning.

        Returns:
            The new user (inactive until activated when activation is required), or None
            when the email was already in use.

        Raises:
            ValidationException: The email is malformed or the password refused (422).
            ConflictException: An account with this email exists and
                ``AUTH_SIGNUP_REVEAL_EXISTING`` is on (409).
        """
        email = self._check_email(email)
        self._check_new_password(password, self.user_model(email=email))
        require_activation = self.requires_activation
        reveal = bool(self._setting("AUTH_SIGNUP_REVEAL_EXISTING", False))
        if require_activation:
            # A link that cannot be built (no SITE_URL) fails now, the same way for a new
            # and a taken email, before anything is saved, not later in the background.
            self._link(activation_link, "/activate", "-")
        existing = await self.find_user(session, email)
        if existing is not None and reveal:
            raise ConflictException("An account with this email already exists", code="EMAIL_TAKEN")
        # Hashed in both cases, so that a taken email costs as much time as a new one.
        hashed = await self._hash_password(password)
        user = None
        if existing is None:
            try:
                async with atomic(session):
                    user = await self._users(session).insert(
                        self.user_model(
                            email=email, hashed_password=hashed, is_active=not require_activation
                        )
                    )
            except IntegrityError:  # the same email signed up concurrently
                if reveal:
                    raise ConflictException(
                        "An account with this email already exists", code="EMAIL_TAKEN"
                    ) from None
                return None
            if require_activation:
                ttl = timedelta(seconds=int(self._setting("AUTH_ACTIVATION_TTL_SECONDS", 86_400)))
                await self._later(
                    background,
                    self._token_email_job(
                        user.id, UserTokenPurpose.ACTIVATION, ttl, activation_link, locale
                    ),
                )
            return user
        await self._later(background, self._email_job(email, "signup_existing", None, locale))
        return None

    async def activate(self, session: AsyncSession, token: str) -> BaseUserModel:
        """Activate the account an activation token was sent to.

        Args:
            session: The request's session.
            token: The token from the activation email.

        Returns:
            The activated user.

        Raises:
            InvalidTokenException: Unknown or already used token (401).
            ExpiredTokenException: The token expired (401).
        """
        async with atomic(session):
            row = await self._use_email_token(session, token, UserTokenPurpose.ACTIVATION)
            user = await self.get_user(session, row.user_id)  # type: ignore[attr-defined]
            if user is None:
                raise InvalidTokenException()
            user.is_active = True
        return user

    async def resend_activation(
        self,
        session: AsyncSession,
        email: str,
        *,
        activation_link: LinkBuilder | None = None,
        locale: str | None = None,
        background: BackgroundTasks | None = None,
    ) -> None:
        """Email a new activation link to an account that is not active yet.

        For a user whose first link expired or got lost. Returns the same way whether or
        not such an account exists (a failed email is logged), so the answer reveals
        nothing; the earlier links keep working until they expire. As for
        :meth:`request_password_reset`, the email goes out after the response.

        Args:
            session: The request's session.
            email: The account's email.
            activation_link: Builds the emailed URL from the token; default
                ``AUTH_FRONTEND_URL + "/activate?token=..."``.
            locale: The email's locale.
            background: Where to queue the email; None sends it before returning.

        Raises:
            ValidationException: The email is malformed (422).
        """
        email = self._check_email(email)
        user = await self.find_user(session, email)
        if user is None or user.is_active or not self._setting("AUTH_REQUIRE_ACTIVATION", True):
            return
        ttl = timedelta(seconds=int(self._setting("AUTH_ACTIVATION_TTL_SECONDS", 86_400)))
        await self._later(
            background,
            self._token_email_job(
                user.id, UserTokenPurpose.ACTIVATION, ttl, activation_link, locale
            ),
        )

    async def request_email_change(
        self,
        session: AsyncSession,
        user: BaseUserModel,
        new_email: str,
        *,
        password: str | None = None,
        claims: dict[str, Any] | None = None,
        confirm_link: LinkBuilder | None = None,
        locale: str | None = None,
        background: BackgroundTasks | None = None,
    ) -> None:
        """Send a confirmation link to a new email; the change applies when it is followed.

        Needs the password or a recent sign-in (:meth:`require_recent_auth`). The old
        address is told about the request. When the new address already has an account
        nothing is sent to it and the answer is the same, so that this does not tell
        who has an account.

        Args:
            session: The request's session.
            user: The signed-in user.
            new_email: The address to move to.
            password: The account's password, when the sign-in is not recent.
            claims: The claims of the request's access token.
            confirm_link: Builds the emailed URL from the token; default
                ``AUTH_FRONTEND_URL + "/email/confirm?token=..."``.
            locale: The emails' locale.
            background: Where to queue the emails; None sends them before returning.

        Raises:
            ForbiddenException: Re-authentication needed or a wrong password (403).
            ValidationException: The new email is malformed (422).
            ConflictException: The new email is the current one (409 ``EMAIL_UNCHANGED``).
        """
        new_email = self._check_email(new_email)
        await self.require_recent_auth(user, claims, password)
        if new_email == user.email:
            raise ConflictException("This is already the account's email", code="EMAIL_UNCHANGED")
        old_email = user.email
        taken = await self.find_user(session, new_email) is not None
        if not taken:
            ttl = timedelta(seconds=int(self._setting("AUTH_EMAIL_CHANGE_TTL_SECONDS", 86_400)))
            async with atomic(session):
                # The emailed token is signed; this random id in it is what is stored.
                jti = await self._issue_email_token(
                    session, user, UserTokenPurpose.EMAIL_CHANGE, ttl
                )
            token = self.tokens.encode(
                {"sub": str(user.id), "email": new_email, "old": old_email, "jti": jti},
                ttl=ttl,
                token_type=EMAIL_CHANGE_TOKEN_TYPE,
            )
            link = self._link(confirm_link, "/email/confirm", token)
            await self._later(background, self._email_job(new_email, "email_change", link, locale))
        await self._later(
            background,
            self._email_job(old_email, "email_change_notice", None, locale, new_email=new_email),
        )

    async def confirm_email_change(self, session: AsyncSession, token: str) -> BaseUserModel:
        """Apply an email change with the token emailed to the new address.

        The token works once; other pending changes of the user die with it, and so
        does a token issued before the email changed another way.

        Args:
            session: The request's session.
            token: The token from the confirmation email.

        Returns:
            The user, with the new email.

        Raises:
            InvalidTokenException: Unknown, used or stale token (401).
            ExpiredTokenException: The token expired (401).
            ConflictException: Another account took the address meanwhile (409).
        """
        claims = self.tokens.decode(token, token_type=EMAIL_CHANGE_TOKEN_TYPE)
        jti, new_email = claims.get("jti"), claims.get("email")
        if not isinstance(jti, str) or not isinstance(new_email, str):
            raise InvalidTokenException()
        try:
            async with atomic(session):
                row = await self._use_email_token(session, jti, UserTokenPurpose.EMAIL_CHANGE)
                user = await self.get_user(session, row.user_id)  # type: ignore[attr-defined]
                if user is None or str(user.id) != claims.get("sub"):
                    raise InvalidTokenException()
                if user.email != claims.get("old"):
                    raise InvalidTokenException()
                user.email = new_email
                await self._use_up_email_tokens(session, user, UserTokenPurpose.EMAIL_CHANGE)
                await session.flush()
        except IntegrityError:
            raise ConflictException(
                "Another account uses this email now", code="EMAIL_TAKEN"
            ) from None
        return user
