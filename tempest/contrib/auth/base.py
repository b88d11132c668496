"""The building blocks of user models: abstract bases, mixins and model factories.

Importing this module defines no table. ``tempest.contrib.auth.models`` uses these to
define the default user model and its token tables; a project with its own user model
(``AUTH_USER_MODEL = "accounts.User"``) uses them in its app::

    class User(BaseUserModel, MFAMixin):
        __tablename__ = "account_user"

    UserToken = make_user_token_model(User)
    UserRecoveryCode = make_user_recovery_code_model(User)
    UserRefreshToken = make_user_refresh_token_model(User)
"""

from __future__ import annotations

import sys
import uuid
from datetime import datetime
from functools import cache
from typing import TYPE_CHECKING, Any, ClassVar, TypeVar

from sqlalchemy import BigInteger, Boolean, ForeignKey, Integer, String, Uuid, false
from sqlalchemy.orm import Mapped, mapped_column, validates

from tempest.db.models import BaseModel
from tempest.db.types import UTCDateTime
from tempest.utils import utcnow
from tempest.utils.enums import BaseStrEnum

if TYPE_CHECKING:
    from tempest.utils.passwords import PasswordUtils

__all__ = [
    "BaseUserModel",
    "BaseUserRecoveryCodeModel",
    "BaseUserRefreshTokenModel",
    "BaseUserTokenModel",
    "MFAMixin",
    "UserTokenPurpose",
    "make_user_recovery_code_model",
    "make_user_refresh_token_model",
    "make_user_token_model",
    "normalize_email",
]

_Model = TypeVar("_Model", bound=BaseModel)


def normalize_email(email: str) -> str:
    """The form emails are stored and looked up in: stripped and lowercased."""
    return email.strip().lower()


@cache
def _password_utils(rounds: int) -> PasswordUtils:
    from tempest.utils.passwords import PasswordUtils

    return PasswordUtils(rounds=rounds)


def password_utils() -> PasswordUtils:
    """The project's password hasher (cost from ``AUTH_PASSWORD_HASH_ROUNDS``, else 12)."""
    from tempest.conf import settings

    try:
        rounds = int(settings.AUTH_PASSWORD_HASH_ROUNDS)
    except Exception:  # settings not configured, or a project without AuthSettings
        rounds = 12
    return _password_utils(rounds)


class BaseUserModel(BaseModel):
    """A user who signs in with an email and a password.

    Adds ``email`` (unique, stored normalized), ``hashed_password`` (bcrypt; empty means
    the user cannot sign in with a password), ``is_admin``, ``last_login_at`` and
    ``session_version`` to BaseModel's columns. Only users with ``is_active`` sign in; only
    those that are also ``is_admin`` enter the admin site.

    ``session_version`` is carried by every access token (claim ``sv``), refresh token and
    admin cookie issued to the user, and compared on each request: raising it ends all of
    them. :meth:`set_password_hash` (and so :meth:`set_password` and
    :meth:`set_unusable_password`), setting ``is_active`` or ``is_admin`` to False, and
    :meth:`end_sessions` raise it.

    The audit trail never stores ``hashed_password`` (``__audit_exclude__``).
    """

    __abstract__ = True
    __audit_exclude__: ClassVar[frozenset[str]] = frozenset({"hashed_password"})

    email: Mapped[str] = mapped_column(String(320), unique=True, index=True)
    hashed_password: Mapped[str] = mapped_column(String(255), default="")
    is_admin: Mapped[bool] = mapped_column(
        Boolean, default=False, server_default=false(), nullable=False
    )
    last_login_at: Mapped[datetime | None] = mapped_column(
        UTCDateTime(), default=None, nullable=True
    )
    session_version: Mapped[int] = mapped_column(
        Integer, default=0, server_default="0", nullable=False
    )

    @validates("email")
    def _store_normalized_email(self, key: str, value: str) -> str:
        return normalize_email(value)

    @validates("is_active", "is_admin")
    def _end_sessions_on_deactivation(self, key: str, value: bool) -> bool:
        # Losing the flag ends every session, so that setting it back later does not
        # revive them. Read from __dict__: an unloaded attribute must not lazy-load here.
        if not value and self.__dict__.get(key) is not False:
            self.end_sessions()
        return value

    def end_sessions(self) -> None:
        """Sign the user out everywhere: raise ``session_version``.

        Every access token, refresh token and admin session issued before is refused
        from the next request on, once this change is committed. The auth API's
        ``POST /logout/all`` also revokes the refresh tokens' rows.
        """
        self.session_version = (self.__dict__.get("session_version") or 0) + 1

    @staticmethod
    def normalize_email(email: str) -> str:
        """Strip and lowercase an email, as it is stored."""
        return normalize_email(email)

    def set_password(self, password: str) -> None:
        """Hash ``password``, store the hash and sign the user out everywhere.

        Raises:
            ValueError: The password is empty.
        """
        self.set_password_hash(password_utils().hash(password))

    def set_password_hash(self, hashed_password: str) -> None:
        """Store an already computed hash (``""``: no usable password); end every session.

        The one place a password changes: every path that sets one (the auth API, the
        ``changepassword`` command, :meth:`set_password`) goes through it, so that a new
        password always signs the user out everywhere (see :meth:`end_sessions`).
        """
        self.hashed_password = hashed_password
        self.end_sessions()

    def check_password(self, password: str) -> bool:
        """Whether ``password`` is this user's; False when no password is set."""
        if not self.hashed_password:
            return False
        return password_utils().verify(password, self.hashed_password)

    def set_unusable_password(self) -> None:
        """Make password sign-in impossible (for users who sign in another way)."""
        self.set_password_hash("")

    def has_usable_password(self) -> bool:
        """Whether a password is set."""
        return bool(self.hashed_password)


class MFAMixin:
    """TOTP two-factor authentication on a user model.

    ``mfa_secret`` holds the TOTP secret once enrolment starts; ``mfa_enabled`` turns on
    after the first code is confirmed; ``mfa_last_used_step`` is the time step of the
    last accepted code, so that a code is accepted once. The audit trail never stores
    ``mfa_secret`` nor ``mfa_last_used_step`` (``__audit_exclude__``).
    """

    __audit_exclude__: ClassVar[frozenset[str]] = frozenset({"mfa_secret", "mfa_last_used_step"})

    mfa_secret: Mapped[str | None] = mapped_column(String(64), default=None, nullable=True)
    mfa_enabled: Mapped[bool] = mapped_column(
        Boolean, default=False, server_default=false(), nullable=False
    )
    mfa_last_used_step: Mapped[int | None] = mapped_column(BigInteger, default=None, nullable=True)


class UserTokenPurpose(BaseStrEnum):
    """What a single-use emailed token is for."""

    ACTIVATION = "activation"
    PASSWORD_RESET = "password_reset"
    EMAIL_CHANGE = "email_change"


class _ExpiringMixin:
    expires_at: Mapped[datetime] = mapped_column(UTCDateTime())
    used_at: Mapped[datetime | None] = mapped_column(UTCDateTime(), default=None, nullable=True)

    @property
    def is_expired(self) -> bool:
        """Whether the token's lifetime is over."""
        expires_at = self.expires_at
        if expires_at.tzinfo is None:  # SQLite gives naive UTC back
            expires_at = expires_at.replace(tzinfo=utcnow().tzinfo)
        return expires_at <= utcnow()

    @property
    def is_usable(self) -> bool:
        """Not used yet and not expired."""
        return self.used_at is None and not self.is_expired


class BaseUserTokenModel(_ExpiringMixin, BaseModel):
    """A single-use token sent by email (activation, password reset), stored hashed.

    Concrete models come from :func:`make_user_token_model`, which adds ``user_id``.
    """

    __abstract__ = True

    purpose: Mapped[str] = mapped_column(String(32))
    token_hash: Mapped[str] = mapped_column(String(128), unique=True, index=True)


class BaseUserRecoveryCodeModel(BaseModel):
    """A one-time MFA recovery code, stored hashed.

    Concrete models come from :func:`make_user_recovery_code_model`.
    """

    __abstract__ = True

    code_hash: Mapped[str] = mapped_column(String(128), index=True)
    used_at: Mapped[datetime | None] = mapped_column(UTCDateTime(), default=None, nullable=True)


class BaseUserRefreshTokenModel(_ExpiringMixin, BaseModel):
    """A refresh token, stored hashed, in a family that rotation extends.

    Each refresh replaces the presented token (``used_at`` set) with a new one of the
    same ``family_id``; presenting a used token again means it was stolen, and the whole
    family is revoked (``revoked_at``). ``session_version`` is the user's when the token
    was issued; a refresh after the user's version moved on is refused. Concrete models
    come from :func:`make_user_refresh_token_model`.
    """

    __abstract__ = True

    token_hash: Mapped[str] = mapped_column(String(128), unique=True, index=True)
    family_id: Mapped[uuid.UUID] = mapped_column(Uuid, index=True)
    revoked_at: Mapped[datetime | None] = mapped_column(UTCDateTime(), default=None, nullable=True)
    session_version: Mapped[int] = mapped_column(
        Integer, default=0, server_default="0", nullable=False
    )


def make_user_token_model(
    user_model: type[BaseModel], *, name: str | None = None, tablename: str | None = None
) -> type[BaseUserTokenModel]:
    """The emailed-token model of ``user_model`` (table ``<user table>_token``).

    Args:
        user_model: The concrete user model the tokens belong to.
        name: Class name (default ``<UserModel>Token``).
        tablename: Table name.
    """
    return _with_user(BaseUserTokenModel, user_model, "Token", "_token", name, tablename)


def make_user_recovery_code_model(
    user_model: type[BaseModel], *, name: str | None = None, tablename: str | None = None
) -> type[BaseUserRecoveryCodeModel]:
    """The MFA recovery-code model of ``user_model`` (table ``<user table>_recovery_code``).

    Args:
        user_model: The concrete user model the codes belong to.
        name: Class name (default ``<UserModel>RecoveryCode``).
        tablename: Table name.
    """
    return _with_user(
        BaseUserRecoveryCodeModel,
        user_model,
        "RecoveryCode",
        "_recovery_code",
        name,
        tablename,
    )


def make_user_refresh_token_model(
    user_model: type[BaseModel], *, name: str | None = None, tablename: str | None = None
) -> type[BaseUserRefreshTokenModel]:
    """The refresh-token model of ``user_model`` (table ``<user table>_refresh_token``).

    Args:
        user_model: The concrete user model the tokens belong to.
        name: Class name (default ``<UserModel>RefreshToken``).
        tablename: Table name.
    """
    return _with_user(
        BaseUserRefreshTokenModel,
        user_model,
        "RefreshToken",
        "_refresh_token",
        name,
        tablename,
    )


def _with_user(
    base: type[_Model],
    user_model: type[BaseModel],
    class_suffix: str,
    table_suffix: str,
    name: str | None,
    tablename: str | None,
) -> type[_Model]:
    """A concrete subclass of ``base`` with ``user_id`` pointing at ``user_model``.

    The class is defined in the caller's module (two frames up), so that the app
    registry counts it among that app's models.
    """
    user_table = str(user_model.__tablename__)
    namespace: dict[str, Any] = {
        "__module__": sys._getframe(2).f_globals["__name__"],
        "__tablename__": tablename or f"{user_table}{table_suffix}",
        "user_id": mapped_column(
            Uuid, ForeignKey(f"{user_table}.id", ondelete="CASCADE"), index=True
        ),
        "__annotations__": {"user_id": Mapped[uuid.UUID]},
    }
    class_name = name or f"{user_model.__name__.removesuffix('Model')}{class_suffix}"
    return type(class_name, (base,), namespace)
