"""The rules of the bundled auth flow: :class:`UserAuthService`.

Signup with email activation, login with brute-force throttling and an optional TOTP
step, refresh tokens stored as peppered digests and rotated on every use (a reused one
revokes its whole family), logout, password reset by email, and MFA enrolment with
one-time recovery codes. :func:`~tempest.contrib.auth.router.make_auth_router` exposes
these methods as HTTP endpoints; every method takes the request's ``session``.
"""

from __future__ import annotations

import secrets
import uuid
from collections.abc import Awaitable, Callable
from datetime import datetime, timedelta
from functools import cached_property
from pathlib import Path
from typing import TYPE_CHECKING, Any, TypeVar

from fastapi import Depends
from sqlalchemy import delete, select, update
from sqlalchemy.exc import IntegrityError
from sqlalchemy.ext.asyncio import AsyncSession

from tempest.api.dependencies.bearer import BearerCredentials, bearer_claims
from tempest.contrib.auth.base import (
    BaseUserModel,
    BaseUserRecoveryCodeModel,
    BaseUserRefreshTokenModel,
    BaseUserTokenModel,
    UserTokenPurpose,
    normalize_email,
    password_utils,
)
from tempest.contrib.auth.schemas import (
    MFAChallengeResponseSchema,
    MFAEnrollResponseSchema,
    MFARecoveryCodesResponseSchema,
    TokenPairResponseSchema,
)
from tempest.db import atomic, get_session
from tempest.exceptions import (
    AppException,
    ConflictException,
    ExpiredTokenException,
    ForbiddenException,
    ImproperlyConfigured,
    InvalidTokenException,
    TooManyRequestsException,
    UnauthorizedException,
    ValidationException,
)
from tempest.mail import SUPPORTED_LOCALES, negotiate_locale, normalize_locale
from tempest.utils import utcnow
from tempest.utils.opaque_tokens import generate_opaque_token, hash_opaque_token

if TYPE_CHECKING:
    from tempest.mail import EmailUtils
    from tempest.utils.jwt import JWTUtils
    from tempest.utils.passwords import PasswordUtils
    from tempest.utils.throttle import AttemptThrottle
    from tempest.utils.totp import TOTPHelper

__all__ = ["DEFAULT_EMAIL_TEMPLATES", "LinkBuilder", "UserAuthService"]

DEFAULT_EMAIL_TEMPLATES = Path(__file__).parent / "templates" / "email"
"""The bundled activation and password-reset emails (en-US and pt-BR)."""

LinkBuilder = Callable[[str], str]
"""Turns an emailed token into the absolute URL the email links to."""

MFA_TOKEN_TYPE = "mfa"
RECOVERY_CODE_COUNT = 10
_RECOVERY_ALPHABET = "abcdefghjkmnpqrstuvwxyz23456789"  # no 0/o, 1/l/i to misread
_MFA_TOKEN_TTL = timedelta(minutes=5)

_Model = TypeVar("_Model")
_Built = TypeVar("_Built")

_MAILER_SETTINGS = (
    "SMTP_HOST",
    "SMTP_PORT",
    "SMTP_USERNAME",
    "SMTP_PASSWORD",
    "SMTP_FROM_ADDR",
    "SMTP_USE_TLS",
    "SMTP_USE_SSL",
    "SMTP_TIMEOUT_SECONDS",
    "AUTH_DEFAULT_LOCALE",
)


def _invalid_credentials() -> UnauthorizedException:
    return UnauthorizedException("Invalid email or password", code="INVALID_CREDENTIALS")


def _invalid_mfa_code() -> UnauthorizedException:
    return UnauthorizedException(
        "The code is wrong, expired or already used", code="INVALID_MFA_CODE"
    )


def _as_aware(value: datetime) -> datetime:
    if value.tzinfo is None:  # SQLite gives naive UTC back
        return value.replace(tzinfo=utcnow().tzinfo)
    return value


_EMAILS: dict[UserTokenPurpose, tuple[str, str]] = {
    UserTokenPurpose.ACTIVATION: ("activation", "/activate"),
    UserTokenPurpose.PASSWORD_RESET: ("password_reset", "/password-reset"),
}
"""The email template and the page path of each kind of emailed token."""


class UserAuthService:
    """Signup, activation, login, refresh, logout, password reset, MFA and ``/me``.

    Everything left out comes from the settings (``JWT_*``, ``AUTH_*``, ``SMTP_*``) the
    first time it is needed, so a service can be built before the settings are complete:
    a missing ``JWT_SECRET`` is reported when a request needs it.

    Example:
        >>> auth = UserAuthService()  # doctest: +SKIP
        >>> current_user = auth.current_user_dependency()  # doctest: +SKIP
    """

    def __init__(
        self,
        user_model: type[BaseUserModel] | None = None,
        token_model: type[BaseUserTokenModel] | None = None,
        refresh_token_model: type[BaseUserRefreshTokenModel] | None = None,
        recovery_code_model: type[BaseUserRecoveryCodeModel] | None = None,
        *,
        tokens: JWTUtils | None = None,
        passwords: PasswordUtils | None = None,
        mailer: EmailUtils | None = None,
        throttle: AttemptThrottle | None = None,
        totp: TOTPHelper | None = None,
        token_pepper: str | None = None,
        settings: Any = None,
    ) -> None:
        """Take the parts to use; the ones left out are built from the settings lazily.

        Args:
            user_model: The user model; default :func:`~tempest.contrib.auth.get_user_model`.
            token_model: Emailed single-use tokens of ``user_model``; default the installed
                model made by ``make_user_token_model(user_model)``.
            refresh_token_model: Refresh tokens of ``user_model`` (found the same way).
            recovery_code_model: MFA recovery codes of ``user_model`` (found the same way).
            tokens: Signs and verifies access and MFA tokens; default from ``JWT_SECRET``,
                ``JWT_ALGORITHM``, ``JWT_ISSUER`` and ``JWT_ACCESS_TTL_SECONDS``.
            passwords: Hashes and verifies passwords; default the one user models use
                (``AUTH_PASSWORD_HASH_ROUNDS``).
            mailer: Sends the emails; default ``EmailUtils.from_settings`` with the bundled
                templates (:data:`DEFAULT_EMAIL_TEMPLATES`).
            throttle: Locks login and MFA attempts; default an in-process throttle with
                ``AUTH_MAX_LOGIN_ATTEMPTS`` and ``AUTH_LOCKOUT_SECONDS``. Use a
                :class:`~tempest.utils.RedisThrottleBackend` when several processes serve.
            totp: Checks TOTP codes; default a ``TOTPHelper`` whose issuer is ``TITLE``.
            token_pepper: Secret mixed into the stored digests of emailed tokens, refresh
                tokens and recovery codes; default ``SECRET_KEY``, else ``JWT_SECRET``.
                Changing it invalidates every outstanding token.
            settings: Where defaults are read; default :data:`tempest.conf.settings`.

        Raises:
            TypeError: A model is not a subclass of the matching base.
        """
        for value, base, name in (
            (user_model, BaseUserModel, "user_model"),
            (token_model, BaseUserTokenModel, "token_model"),
            (refresh_token_model, BaseUserRefreshTokenModel, "refresh_token_model"),
            (recovery_code_model, BaseUserRecoveryCodeModel, "recovery_code_model"),
        ):
            if value is not None and not (isinstance(value, type) and issubclass(value, base)):
                raise TypeError(f"{name} must be a subclass of {base.__name__}, got {value!r}")
        if token_pepper is not None and (not isinstance(token_pepper, str) or not token_pepper):
            raise ValueError("token_pepper must be a non-empty string, or None for the default")
        self._user_model = user_model
        self._token_model = token_model
        self._refresh_token_model = refresh_token_model
        self._recovery_code_model = recovery_code_model
        self._tokens = tokens
        self._passwords = passwords
        self._mailer = mailer
        self._throttle = throttle
        self._totp = totp
        self._token_pepper = token_pepper
        self._settings = settings
        self._parts: dict[str, tuple[tuple[Any, ...], Any]] = {}

    # -- configuration, resolved on first use ---------------------------------------------

    @property
    def settings(self) -> Any:
        """The settings defaults are read from."""
        if self._settings is None:
            from tempest.conf import settings

            return settings
        return self._settings

    def _setting(self, name: str, default: Any) -> Any:
        return getattr(self.settings, name, default)

    @cached_property
    def user_model(self) -> type[BaseUserModel]:
        """The user model."""
        if self._user_model is not None:
            return self._user_model
        from tempest.contrib.auth.users import get_user_model

        return get_user_model()

    @cached_property
    def token_model(self) -> type[BaseUserTokenModel]:
        """The model of emailed single-use tokens."""
        return self._token_model or self._find_model(BaseUserTokenModel, "make_user_token_model")

    @cached_property
    def refresh_token_model(self) -> type[BaseUserRefreshTokenModel]:
        """The model of refresh tokens."""
        return self._refresh_token_model or self._find_model(
            BaseUserRefreshTokenModel, "make_user_refresh_token_model"
        )

    @cached_property
    def recovery_code_model(self) -> type[BaseUserRecoveryCodeModel]:
        """The model of MFA recovery codes."""
        return self._recovery_code_model or self._find_model(
            BaseUserRecoveryCodeModel, "make_user_recovery_code_model"
        )

    def _find_model(self, base: type[_Model], factory: str) -> type[_Model]:
        """The installed subclass of ``base`` whose ``user_id`` points at the user table."""
        from tempest.apps import apps

        user_table = self.user_model.__table__
        for model in apps.get_models():
            if not issubclass(model, base):
                continue
            column = model.__table__.columns.get("user_id")
            if column is not None and any(
                key.column.table is user_table for key in column.foreign_keys
            ):
                return model
        raise ImproperlyConfigured(
            f"No installed model stores {base.__name__} rows for {self.user_model.__name__}: "
            f"define one with `{factory}({self.user_model.__name__})` in your app's models.py, "
            "or pass it to UserAuthService."
        )

    def _built(self, name: str, keys: tuple[str, ...], build: Callable[[], _Built]) -> _Built:
        """The part ``name`` built from settings, rebuilt when one of ``keys`` changes.

        Rebuilding follows ``override_settings`` in a project's tests; in production the
        settings do not change and the part is built once.
        """
        key = tuple(self._setting(setting, None) for setting in keys)
        cached = self._parts.get(name)
        if cached is not None and cached[0] == key:
            value: _Built = cached[1]
            return value
        value = build()
        self._parts[name] = (key, value)
        return value

    @property
    def tokens(self) -> JWTUtils:
        """Signs and verifies access and MFA tokens.

        Raises:
            ImproperlyConfigured: No ``tokens`` was given and ``JWT_SECRET`` is empty.
        """
        if self._tokens is not None:
            return self._tokens
        return self._built(
            "tokens",
            ("JWT_SECRET", "JWT_ALGORITHM", "JWT_ISSUER", "JWT_ACCESS_TTL_SECONDS"),
            self._build_tokens,
        )

    def _build_tokens(self) -> JWTUtils:
        secret = str(self._setting("JWT_SECRET", "") or "")
        if not secret:
            raise ImproperlyConfigured(
                "The auth flow needs JWT_SECRET to sign tokens: set it in the settings or "
                'the environment (generate one with: python -c "import secrets; '
                'print(secrets.token_urlsafe(64))").'
            )
        from tempest.utils.jwt import JWTUtils

        return JWTUtils(
            secret,
            str(self._setting("JWT_ALGORITHM", "HS256")),
            default_ttl=self.access_ttl,
            issuer=self._setting("JWT_ISSUER", None),
        )

    @property
    def passwords(self) -> PasswordUtils:
        """Hashes and verifies passwords."""
        return self._passwords or password_utils()

    @property
    def mailer(self) -> EmailUtils:
        """Sends the activation and password-reset emails."""
        if self._mailer is not None:
            return self._mailer

        def build() -> EmailUtils:
            from tempest.mail import EmailUtils

            return EmailUtils.from_settings(self.settings, templates=DEFAULT_EMAIL_TEMPLATES)

        return self._built("mailer", _MAILER_SETTINGS, build)

    @property
    def throttle(self) -> AttemptThrottle:
        """Counts failed login and MFA attempts."""
        if self._throttle is not None:
            return self._throttle

        def build() -> AttemptThrottle:
            from tempest.utils.throttle import AttemptThrottle

            lockout = int(self._setting("AUTH_LOCKOUT_SECONDS", 900))
            return AttemptThrottle(
                max_attempts=int(self._setting("AUTH_MAX_LOGIN_ATTEMPTS", 5)),
                window_seconds=lockout,
                lock_seconds=lockout,
            )

        return self._built("throttle", ("AUTH_MAX_LOGIN_ATTEMPTS", "AUTH_LOCKOUT_SECONDS"), build)

    @property
    def totp(self) -> TOTPHelper:
        """Generates and checks TOTP codes."""
        if self._totp is not None:
            return self._totp

        def build() -> TOTPHelper:
            from tempest.utils.totp import TOTPHelper

            return TOTPHelper(str(self._setting("TITLE", "") or "tempest"))

        return self._built("totp", ("TITLE",), build)

    @property
    def token_pepper(self) -> str:
        """The secret mixed into stored token digests."""
        if self._token_pepper is not None:
            return self._token_pepper
        pepper = str(self._setting("SECRET_KEY", "") or self._setting("JWT_SECRET", "") or "")
        if not pepper:
            raise ImproperlyConfigured(
                "The auth flow needs SECRET_KEY (or JWT_SECRET) to store token digests: set it "
                "in the settings or the environment."
            )
        return pepper

    @property
    def access_ttl(self) -> timedelta:
        """Lifetime of access tokens (``JWT_ACCESS_TTL_SECONDS``)."""
        return timedelta(seconds=int(self._setting("JWT_ACCESS_TTL_SECONDS", 900)))

    @property
    def refresh_ttl(self) -> timedelta:
        """Lifetime of refresh tokens (``JWT_REFRESH_TTL_SECONDS``)."""
        return timedelta(seconds=int(self._setting("JWT_REFRESH_TTL_SECONDS", 1_209_600)))

    @property
    def _dummy_hash(self) -> str:
        # Checked for unknown emails, so that they cost as much time as a wrong password.
        passwords = self.passwords
        cached = self._parts.get("dummy_hash")
        if cached is None or cached[0] != (passwords.rounds,):
            cached = ((passwords.rounds,), passwords.hash(secrets.token_urlsafe(16)))
            self._parts["dummy_hash"] = cached
        dummy: str = cached[1]
        return dummy

    def locale_for(self, accept_language: str | None) -> str:
        """The email and page locale for an ``Accept-Language`` header.

        Args:
            accept_language: The header, or None.

        Returns:
            One of the supported locales; ``AUTH_DEFAULT_LOCALE`` when nothing matches.
        """
        default = normalize_locale(str(self._setting("AUTH_DEFAULT_LOCALE", "en-US")))
        return negotiate_locale(accept_language, SUPPORTED_LOCALES, default)

    def frontend_link(self, path: str, token: str) -> str | None:
        """The link to ``AUTH_FRONTEND_URL + path`` with the token, or None when it is unset.

        Args:
            path: The frontend page, e.g. ``"/activate"``.
            token: The emailed token.
        """
        from urllib.parse import urlencode

        frontend = str(self._setting("AUTH_FRONTEND_URL", "") or "").rstrip("/")
        if not frontend:
            return None
        return f"{frontend}{path}?{urlencode({'token': token})}"

    # -- checks ------------------------------------------------------------------------------

    def _check_email(self, email: str) -> str:
        from tempest.contrib.auth.accounts import check_email

        try:
            return check_email(email)
        except ValueError as error:
            raise ValidationException(
                str(error), code="INVALID_EMAIL", details={"field": "email"}
            ) from None

    def _check_new_password(self, password: str) -> str:
        from tempest.contrib.auth.accounts import check_password

        minimum = int(self._setting("AUTH_PASSWORD_MIN_LENGTH", 8))
        try:
            return check_password(password, minimum)
        except ValueError as error:
            raise ValidationException(
                str(error),
                code="PASSWORD_TOO_SHORT",
                details={"field": "password", "min_length": minimum},
            ) from None

    async def _hash_password(self, password: str) -> str:
        from starlette.concurrency import run_in_threadpool

        # bcrypt is slow on purpose: keep it off the event loop.
        return await run_in_threadpool(self.passwords.hash, password)

    async def _verify_password(self, password: str, hashed: str) -> bool:
        from starlette.concurrency import run_in_threadpool

        return await run_in_threadpool(self.passwords.verify, password, hashed)

    def _digest(self, token: str) -> str:
        return hash_opaque_token(token, secret=self.token_pepper)

    # -- users -------------------------------------------------------------------------------

    async def get_user(
        self, session: AsyncSession, user_id: str | uuid.UUID
    ) -> BaseUserModel | None:
        """The user with this id, or None (also for an id that is not a UUID).

        Args:
            session: The request's session.
            user_id: The id, e.g. a token's ``sub`` claim.
        """
        if not isinstance(user_id, uuid.UUID):
            try:
                user_id = uuid.UUID(str(user_id))
            except ValueError:
                return None
        return await session.get(self.user_model, user_id)

    async def _active_user(self, session: AsyncSession, user_id: Any) -> BaseUserModel | None:
        user = await self.get_user(session, user_id)
        return user if user is not None and user.is_active else None

    async def find_user(self, session: AsyncSession, email: str) -> BaseUserModel | None:
        """The user with this email (compared normalized), or None."""
        from tempest.contrib.auth.accounts import find_user

        return await find_user(session, email, self.user_model)

    # -- signup and activation ---------------------------------------------------------------

    async def signup(
        self,
        session: AsyncSession,
        email: str,
        password: str,
        *,
        activation_link: LinkBuilder | None = None,
        locale: str | None = None,
    ) -> BaseUserModel:
        """Create an account; email an activation link when ``AUTH_REQUIRE_ACTIVATION``.

        The account and its token are saved only if the email was sent.

        Args:
            session: The request's session.
            email: The new account's email.
            password: Its password (at least ``AUTH_PASSWORD_MIN_LENGTH`` characters).
            activation_link: Builds the emailed URL from the token; default
                ``AUTH_FRONTEND_URL + "/activate?token=..."``.
            locale: The email's locale; default ``AUTH_DEFAULT_LOCALE``.

        Returns:
            The new user (inactive until activated when activation is required).

        Raises:
            ValidationException: The email is malformed or the password too short (422).
            ConflictException: An account with this email exists (409).
            AppException: The activation email could not be sent (503).
        """
        email = self._check_email(email)
        self._check_new_password(password)
        require_activation = bool(self._setting("AUTH_REQUIRE_ACTIVATION", True))
        duplicate = ConflictException(
            "An account with this email already exists", code="EMAIL_TAKEN"
        )
        if await self.find_user(session, email) is not None:
            raise duplicate
        hashed = await self._hash_password(password)
        try:
            async with atomic(session):
                user = self.user_model(
                    email=email, hashed_password=hashed, is_active=not require_activation
                )
                session.add(user)
                await session.flush()
                if require_activation:
                    token = await self._issue_email_token(
                        session,
                        user,
                        UserTokenPurpose.ACTIVATION,
                        timedelta(
                            seconds=int(self._setting("AUTH_ACTIVATION_TTL_SECONDS", 86_400))
                        ),
                    )
                    link = self._link(activation_link, "/activate", token)
                    await self._send(user.email, "activation", link, locale)
        except IntegrityError:  # the same email signed up concurrently
            raise duplicate from None
        return user

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

    # -- login, refresh, logout --------------------------------------------------------------

    async def login(
        self, session: AsyncSession, email: str, password: str
    ) -> TokenPairResponseSchema | MFAChallengeResponseSchema:
        """Check the credentials; give a token pair, or an MFA challenge when MFA is on.

        Unknown emails and wrong passwords are answered alike, in about the same time.

        Args:
            session: The request's session.
            email: The account's email.
            password: Its password.

        Returns:
            A token pair, or ``{mfa_required, mfa_token}`` for ``POST /mfa/verify``.

        Raises:
            UnauthorizedException: Unknown email or wrong password (401
                ``INVALID_CREDENTIALS``).
            ForbiddenException: Right password, but the account is not active (403).
            TooManyRequestsException: Too many failures; retry after ``retry_after`` (429).
        """
        key = f"login:{normalize_email(email)}"
        await self._check_throttle(key)
        user = await self.find_user(session, email)
        if user is None or not user.hashed_password:
            await self._verify_password(password, self._dummy_hash)
            await self._fail(key, _invalid_credentials())
        assert user is not None
        if not await self._verify_password(password, user.hashed_password):
            await self._fail(key, _invalid_credentials())
        if not user.is_active:
            raise ForbiddenException(
                "This account is not active: follow the link in the activation email",
                code="ACCOUNT_INACTIVE",
            )
        await self.throttle.reset(key)
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
        model = self.refresh_token_model
        row = await session.scalar(
            select(model).where(model.token_hash == self._digest(refresh_token))
        )
        if row is None:
            raise InvalidTokenException()
        if row.used_at is not None or row.revoked_at is not None:
            await self._revoke_family(session, row.family_id)
            raise InvalidTokenException()
        if row.is_expired:
            raise ExpiredTokenException()
        async with atomic(session):
            # Conditional, so that two concurrent refreshes cannot both rotate the token.
            claimed = await session.execute(
                update(model)
                .where(model.id == row.id, model.used_at.is_(None), model.revoked_at.is_(None))
                .values(used_at=utcnow())
                .execution_options(synchronize_session=False)
            )
            reused = getattr(claimed, "rowcount", 0) != 1
            user = None if reused else await self._active_user(session, row.user_id)  # type: ignore[attr-defined]
            if user is not None:
                return await self._sign_in(session, user, family_id=row.family_id)
        if reused:
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
        model = self.refresh_token_model
        row = await session.scalar(
            select(model).where(model.token_hash == self._digest(refresh_token))
        )
        if row is None:
            raise InvalidTokenException()
        await self._revoke_family(session, row.family_id)

    async def _revoke_family(self, session: AsyncSession, family_id: uuid.UUID) -> None:
        model = self.refresh_token_model
        async with atomic(session):
            await session.execute(
                update(model)
                .where(model.family_id == family_id, model.revoked_at.is_(None))
                .values(revoked_at=utcnow())
                .execution_options(synchronize_session=False)
            )

    async def revoke_all_refresh_tokens(self, session: AsyncSession, user: BaseUserModel) -> None:
        """Sign a user out everywhere: revoke every refresh token they hold.

        Args:
            session: The request's session.
            user: The user.
        """
        model = self.refresh_token_model
        async with atomic(session):
            await session.execute(
                update(model)
                .where(model.user_id == user.id, model.revoked_at.is_(None))  # type: ignore[attr-defined]
                .values(revoked_at=utcnow())
                .execution_options(synchronize_session=False)
            )

    async def _sign_in(
        self, session: AsyncSession, user: BaseUserModel, *, family_id: uuid.UUID | None = None
    ) -> TokenPairResponseSchema:
        access_token = self.tokens.encode(
            {"sub": str(user.id)}, ttl=self.access_ttl, token_type="access"
        )
        refresh_token = generate_opaque_token()
        async with atomic(session):
            if family_id is None:
                user.last_login_at = utcnow()
            session.add(
                self.refresh_token_model(
                    user_id=user.id,
                    token_hash=self._digest(refresh_token),
                    family_id=family_id or uuid.uuid4(),
                    expires_at=utcnow() + self.refresh_ttl,
                )
            )
        return TokenPairResponseSchema(
            access_token=access_token,
            refresh_token=refresh_token,
            expires_in=int(self.access_ttl.total_seconds()),
        )

    async def _check_throttle(self, key: str) -> None:
        status = await self.throttle.check(key)
        if status.locked:
            raise TooManyRequestsException(
                "Too many failed attempts; try again later",
                retry_after=status.retry_after_seconds,
                details={"retry_after": status.retry_after_seconds},
            )

    async def _fail(self, key: str, error: AppException) -> None:
        status = await self.throttle.record_failure(key)
        if status.locked:
            raise TooManyRequestsException(
                "Too many failed attempts; try again later",
                retry_after=status.retry_after_seconds,
                details={"retry_after": status.retry_after_seconds},
            )
        raise error

    # -- password reset ----------------------------------------------------------------------

    async def request_password_reset(
        self,
        session: AsyncSession,
        email: str,
        *,
        reset_link: LinkBuilder | None = None,
        locale: str | None = None,
    ) -> None:
        """Email a reset link to an active account; do nothing visible otherwise.

        Returns the same way whether or not the account exists, and also when the email
        cannot be sent (the failure is logged), so that the answer reveals nothing.

        Args:
            session: The request's session.
            email: Where to send the link.
            reset_link: Builds the emailed URL from the token; default
                ``AUTH_FRONTEND_URL + "/password-reset?token=..."``.
            locale: The email's locale.

        Raises:
            ValidationException: The email is malformed (422).
        """
        email = self._check_email(email)
        user = await self.find_user(session, email)
        if user is None or not user.is_active:
            return
        ttl = timedelta(seconds=int(self._setting("AUTH_PASSWORD_RESET_TTL_SECONDS", 3_600)))
        await self._send_token_quietly(
            session, user, UserTokenPurpose.PASSWORD_RESET, ttl, reset_link, locale
        )

    async def resend_activation(
        self,
        session: AsyncSession,
        email: str,
        *,
        activation_link: LinkBuilder | None = None,
        locale: str | None = None,
    ) -> None:
        """Email a new activation link to an account that is not active yet.

        For a user whose first link expired or got lost. Returns the same way whether or
        not such an account exists (a failed email is logged), so the answer reveals
        nothing; the earlier links keep working until they expire.

        Args:
            session: The request's session.
            email: The account's email.
            activation_link: Builds the emailed URL from the token; default
                ``AUTH_FRONTEND_URL + "/activate?token=..."``.
            locale: The email's locale.

        Raises:
            ValidationException: The email is malformed (422).
        """
        email = self._check_email(email)
        user = await self.find_user(session, email)
        if user is None or user.is_active or not self._setting("AUTH_REQUIRE_ACTIVATION", True):
            return
        ttl = timedelta(seconds=int(self._setting("AUTH_ACTIVATION_TTL_SECONDS", 86_400)))
        await self._send_token_quietly(
            session, user, UserTokenPurpose.ACTIVATION, ttl, activation_link, locale
        )

    async def _send_token_quietly(
        self,
        session: AsyncSession,
        user: BaseUserModel,
        purpose: UserTokenPurpose,
        ttl: timedelta,
        link: LinkBuilder | None,
        locale: str | None,
    ) -> None:
        """Issue an emailed token and send it; an email that fails is logged, not raised."""
        import logging

        from tempest.mail import EmailError

        template, path = _EMAILS[purpose]
        try:
            async with atomic(session):
                token = await self._issue_email_token(session, user, purpose, ttl)
                await self._send(user.email, template, self._link(link, path, token), locale)
        except AppException as error:
            if not isinstance(error.__cause__, EmailError):
                raise
            logging.getLogger(__name__).error("%s email not sent: %s", template, error.__cause__)

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
            ValidationException: The password is too short (422).
            InvalidTokenException: Unknown or already used token (401).
            ExpiredTokenException: The token expired (401).
        """
        self._check_new_password(password)
        hashed = await self._hash_password(password)
        model = self.token_model
        async with atomic(session):
            row = await self._use_email_token(session, token, UserTokenPurpose.PASSWORD_RESET)
            user = await self.get_user(session, row.user_id)  # type: ignore[attr-defined]
            if user is None:
                raise InvalidTokenException()
            user.hashed_password = hashed
            # Other reset links sent earlier die with this one.
            await session.execute(
                update(model)
                .where(
                    model.user_id == user.id,  # type: ignore[attr-defined]
                    model.purpose == UserTokenPurpose.PASSWORD_RESET.value,
                    model.used_at.is_(None),
                )
                .values(used_at=utcnow())
                .execution_options(synchronize_session=False)
            )
            await self.revoke_all_refresh_tokens(session, user)
        return user

    async def _issue_email_token(
        self, session: AsyncSession, user: BaseUserModel, purpose: UserTokenPurpose, ttl: timedelta
    ) -> str:
        token = generate_opaque_token()
        session.add(
            self.token_model(
                user_id=user.id,
                purpose=purpose.value,
                token_hash=self._digest(token),
                expires_at=utcnow() + ttl,
            )
        )
        await session.flush()
        return token

    async def _use_email_token(
        self, session: AsyncSession, token: str, purpose: UserTokenPurpose
    ) -> BaseUserTokenModel:
        model = self.token_model
        row = await session.scalar(
            select(model).where(
                model.token_hash == self._digest(token), model.purpose == purpose.value
            )
        )
        if row is None or row.used_at is not None:
            raise InvalidTokenException()
        if row.is_expired:
            raise ExpiredTokenException()
        claimed = await session.execute(
            update(model)
            .where(model.id == row.id, model.used_at.is_(None))
            .values(used_at=utcnow())
            .execution_options(synchronize_session=False)
        )
        if getattr(claimed, "rowcount", 0) != 1:
            raise InvalidTokenException()
        return row

    def _link(self, builder: LinkBuilder | None, path: str, token: str) -> str:
        if builder is not None:
            return builder(token)
        link = self.frontend_link(path, token)
        if link is None:
            raise ImproperlyConfigured(
                f"No link for the {path.strip('/')} email: set AUTH_FRONTEND_URL, or pass a "
                "link builder (make_auth_router does, pointing at its own pages)."
            )
        return link

    async def _send(self, to: str, template: str, link: str, locale: str | None) -> None:
        from tempest.mail import EmailError

        context = {"link": link, "email": to, "app_name": self.totp.issuer}
        try:
            await self.mailer.send_template(to, template, context, locale=locale)
        except EmailError as error:
            raise AppException(
                "The email could not be sent; try again later",
                code="EMAIL_NOT_SENT",
                status_code=503,
            ) from error

    # -- MFA ---------------------------------------------------------------------------------

    def _require_mfa_model(self, user: BaseUserModel) -> None:
        if not hasattr(user, "mfa_secret"):
            raise ImproperlyConfigured(
                f"{type(user).__name__} has no MFA columns: add MFAMixin to the user model "
                "(class User(BaseUserModel, MFAMixin)) and make a migration."
            )

    async def mfa_enroll(
        self, session: AsyncSession, user: BaseUserModel
    ) -> MFAEnrollResponseSchema:
        """Start MFA enrolment: a new secret, enabled only once a code confirms it.

        Args:
            session: The request's session.
            user: The signed-in user.

        Returns:
            The secret and its ``otpauth://`` URI.

        Raises:
            ConflictException: MFA is already on (409); disable it first.
        """
        self._require_mfa_model(user)
        if user.mfa_enabled:  # type: ignore[attr-defined]
            raise ConflictException(
                "MFA is already enabled: disable it first to enrol a new authenticator",
                code="MFA_ALREADY_ENABLED",
            )
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
        model = self.recovery_code_model
        async with atomic(session):
            user.mfa_enabled = True  # type: ignore[attr-defined]
            user.mfa_last_used_step = step  # type: ignore[attr-defined]
            await session.execute(delete(model).where(model.user_id == user.id))  # type: ignore[attr-defined]
            session.add_all(
                model(user_id=user.id, code_hash=self._digest(_normalize_recovery(code)))
                for code in codes
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
            TooManyRequestsException: Too many wrong codes (429).
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
        await self.throttle.reset(key)
        return await self._sign_in(session, user)

    async def mfa_disable(
        self,
        session: AsyncSession,
        user: BaseUserModel,
        *,
        code: str | None = None,
        password: str | None = None,
    ) -> None:
        """Turn MFA off, proven by a current code or the password; drop the recovery codes.

        Args:
            session: The request's session.
            user: The signed-in user.
            code: A code from the app.
            password: The account's password.

        Raises:
            ConflictException: MFA is not enabled (409).
            ForbiddenException: The code or password is wrong (403).
            TooManyRequestsException: Too many wrong attempts (429).
        """
        self._require_mfa_model(user)
        if not user.mfa_enabled:  # type: ignore[attr-defined]
            raise ConflictException("MFA is not enabled", code="MFA_NOT_ENABLED")
        key = f"mfa:{user.id}"
        await self._check_throttle(key)
        if code is not None:
            proven = await self._accept_totp(session, user, code)
        else:
            proven = bool(password and user.hashed_password) and await self._verify_password(
                password or "", user.hashed_password
            )
        if not proven:
            await self._fail(
                key,
                ForbiddenException("The code or password is wrong", code="INVALID_MFA_PROOF"),
            )
        await self.throttle.reset(key)
        model = self.recovery_code_model
        async with atomic(session):
            user.mfa_enabled = False  # type: ignore[attr-defined]
            user.mfa_secret = None  # type: ignore[attr-defined]
            user.mfa_last_used_step = None  # type: ignore[attr-defined]
            await session.execute(delete(model).where(model.user_id == user.id))  # type: ignore[attr-defined]

    async def _accept_totp(self, session: AsyncSession, user: Any, code: str) -> bool:
        step = self.totp.verify(user.mfa_secret, code, last_used_step=user.mfa_last_used_step)
        if step is None:
            return False
        model = type(user)
        async with atomic(session):
            # Conditional, so that the same code sent twice at once is accepted once.
            claimed = await session.execute(
                update(model)
                .where(
                    model.id == user.id,
                    (model.mfa_last_used_step.is_(None)) | (model.mfa_last_used_step < step),
                )
                .values(mfa_last_used_step=step)
                .execution_options(synchronize_session=False)
            )
        if getattr(claimed, "rowcount", 0) != 1:
            return False
        user.mfa_last_used_step = step
        return True

    async def _use_recovery_code(
        self, session: AsyncSession, user: BaseUserModel, code: str
    ) -> bool:
        model = self.recovery_code_model
        normalized = _normalize_recovery(code)
        if not normalized:
            return False
        async with atomic(session):
            claimed = await session.execute(
                update(model)
                .where(
                    model.user_id == user.id,  # type: ignore[attr-defined]
                    model.code_hash == self._digest(normalized),
                    model.used_at.is_(None),
                )
                .values(used_at=utcnow())
                .execution_options(synchronize_session=False)
            )
        return getattr(claimed, "rowcount", 0) == 1

    @staticmethod
    def _new_recovery_code() -> str:
        raw = "".join(secrets.choice(_RECOVERY_ALPHABET) for _ in range(10))
        return f"{raw[:5]}-{raw[5:]}"

    # -- dependencies ------------------------------------------------------------------------

    def current_user_dependency(
        self,
        soft: bool = False,
        *,
        session_dependency: Callable[..., Awaitable[AsyncSession] | AsyncSession] = get_session,
    ) -> Callable[..., Awaitable[BaseUserModel | None]]:
        """A FastAPI dependency giving the user of the request's bearer access token.

        The user is loaded on the request's session, so a route can change it and save it
        with the repositories it uses.

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
                return await service._active_user(session, claims.get("sub"))
            claims = bearer_claims(service.tokens, credentials)
            user = await service._active_user(session, claims.get("sub"))
            if user is None:
                raise UnauthorizedException(
                    "The account of this token does not exist or is not active",
                    code="INVALID_TOKEN",
                    headers={"WWW-Authenticate": 'Bearer error="invalid_token"'},
                )
            return user

        return current_user


def _normalize_recovery(code: str) -> str:
    return "".join(code.split()).replace("-", "").lower()
