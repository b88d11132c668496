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
from typing import TYPE_CHECKING, Any, TypeVar

from sqlalchemy import BigInteger, Boolean, DateTime, ForeignKey, String, Uuid, false
from sqlalchemy.orm import Mapped, mapped_column, validates

from tempest.core.enums import BaseStrEnum
from tempest.db.models import BaseModel
from tempest.utils import utcnow

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
    the user cannot sign in with a password), ``is_admin`` and ``last_login_at`` to
    BaseModel's columns. Only users with ``is_active`` sign in; only those that are also
    ``is_admin`` enter the admin site.
    """

    __abstract__ = True

    email: Mapped[str] = mapped_column(String(320), unique=True, index=True)
    hashed_password: Mapped[str] = mapped_column(String(255), default="")
    is_admin: Mapped[bool] = mapped_column(
        Boolean, default=False, server_default=false(), nullable=False
    )
    last_login_at: Mapped[datetime | None] = mapped_column(
        DateTime(timezone=True), default=None, nullable=True
    )

    @validates("email")
    def _store_normalized_email(self, key: str, value: str) -> str:
        return normalize_email(value)

    @staticmethod
    def normalize_email(email: str) -> str:
        """Strip and lowercase an email, as it is stored."""
        return normalize_email(email)

    def set_password(self, password: str) -> None:
        """Hash ``password`` and store the hash.

        Raises:
            ValueError: The password is empty.
        """
        self.hashed_password = password_utils().hash(password)

    def check_password(self, password: str) -> bool:
        """Whether ``password`` is this user's; False when no password is set."""
        if not self.hashed_password:
            return False
        return password_utils().verify(password, self.hashed_password)

    def set_unusable_password(self) -> None:
        """Make password sign-in impossible (for users who sign in another way)."""
        self.hashed_password = ""

    def has_usable_password(self) -> bool:
        """Whether a password is set."""
        return bool(self.hashed_password)


class MFAMixin:
    """TOTP two-factor authentication on a user model.

    ``mfa_secret`` holds the TOTP secret once enrolment starts; ``mfa_enabled`` turns on
    after the first code is confirmed; ``mfa_last_used_step`` is the time step of the
    last accepted code, so that a code is accepted once.
    """

    mfa_secret: Mapped[str | None] = mapped_column(String(64), default=None, nullable=True)
    mfa_enabled: Mapped[bool] = mapped_column(
        Boolean, default=False, server_default=false(), nullable=False
    )
    mfa_last_used_step: Mapped[int | None] = mapped_column(BigInteger, default=None, nullable=True)


class UserTokenPurpose(BaseStrEnum):
    """What a single-use emailed token is for."""

    ACTIVATION = "activation"
    PASSWORD_RESET = "password_reset"


class _ExpiringMixin:
    expires_at: Mapped[datetime] = mapped_column(DateTime(timezone=True))
    used_at: Mapped[datetime | None] = mapped_column(
        DateTime(timezone=True), default=None, nullable=True
    )

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
    used_at: Mapped[datetime | None] = mapped_column(
        DateTime(timezone=True), default=None, nullable=True
    )


class BaseUserRefreshTokenModel(_ExpiringMixin, BaseModel):
    """A refresh token, stored hashed, in a family that rotation extends.

    Each refresh replaces the presented token (``used_at`` set) with a new one of the
    same ``family_id``; presenting a used token again means it was stolen, and the whole
    family is revoked (``revoked_at``). Concrete models come from
    :func:`make_user_refresh_token_model`.
    """

    __abstract__ = True

    token_hash: Mapped[str] = mapped_column(String(128), unique=True, index=True)
    family_id: Mapped[uuid.UUID] = mapped_column(Uuid, index=True)
    revoked_at: Mapped[datetime | None] = mapped_column(
        DateTime(timezone=True), default=None, nullable=True
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
