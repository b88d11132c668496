"""What every part of :class:`~tempest.contrib.auth.service.UserAuthService` shares.

:class:`AuthServiceCore` takes the service's parts (models, token signer, password hasher,
mailer, throttle, TOTP checker, pepper, settings) and builds the missing ones from the
settings on first use. It also holds the checks every flow makes (email syntax, password
rules, password hashing off the event loop, token digests) and the user look-ups. The
flows themselves are mixins over it, one module per concern (see
:mod:`tempest.contrib.auth.service`).
"""

from __future__ import annotations

import secrets
import uuid
from collections.abc import Awaitable, Callable, Iterator
from contextlib import contextmanager
from datetime import datetime, timedelta
from functools import cached_property
from pathlib import Path
from typing import TYPE_CHECKING, Any, TypeVar

from sqlalchemy.ext.asyncio import AsyncSession

from tempest.contrib.auth.base import (
    BaseUserModel,
    BaseUserRecoveryCodeModel,
    BaseUserRefreshTokenModel,
    BaseUserTokenModel,
    password_utils,
)
from tempest.contrib.auth.repositories import (
    EmailTokenRepository,
    RecoveryCodeRepository,
    RefreshTokenRepository,
    UserRepository,
)
from tempest.exceptions import (
    AppException,
    ImproperlyConfigured,
    TooManyRequestsException,
    ValidationException,
)
from tempest.utils.locale import SUPPORTED_LOCALES, negotiate_locale, normalize_locale
from tempest.utils.opaque_tokens import hash_opaque_token

if TYPE_CHECKING:
    from starlette.requests import HTTPConnection

    from tempest.contrib.auth.throttling import SignInThrottle
    from tempest.mail import EmailUtils
    from tempest.utils.jwt import JWTUtils
    from tempest.utils.passwords import PasswordUtils
    from tempest.utils.throttle import AttemptThrottle
    from tempest.utils.totp import TOTPHelper

__all__ = [
    "AUTH_TIME_CLAIM",
    "DEFAULT_EMAIL_TEMPLATES",
    "SESSION_VERSION_CLAIM",
    "AuthServiceCore",
    "LinkBuilder",
    "fail_closed",
    "too_many",
]

DEFAULT_EMAIL_TEMPLATES = Path(__file__).parent / "templates" / "email"
"""The bundled activation and password-reset emails (en-US and pt-BR)."""

LinkBuilder = Callable[[str], str]
"""Turns an emailed token into the absolute URL the email links to."""

AUTH_TIME_CLAIM = "auth_time"
"""The access-token claim holding when the user signed in (Unix seconds, as in OIDC).

Set by a sign-in (login, MFA verification, password change), not by a refresh: a fresh
one stands in for re-entering the password (``AUTH_REAUTH_SECONDS``).
"""
SESSION_VERSION_CLAIM = "sv"
"""The access-token claim holding the user's ``session_version`` when it was issued."""

_Model = TypeVar("_Model")
_Built = TypeVar("_Built")
_Found = TypeVar("_Found")

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


def too_many(retry_after: int) -> TooManyRequestsException:
    """The 429 of a locked account, client or MFA step, with when to retry."""
    return TooManyRequestsException(
        "Too many failed attempts; try again later",
        retry_after=retry_after,
        details={"retry_after": retry_after},
    )


@contextmanager
def fail_closed() -> Iterator[None]:
    """Refuse (503 ``THROTTLE_UNAVAILABLE``) when the attempt counter cannot be reached.

    Wraps every call to the sign-in throttle: no password or code is checked
    unthrottled, and a counter lost halfway (a reset after a success) is a 503 too,
    never a bare 500.
    """
    from tempest.utils.throttle import ThrottleUnavailableError

    try:
        yield
    except ThrottleUnavailableError:
        raise AppException(
            "Sign-in is unavailable right now (the attempt counter cannot be reached: "
            "check AUTH_THROTTLE_URL); try again in a moment",
            code="THROTTLE_UNAVAILABLE",
            status_code=503,
            headers={"Retry-After": "5"},
        ) from None


class AuthServiceCore:
    """The parts, settings, checks and user look-ups of :class:`UserAuthService`.

    Not used alone: :class:`~tempest.contrib.auth.service.UserAuthService` adds the flows.
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
            (
                "JWT_SECRET",
                "JWT_ALGORITHM",
                "JWT_ISSUER",
                "JWT_ACCESS_TTL_SECONDS",
                "JWT_SECRET_FALLBACKS",
            ),
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
            fallback_secrets=self._previous_secrets("JWT_SECRET_FALLBACKS"),
        )

    def _previous_secrets(self, setting: str) -> list[tuple[str, datetime]]:
        """The ``(secret, until)`` pairs of a ``*_FALLBACKS`` setting still in their grace."""
        from tempest.conf.rotation import active_secrets

        return active_secrets(self._setting(setting, None) or ())

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

    async def _find_digest(
        self, find: Callable[[str], Awaitable[_Found | None]], token: str
    ) -> _Found | None:
        """``find(digest)`` under the current pepper, then under each previous one.

        After ``secrets rotate`` the old ``SECRET_KEY`` (or ``JWT_SECRET`` when it is the
        pepper) stays in ``SECRET_KEY_FALLBACKS`` for a grace period, so that tokens
        stored before the rotation are still found until then.
        """
        found = await find(self._digest(token))
        if found is not None or self._token_pepper is not None:
            return found
        setting = (
            "SECRET_KEY_FALLBACKS" if self._setting("SECRET_KEY", "") else "JWT_SECRET_FALLBACKS"
        )
        for pepper, _until in self._previous_secrets(setting):
            found = await find(hash_opaque_token(token, secret=pepper))
            if found is not None:
                return found
        return None

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
        return await self._users(session).by_id(user_id)

    async def _active_user(self, session: AsyncSession, user_id: Any) -> BaseUserModel | None:
        user = await self.get_user(session, user_id)
        return user if user is not None and user.is_active else None

    async def find_user(self, session: AsyncSession, email: str) -> BaseUserModel | None:
        """The user with this email (compared normalized), or None."""
        return await self._users(session).by_email(email)

    # -- repositories: the SQL of each table, over the request's session ---------------------

    def _users(self, session: AsyncSession) -> UserRepository:
        """The repository of :attr:`user_model` on ``session``."""
        return UserRepository(session, self.user_model)

    def _email_tokens(self, session: AsyncSession) -> EmailTokenRepository:
        """The repository of :attr:`token_model` (emailed tokens) on ``session``."""
        return EmailTokenRepository(session, self.token_model)

    def _refresh_tokens(self, session: AsyncSession) -> RefreshTokenRepository:
        """The repository of :attr:`refresh_token_model` on ``session``."""
        return RefreshTokenRepository(session, self.refresh_token_model)

    def _recovery_codes(self, session: AsyncSession) -> RecoveryCodeRepository:
        """The repository of :attr:`recovery_code_model` (MFA recovery codes) on ``session``."""
        return RecoveryCodeRepository(session, self.recovery_code_model)
