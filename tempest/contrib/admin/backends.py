"""Who may use the admin: the auth backend interface and the user-model backend."""

from __future__ import annotations

import asyncio
import secrets
import uuid
from abc import ABC, abstractmethod
from datetime import UTC, datetime
from functools import cache
from typing import Any

from sqlalchemy.ext.asyncio import AsyncSession

__all__ = ["AdminAuthBackend", "AdminAuthError", "UserModelAuthBackend"]


class AdminAuthError(Exception):
    """Sign-in refused. The login page shows one generic message whatever the reason."""


class AdminAuthBackend(ABC):
    """How the admin signs operators in and finds them again on each request.

    Subclass it to sign in against LDAP, an OAuth provider or another store; the
    sessions, the CSRF protection and every view stay the same.
    """

    @abstractmethod
    async def authenticate(self, session: AsyncSession, *, identifier: str, password: str) -> Any:
        """Check the credentials of someone signing in.

        Args:
            session: A database session of the request.
            identifier: What was typed in the login form's first field (an email).
            password: The password typed.

        Returns:
            The principal (any object the other methods understand).

        Raises:
            AdminAuthError: The credentials are wrong or the principal may not use the
                admin.
        """

    @abstractmethod
    async def load_principal(self, session: AsyncSession, principal_id: str) -> Any | None:
        """The principal of a signed-in session, or None when it may no longer use the admin."""

    @abstractmethod
    def principal_id(self, principal: Any) -> str:
        """A stable id of ``principal``, stored in the session cookie."""

    @abstractmethod
    def display_name(self, principal: Any) -> str:
        """How the header names ``principal``."""

    def requires_mfa(self, principal: Any) -> bool:
        """Whether ``principal`` must pass a one-time code after the password."""
        return False

    async def verify_mfa(self, session: AsyncSession, principal: Any, code: str) -> bool:
        """Check a one-time code; called only when :meth:`requires_mfa` is True."""
        return False

    async def on_login(self, session: AsyncSession, principal: Any) -> None:  # noqa: B027
        """Called once sign-in is complete (after the one-time code, if any)."""

    def session_version(self, principal: Any) -> int | None:
        """The principal's session version; None when this backend keeps none.

        A session remembers the version it signed in with, and is over once the two
        differ. Raise it on a password change, a deactivation or :meth:`end_sessions`.
        """
        return None

    async def end_sessions(self, session: AsyncSession, principal: Any) -> None:
        """Sign ``principal`` out everywhere ("Sign out everywhere" in the header).

        Raises:
            NotImplementedError: This backend keeps no session version.
        """
        raise NotImplementedError(
            f"{type(self).__name__} keeps no session version: implement session_version() "
            "and end_sessions() to sign an operator out everywhere."
        )

    def audit_id(self, principal: Any) -> uuid.UUID | None:
        """The id stamped into ``created_by`` / ``updated_by``; None when it is not a UUID."""
        try:
            return uuid.UUID(self.principal_id(principal))
        except ValueError:
            return None


class UserModelAuthBackend(AdminAuthBackend):
    """Operators are rows of the user model with ``is_active`` and ``is_admin`` both true.

    Users with ``mfa_enabled`` (see :class:`~tempest.contrib.auth.base.MFAMixin`) also type
    a code from their authenticator app, each code accepted once.
    """

    def __init__(self, user_model: type[Any] | None = None) -> None:
        """Use ``user_model``; default the project's ``AUTH_USER_MODEL``."""
        self._user_model = user_model

    @property
    def user_model(self) -> type[Any]:
        """The user model signed in against."""
        if self._user_model is None:
            from tempest.contrib.auth.users import get_user_model

            self._user_model = get_user_model()
        return self._user_model

    async def authenticate(self, session: AsyncSession, *, identifier: str, password: str) -> Any:
        """Sign in by email and password; see :meth:`AdminAuthBackend.authenticate`."""
        from sqlalchemy import select

        from tempest.contrib.auth.base import normalize_email

        model = self.user_model
        user = await session.scalar(select(model).where(model.email == normalize_email(identifier)))
        hashed = user.hashed_password if user is not None and user.hashed_password else None
        # An unknown email costs a hash check too, so response time does not tell it apart.
        matches = await asyncio.to_thread(_verify, password, hashed or _dummy_hash())
        if user is None or hashed is None or not matches:
            raise AdminAuthError("wrong email or password")
        if not user.is_active or not user.is_admin:
            raise AdminAuthError("not an active admin")
        return user

    async def load_principal(self, session: AsyncSession, principal_id: str) -> Any | None:
        """The user, if it is still an active admin."""
        try:
            key = uuid.UUID(principal_id)
        except ValueError:
            return None
        user = await session.get(self.user_model, key)
        if user is None or not user.is_active or not user.is_admin:
            return None
        return user

    def principal_id(self, principal: Any) -> str:
        """The user's id."""
        return str(principal.id)

    def display_name(self, principal: Any) -> str:
        """The user's email."""
        return str(principal.email)

    def requires_mfa(self, principal: Any) -> bool:
        """True when the user has confirmed an authenticator app."""
        return bool(getattr(principal, "mfa_enabled", False) and principal.mfa_secret)

    async def verify_mfa(self, session: AsyncSession, principal: Any, code: str) -> bool:
        """Check a TOTP code and use its step up atomically: one winner, as in the API.

        See :func:`~tempest.contrib.auth.accounts.accept_totp_code`.
        """
        from tempest.contrib.auth.accounts import accept_totp_code

        return await accept_totp_code(session, principal, code)

    async def on_login(self, session: AsyncSession, principal: Any) -> None:
        """Record ``last_login_at``."""
        principal.last_login_at = datetime.now(UTC)
        await session.flush()

    def session_version(self, principal: Any) -> int | None:
        """The user's ``session_version`` (raised by a new password or a deactivation)."""
        version = getattr(principal, "session_version", None)
        return version if isinstance(version, int) else None

    async def end_sessions(self, session: AsyncSession, principal: Any) -> None:
        """Raise the user's ``session_version``: every admin session and API token ends."""
        principal.end_sessions()
        await session.flush()


def _verify(password: str, hashed: str) -> bool:
    from tempest.contrib.auth.base import password_utils

    return password_utils().verify(password, hashed)


@cache
def _dummy_hash() -> str:
    from tempest.contrib.auth.base import password_utils

    return password_utils().hash(secrets.token_urlsafe(16))
