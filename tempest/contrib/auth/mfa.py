"""MFA in the auth flow: enrolment, the login's second step, recovery codes, disabling.

:class:`MFAMethods` needs the user model to have the
:class:`~tempest.contrib.auth.base.MFAMixin` columns. Codes are checked under the
account's ``mfa:<user id>`` throttle, counted before the check; a TOTP step and each
recovery code are accepted once, even when sent twice at once.
"""

from __future__ import annotations

import math
import secrets
from typing import TYPE_CHECKING, Any, NoReturn

from sqlalchemy.ext.asyncio import AsyncSession

from tempest.contrib.auth.base import BaseUserModel
from tempest.contrib.auth.core import fail_closed, too_many
from tempest.contrib.auth.schemas import (
    MFAEnrollResponseSchema,
    MFARecoveryCodesResponseSchema,
    TokenPairResponseSchema,
)
from tempest.contrib.auth.sessions import MFA_TOKEN_TYPE, SessionMethods
from tempest.db import atomic
from tempest.exceptions import (
    AppException,
    ConflictException,
    ForbiddenException,
    ImproperlyConfigured,
    InvalidTokenException,
    UnauthorizedException,
)

if TYPE_CHECKING:
    from tempest.utils.throttle import ThrottleResult

__all__ = ["RECOVERY_CODE_COUNT", "MFAMethods"]

RECOVERY_CODE_COUNT = 10
"""How many recovery codes confirming MFA gives."""
_RECOVERY_ALPHABET = "abcdefghjkmnpqrstuvwxyz23456789"  # no 0/o, 1/l/i to misread


def _invalid_mfa_code() -> UnauthorizedException:
    return UnauthorizedException(
        "The code is wrong, expired or already used", code="INVALID_MFA_CODE"
    )


def _normalize_recovery(code: str) -> str:
    return "".join(code.split()).replace("-", "").lower()


class MFAMethods(SessionMethods):
    """MFA enrolment, confirmation, verification at login, recovery codes, disabling."""

    def _require_mfa_model(self, user: BaseUserModel) -> None:
        if not hasattr(user, "mfa_secret"):
            raise ImproperlyConfigured(
                f"{type(user).__name__} has no MFA columns: add MFAMixin to the user model "
                "(class User(BaseUserModel, MFAMixin)) and make a migration."
            )

    async def mfa_enroll(
        self,
        session: AsyncSession,
        user: BaseUserModel,
        *,
        claims: dict[str, Any] | None = None,
        password: str | None = None,
    ) -> MFAEnrollResponseSchema:
        """Start MFA enrolment: a new secret, enabled only once a code confirms it.

        Needs a recent sign-in or the password (see :meth:`require_recent_auth`): a
        stolen access token alone cannot put the thief's authenticator on the account.

        Args:
            session: The request's session.
            user: The signed-in user.
            claims: The claims of the request's access token.
            password: The account's password, when the sign-in is not recent.

        Returns:
            The secret and its ``otpauth://`` URI.

        Raises:
            ConflictException: MFA is already on (409); disable it first.
            ForbiddenException: Re-authentication needed or the password is wrong (403).
        """
        self._require_mfa_model(user)
        if user.mfa_enabled:  # type: ignore[attr-defined]
            raise ConflictException(
                "MFA is already enabled: disable it first to enrol a new authenticator",
                code="MFA_ALREADY_ENABLED",
            )
        await self.require_recent_auth(user, claims, password)
        secret = self.totp.generate_secret()
        async with atomic(session):
            user.mfa_secret = secret  # type: ignore[attr-defined]
            user.mfa_last_used_step = None  # type: ignore[attr-defined]
        return MFAEnrollResponseSchema(
            secret=secret, otpauth_uri=self.totp.provisioning_uri(secret, user.email)
        )

    async def mfa_confirm(
        self, session: AsyncSession, user: BaseUserModel, code: str
    ) -> MFARecoveryCodesResponseSchema:
        """Turn MFA on with the first code from the app; return fresh recovery codes.

        Args:
            session: The request's session.
            user: The signed-in user, after :meth:`mfa_enroll`.
            code: The code the app shows.

        Returns:
            :data:`RECOVERY_CODE_COUNT` recovery codes, shown this once.

        Raises:
            ConflictException: MFA is already on, or enrolment was not started (409).
            AppException: The code is wrong (400 ``INVALID_MFA_CODE``).
        """
        self._require_mfa_model(user)
        if user.mfa_enabled or not user.mfa_secret:  # type: ignore[attr-defined]
            raise ConflictException(
                "MFA is already enabled"
                if user.mfa_enabled  # type: ignore[attr-defined]
                else "Start with POST /mfa/enroll, then confirm with a code from the app",
                code="MFA_ALREADY_ENABLED" if user.mfa_enabled else "MFA_NOT_ENROLLED",  # type: ignore[attr-defined]
            )
        step = self.totp.verify(user.mfa_secret, code)  # type: ignore[attr-defined]
        if step is None:
            raise AppException(
                "The code is wrong or expired: type the code the app shows now",
                code="INVALID_MFA_CODE",
                status_code=400,
            )
        codes = [self._new_recovery_code() for _ in range(RECOVERY_CODE_COUNT)]
        async with atomic(session):
            user.mfa_enabled = True  # type: ignore[attr-defined]
            user.mfa_last_used_step = step  # type: ignore[attr-defined]
            await self._recovery_codes(session).replace(
                user.id, [self._digest(_normalize_recovery(code)) for code in codes]
            )
        return MFARecoveryCodesResponseSchema(recovery_codes=codes)

    async def mfa_verify(
        self,
        session: AsyncSession,
        mfa_token: str,
        *,
        code: str | None = None,
        recovery_code: str | None = None,
    ) -> TokenPairResponseSchema:
        """Finish a login that needs MFA: a TOTP code, or a recovery code (once).

        Args:
            session: The request's session.
            mfa_token: The ``mfa_token`` from :meth:`login`.
            code: A code from the app; a code already accepted is refused.
            recovery_code: One of the recovery codes; each works once.

        Returns:
            A token pair.

        Raises:
            InvalidTokenException: The MFA token is invalid, or not an MFA token (401).
            ExpiredTokenException: The MFA token expired; log in again (401).
            UnauthorizedException: The code is wrong or used (401 ``INVALID_MFA_CODE``).
            TooManyRequestsException: Too many codes tried (429); each is counted before
                it is checked.
            AppException: The throttle's store is unreachable (503 ``THROTTLE_UNAVAILABLE``).
        """
        claims = self.tokens.decode(mfa_token, token_type=MFA_TOKEN_TYPE)
        user = await self._active_user(session, claims.get("sub"))
        if user is None or not getattr(user, "mfa_enabled", False):
            raise InvalidTokenException()
        key = f"mfa:{user.id}"
        await self._check_throttle(key)
        if code is not None:
            accepted = await self._accept_totp(session, user, code)
        else:
            accepted = await self._use_recovery_code(session, user, recovery_code or "")
        if not accepted:
            await self._fail(key, _invalid_mfa_code())
        with fail_closed():
            await self.throttle.reset(key)
        return await self._sign_in(session, user)

    async def mfa_disable(
        self,
        session: AsyncSession,
        user: BaseUserModel,
        *,
        code: str | None = None,
        recovery_code: str | None = None,
        password: str | None = None,
        claims: dict[str, Any] | None = None,
    ) -> None:
        """Turn MFA off; drop the recovery codes.

        Needs the second factor (a current code or a recovery code) and a recent sign-in
        or the password (see :meth:`require_recent_auth`).

        Args:
            session: The request's session.
            user: The signed-in user.
            code: A code from the app.
            recovery_code: One of the recovery codes (used up).
            password: The account's password, when the sign-in is not recent.
            claims: The claims of the request's access token.

        Raises:
            ConflictException: MFA is not enabled (409).
            ForbiddenException: Re-authentication needed, or the code or password is
                wrong (403).
            TooManyRequestsException: Too many wrong attempts (429).
        """
        self._require_mfa_model(user)
        if not user.mfa_enabled:  # type: ignore[attr-defined]
            raise ConflictException("MFA is not enabled", code="MFA_NOT_ENABLED")
        await self.require_recent_auth(user, claims, password)
        key = f"mfa:{user.id}"
        await self._check_throttle(key)
        if code is not None:
            proven = await self._accept_totp(session, user, code)
        else:
            proven = await self._use_recovery_code(session, user, recovery_code or "")
        if not proven:
            await self._fail(
                key,
                ForbiddenException("The code is wrong or already used", code="INVALID_MFA_PROOF"),
            )
        with fail_closed():  # a counter lost now is a 503, as at sign-in, not a 500
            await self.throttle.reset(key)
        async with atomic(session):
            user.mfa_enabled = False  # type: ignore[attr-defined]
            user.mfa_secret = None  # type: ignore[attr-defined]
            user.mfa_last_used_step = None  # type: ignore[attr-defined]
            await self._recovery_codes(session).delete_all(user.id)

    async def _accept_totp(self, session: AsyncSession, user: Any, code: str) -> bool:
        from tempest.contrib.auth.accounts import accept_totp_code

        async with atomic(session):  # the same code sent twice at once is accepted once
            return await accept_totp_code(session, user, code, self.totp)

    async def _use_recovery_code(
        self, session: AsyncSession, user: BaseUserModel, code: str
    ) -> bool:
        normalized = _normalize_recovery(code)
        if not normalized:
            return False
        async with atomic(session):
            return await self._recovery_codes(session).claim(user.id, self._digest(normalized))

    @staticmethod
    def _new_recovery_code() -> str:
        raw = "".join(secrets.choice(_RECOVERY_ALPHABET) for _ in range(10))
        return f"{raw[:5]}-{raw[5:]}"

    async def _check_throttle(self, key: str) -> ThrottleResult:
        """Reserve an attempt of ``key`` *before* the check it guards; 429 when locked.

        Counting first means that N concurrent requests cannot all pass: at most
        ``AUTH_MAX_LOGIN_ATTEMPTS`` are evaluated per window. A failure then needs no
        recording (:meth:`_fail`); a success calls ``self.throttle.reset(key)``.
        """
        with fail_closed():
            result = await self.throttle.attempt(key)
        if result.locked:
            raise too_many(result.retry_after_seconds)
        return result

    async def _fail(self, key: str, error: AppException) -> NoReturn:
        """The guarded check failed; its attempt is already counted.

        Raises ``error``, or 429 when the key has no attempt left in its window.
        """
        with fail_closed():
            state = await self.throttle.inspect(key)
        if state.locked or state.attempts_left == 0:
            raise too_many(state.retry_after_seconds or math.ceil(self.throttle.window_seconds))
        raise error
