"""The rules of the bundled auth flow: :class:`UserAuthService`.

Signup with email activation, login with brute-force throttling and an optional TOTP
step, refresh tokens stored as peppered digests and rotated on every use (a reused one
revokes its whole family), logout, password reset by email, and MFA enrolment with
one-time recovery codes. :func:`~tempest.contrib.auth.router.make_auth_router` exposes
these methods as HTTP endpoints; every method takes the request's ``session``.
"""

from __future__ import annotations

import logging
import math
import secrets
import uuid
from collections.abc import Awaitable, Callable, Iterator
from contextlib import contextmanager
from datetime import timedelta
from functools import cached_property
from pathlib import Path
from typing import TYPE_CHECKING, Any, NamedTuple, NoReturn, TypeVar

from fastapi import Depends
from sqlalchemy import delete, select, update
from sqlalchemy.exc import IntegrityError
from sqlalchemy.ext.asyncio import AsyncSession
from starlette.background import BackgroundTasks

from tempest.api.dependencies.bearer import BearerCredentials, bearer_claims
from tempest.contrib.auth.base import (
    BaseUserModel,
    BaseUserRecoveryCodeModel,
    BaseUserRefreshTokenModel,
    BaseUserTokenModel,
    UserTokenPurpose,
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
    from starlette.requests import HTTPConnection

    from tempest.contrib.auth.throttling import SignInThrottle
    from tempest.mail import EmailUtils
    from tempest.utils.jwt import JWTUtils
    from tempest.utils.passwords import PasswordUtils
    from tempest.utils.throttle import AttemptThrottle, ThrottleResult
    from tempest.utils.totp import TOTPHelper

__all__ = ["DEFAULT_EMAIL_TEMPLATES", "LinkBuilder", "UserAuthService"]

DEFAULT_EMAIL_TEMPLATES = Path(__file__).parent / "templates" / "email"
"""The bundled activation and password-reset emails (en-US and pt-BR)."""

LinkBuilder = Callable[[str], str]
"""Turns an emailed token into the absolute URL the email links to."""

logger = logging.getLogger(__name__)

MFA_TOKEN_TYPE = "mfa"
EMAIL_CHANGE_TOKEN_TYPE = "email_change"
AUTH_TIME_CLAIM = "auth_time"
"""The access-token claim holding when the user signed in (Unix seconds, as in OIDC).

Set by a sign-in (login, MFA verification, password change), not by a refresh: a fresh
one stands in for re-entering the password (``AUTH_REAUTH_SECONDS``).
"""
SESSION_VERSION_CLAIM = "sv"
"""The access-token claim holding the user's ``session_version`` when it was issued."""
RECOVERY_CODE_COUNT = 10
_RECOVERY_ALPHABET = "abcdefghjkmnpqrstuvwxyz23456789"  # no 0/o, 1/l/i to misread
_MFA_TOKEN_TTL = timedelta(minutes=5)

_Model = TypeVar("_Model")
_Built = TypeVar("_Built")

_MAILER_SETTINGS = (
    "EMAIL_BACKEND",
    "DEBUG",
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


def _too_many(retry_after: int) -> TooManyRequestsException:
    return TooManyRequestsException(
        "Too many failed attempts; try again later",
        retry_after=retry_after,
        details={"retry_after": retry_after},
    )


@contextmanager
def _fail_closed() -> Iterator[None]:
    """Refuse (503) rather than check a password or code unthrottled."""
    from tempest.utils.throttle import ThrottleUnavailableError

    try:
        yield
    except ThrottleUnavailableError:
        raise AppException(
            "Sign-in is unavailable right now (the attempt counter cannot be reached: "
            "check AUTH_THROTTLE_URL); try again in a moment",
            code="THROTTLE_UNAVAILABLE",
            status_code=503,
        ) from None


def _invalid_mfa_code() -> UnauthorizedException:
    return UnauthorizedException(
        "The code is wrong, expired or already used", code="INVALID_MFA_CODE"
    )


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
        """Counts login and MFA attempts per account (see :attr:`sign_in_throttle`)."""
        if self._throttle is not None:
            return self._throttle
        return self.sign_in_throttle.accounts

    @property
    def sign_in_throttle(self) -> SignInThrottle:
        """The per-account and per-client sign-in limits.

        Default the project's, shared with the admin
        (:func:`~tempest.contrib.auth.throttling.get_sign_in_throttle`); with a
        ``throttle`` given, that one per account plus ``AUTH_MAX_ATTEMPTS_PER_CLIENT`` per
        client on its backend.

        Raises:
            ImproperlyConfigured: ``AUTH_THROTTLE_URL`` names an unknown backend.
        """
        from tempest.contrib.auth.throttling import SignInThrottle, get_sign_in_throttle

        given = self._throttle
        if given is None:
            return get_sign_in_throttle(self.settings)

        def build() -> SignInThrottle:
            per_client = int(self._setting("AUTH_MAX_ATTEMPTS_PER_CLIENT", 20))
            return SignInThrottle.for_accounts(given, max_attempts_per_client=per_client)

        return self._built("sign_in_throttle", ("AUTH_MAX_ATTEMPTS_PER_CLIENT",), build)

    def client_ip(self, request: HTTPConnection) -> str | None:
        """The client address of ``request``, believing the proxies of ``TRUSTED_PROXIES``.

        Args:
            request: The request.
        """
        from tempest.utils.client_ip import get_client_ip_from_scope, parse_trusted_proxies

        proxies = self._built(
            "trusted_proxies",
            ("TRUSTED_PROXIES",),
            lambda: parse_trusted_proxies(self._setting("TRUSTED_PROXIES", None)),
        )
        return get_client_ip_from_scope(request.scope, trusted_proxies=proxies)

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
    def requires_activation(self) -> bool:
        """Whether new accounts wait for the emailed link (``AUTH_REQUIRE_ACTIVATION``)."""
        return bool(self._setting("AUTH_REQUIRE_ACTIVATION", True))

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

    def _check_new_password(
        self, password: str, user: Any = None, *, field: str = "password"
    ) -> str:
        """``password``, or a 422 ``PASSWORD_INVALID`` listing every rule it breaks.

        The rules are ``AUTH_PASSWORD_VALIDATORS`` (:func:`~tempest.contrib.auth.
        password_validation.validate_password`); ``user`` (or anything with an ``email``)
        feeds the similarity rule.
        """
        from tempest.contrib.auth.password_validation import (
            PasswordValidationError,
            validate_password,
        )

        try:
            validate_password(password, user)
        except PasswordValidationError as error:
            raise ValidationException(
                str(error),
                code="PASSWORD_INVALID",
                details={
                    "field": field,
                    "errors": [problem.as_dict() for problem in error.problems],
                },
            ) from None
        return password

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
                    user = self.user_model(
                        email=email, hashed_password=hashed, is_active=not require_activation
                    )
                    session.add(user)
                    await session.flush()
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
        with _fail_closed():
            attempt = await throttle.begin(email, client_ip)
        if not attempt.allowed:
            raise _too_many(attempt.retry_after_seconds)
        user = await self.find_user(session, email)
        if user is None or not user.hashed_password:
            await self._verify_password(password, self._dummy_hash)
            user = None
        elif not await self._verify_password(password, user.hashed_password):
            user = None
        if user is None:
            if attempt.last:  # that was the account's last attempt of the window
                raise _too_many(attempt.retry_after_seconds)
            raise _invalid_credentials()
        if not user.is_active:
            raise ForbiddenException(
                "This account is not active: follow the link in the activation email",
                code="ACCOUNT_INACTIVE",
            )
        with _fail_closed():
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
            session.add(
                self.refresh_token_model(
                    user_id=user.id,
                    token_hash=self._digest(refresh_token),
                    family_id=family_id or uuid.uuid4(),
                    expires_at=utcnow() + self.refresh_ttl,
                    session_version=version,
                )
            )
        return TokenPairResponseSchema(
            access_token=access_token,
            refresh_token=refresh_token,
            expires_in=int(self.access_ttl.total_seconds()),
        )

    async def _check_throttle(self, key: str) -> ThrottleResult:
        """Reserve an attempt of ``key`` *before* the check it guards; 429 when locked.

        Counting first means that N concurrent requests cannot all pass: at most
        ``AUTH_MAX_LOGIN_ATTEMPTS`` are evaluated per window. A failure then needs no
        recording (:meth:`_fail`); a success calls ``self.throttle.reset(key)``.
        """
        with _fail_closed():
            result = await self.throttle.attempt(key)
        if result.locked:
            raise _too_many(result.retry_after_seconds)
        return result

    async def _fail(self, key: str, error: AppException) -> NoReturn:
        """The guarded check failed; its attempt is already counted.

        Raises ``error``, or 429 when the key has no attempt left in its window.
        """
        with _fail_closed():
            state = await self.throttle.check(key)
        if state.locked or state.attempts_left == 0:
            raise _too_many(state.retry_after_seconds or math.ceil(self.throttle.window_seconds))
        raise error

    # -- password reset ----------------------------------------------------------------------

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

    # -- emails, sent after the response ------------------------------------------------------

    async def _later(self, background: BackgroundTasks | None, job: _EmailJob) -> None:
        """Run ``job`` after the response when ``background`` is given, else now.

        Either way a failure is logged (``tempest.contrib.auth.service``, level ERROR) and
        not raised: the answer must not depend on whether an email went out.
        """
        if background is None:
            await _run_logged(job)
        else:
            background.add_task(_run_logged, job)

    def _token_email_job(
        self,
        user_id: uuid.UUID,
        purpose: UserTokenPurpose,
        ttl: timedelta,
        link: LinkBuilder | None,
        locale: str | None,
    ) -> _EmailJob:
        """A job that issues an emailed token in its own session, then sends the email.

        The token is committed before the email leaves, so the link works when it arrives.
        """
        template, path = _EMAILS[purpose]

        async def job() -> None:
            # work_session: in a project's tests it is the test's db_session (which holds
            # the new user), so the email reaches `mailoutbox`.
            from tempest.db.session import work_session

            async with work_session() as session:
                user = await self.get_user(session, user_id)
                if user is None:
                    return
                async with atomic(session):
                    token = await self._issue_email_token(session, user, purpose, ttl)
                to = user.email
            await self._send(to, template, self._link(link, path, token), locale)

        return _EmailJob(job, template)

    def _email_job(
        self, to: str, template: str, link: str | None, locale: str | None, **context: Any
    ) -> _EmailJob:
        async def job() -> None:
            await self._send(to, template, link or "", locale, **context)

        return _EmailJob(job, template)

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

    async def _use_up_email_tokens(
        self, session: AsyncSession, user: BaseUserModel, purpose: UserTokenPurpose
    ) -> None:
        """Mark the user's unused ``purpose`` tokens used: links sent earlier die."""
        model = self.token_model
        await session.execute(
            update(model)
            .where(
                model.user_id == user.id,  # type: ignore[attr-defined]
                model.purpose == purpose.value,
                model.used_at.is_(None),
            )
            .values(used_at=utcnow())
            .execution_options(synchronize_session=False)
        )

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

    async def _send(
        self, to: str, template: str, link: str, locale: str | None, **extra: Any
    ) -> None:
        from tempest.mail import EmailError

        context = {"link": link, "email": to, "app_name": self.totp.issuer, **extra}
        try:
            await self.mailer.send_template(to, template, context, locale=locale)
        except EmailError as error:
            raise AppException(
                "The email could not be sent; try again later",
                code="EMAIL_NOT_SENT",
                status_code=503,
            ) from error

    # -- re-authentication, password and email change -----------------------------------------

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
        with _fail_closed():
            attempt = await throttle.begin(user.email, client_ip)
        if not attempt.allowed:
            raise _too_many(attempt.retry_after_seconds)
        if not user.hashed_password or not await self._verify_password(
            password, user.hashed_password
        ):
            if attempt.last:  # that was the account's last attempt of the window
                raise _too_many(attempt.retry_after_seconds)
            raise ForbiddenException("The password is wrong", code="WRONG_PASSWORD")
        with _fail_closed():
            await throttle.succeeded(attempt)

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
            jti = generate_opaque_token()
            async with atomic(session):
                session.add(
                    self.token_model(
                        user_id=user.id,
                        purpose=UserTokenPurpose.EMAIL_CHANGE.value,
                        token_hash=self._digest(jti),
                        expires_at=utcnow() + ttl,
                    )
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

    # -- MFA ---------------------------------------------------------------------------------

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
        with _fail_closed():
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
        await self.throttle.reset(key)
        model = self.recovery_code_model
        async with atomic(session):
            user.mfa_enabled = False  # type: ignore[attr-defined]
            user.mfa_secret = None  # type: ignore[attr-defined]
            user.mfa_last_used_step = None  # type: ignore[attr-defined]
            await session.execute(delete(model).where(model.user_id == user.id))  # type: ignore[attr-defined]

    async def _accept_totp(self, session: AsyncSession, user: Any, code: str) -> bool:
        from tempest.contrib.auth.accounts import accept_totp_code

        async with atomic(session):  # the same code sent twice at once is accepted once
            return await accept_totp_code(session, user, code, self.totp)

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
                return found if found is not None and service._current(claims, found) else None
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
            return user

        return current_user

    def _current(self, claims: dict[str, Any], user: BaseUserModel) -> bool:
        """Whether an access token's ``sv`` claim is the user's ``session_version``."""
        if not self._setting("AUTH_REVOKE_ACCESS_TOKENS", True):
            return True
        version = claims.get(SESSION_VERSION_CLAIM)
        return type(version) is int and version == user.session_version


class _EmailJob(NamedTuple):
    """An email to send after the response, and the template's name for the log."""

    run: Callable[[], Awaitable[None]]
    template: str


async def _run_logged(job: _EmailJob) -> None:
    """Run an email job; log a failure instead of raising it (nobody waits for it)."""
    try:
        await job.run()
    except Exception as error:  # a background job has no caller to raise to
        cause = error.__cause__ if isinstance(error, AppException) and error.__cause__ else error
        logger.error("%s email not sent: %s", job.template, cause, exc_info=error)


def _normalize_recovery(code: str) -> str:
    return "".join(code.split()).replace("-", "").lower()
