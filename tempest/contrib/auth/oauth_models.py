"""The link between a user and their account at an OAuth provider.

One row per (provider, subject): the provider's stable id of the person, never their
email, which can change hands. ``tempest.contrib.auth.models`` defines the default
user's table (``auth_user_oauth_account``); a project with its own user model adds
``UserOAuthAccount = make_user_oauth_account_model(User)`` to its models to sign in with
OAuth providers.
"""

from __future__ import annotations

import sys
import uuid
from typing import TYPE_CHECKING, Any

from sqlalchemy import ForeignKey, String, UniqueConstraint, Uuid
from sqlalchemy.orm import Mapped, declared_attr, mapped_column

from tempest.db.models import BaseModel

__all__ = ["BaseUserOAuthAccountModel", "make_user_oauth_account_model"]


class BaseUserOAuthAccountModel(BaseModel):
    """A user's account at a provider: ``provider`` and ``subject`` are unique together.

    Concrete models come from :func:`make_user_oauth_account_model`, which adds ``user_id``.
    """

    __abstract__ = True

    provider: Mapped[str] = mapped_column(String(64))
    subject: Mapped[str] = mapped_column(String(255))
    email: Mapped[str | None] = mapped_column(String(320), default=None, nullable=True)

    if TYPE_CHECKING:  # added by make_user_oauth_account_model, with its foreign key
        user_id: Mapped[uuid.UUID]

    @declared_attr.directive
    @classmethod
    def __table_args__(cls) -> tuple[Any, ...]:
        return (UniqueConstraint("provider", "subject"),)


def make_user_oauth_account_model(
    user_model: type[BaseModel], *, name: str | None = None, tablename: str | None = None
) -> type[BaseUserOAuthAccountModel]:
    """The provider-link model of ``user_model`` (table ``<user table>_oauth_account``).

    Args:
        user_model: The concrete user model the links belong to.
        name: Class name (default ``<UserModel>OAuthAccount``).
        tablename: Table name.
    """
    user_table = str(user_model.__tablename__)
    namespace: dict[str, Any] = {
        # Defined in the caller's module, so that the app registry counts it among its models.
        "__module__": sys._getframe(1).f_globals["__name__"],
        "__tablename__": tablename or f"{user_table}_oauth_account",
        "user_id": mapped_column(
            Uuid, ForeignKey(f"{user_table}.id", ondelete="CASCADE"), index=True
        ),
        "__annotations__": {"user_id": Mapped[uuid.UUID]},
    }
    class_name = name or f"{user_model.__name__.removesuffix('Model')}OAuthAccount"
    return type(class_name, (BaseUserOAuthAccountModel,), namespace)
