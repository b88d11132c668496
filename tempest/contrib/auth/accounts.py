"""Creating and finding users: what the user commands (and the auth flow) share."""

from __future__ import annotations

from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from typing import TYPE_CHECKING, Any

from tempest.contrib.auth.base import normalize_email
from tempest.contrib.auth.users import get_user_model

if TYPE_CHECKING:
    from sqlalchemy.ext.asyncio import AsyncSession

    from tempest.contrib.auth.base import BaseUserModel

__all__ = ["check_email", "check_password", "create_user", "find_user", "users_transaction"]


def check_email(email: str) -> str:
    """The normalized email, or ValueError saying why it is not one.

    The syntax is checked (``email-validator``), not whether the domain receives mail.
    """
    from email_validator import EmailNotValidError, validate_email

    try:
        checked = validate_email(email.strip(), check_deliverability=False)
        return normalize_email(checked.normalized)
    except EmailNotValidError as error:
        raise ValueError(f"{email!r} is not a valid email address: {error}") from None


def check_password(password: str, minimum: int | None = None) -> str:
    """``password``, or ValueError when it is too short.

    Args:
        password: The new password.
        minimum: The shortest length allowed (default ``AUTH_PASSWORD_MIN_LENGTH``).
    """
    if minimum is None:
        from tempest.conf import settings

        minimum = int(getattr(settings, "AUTH_PASSWORD_MIN_LENGTH", 8))
    if len(password) < minimum:
        raise ValueError(f"The password must have at least {minimum} characters.")
    return password


async def find_user(
    session: AsyncSession, email: str, model: type[BaseUserModel] | None = None
) -> BaseUserModel | None:
    """The user with this email (compared normalized), or None.

    Args:
        session: Where to look.
        email: The email, in any case.
        model: The user model (default ``get_user_model()``).
    """
    from sqlalchemy import select

    model = model or get_user_model()
    statement = select(model).where(model.email == normalize_email(email))
    found: BaseUserModel | None = await session.scalar(statement)
    return found


async def create_user(
    session: AsyncSession, email: str, password: str | None, **fields: Any
) -> BaseUserModel:
    """Add a user with a checked email and password (None: no usable password).

    Raises:
        ValueError: Invalid email or password, or a user with this email exists.
    """
    email = check_email(email)
    if await find_user(session, email) is not None:
        raise ValueError(f"A user with email {email!r} already exists.")
    user = get_user_model()(email=email, **fields)
    if password is None:
        user.set_unusable_password()
    else:
        user.set_password(check_password(password))
    session.add(user)
    await session.flush()
    return user


@asynccontextmanager
async def users_transaction() -> AsyncIterator[AsyncSession]:
    """A session in one transaction for a user command; failures become one-line errors.

    Raises:
        CommandError: The input was refused (ValueError) or the database failed, e.g. the
            users table does not exist yet.
    """
    from sqlalchemy.exc import DBAPIError

    from tempest.core.management.base import CommandError
    from tempest.core.management.fixtures import database_error_message
    from tempest.db import atomic, get_database

    try:
        async with get_database().request_session() as session, atomic(session):
            yield session
    except ValueError as error:
        raise CommandError(f"{error} Nothing was changed.") from error
    except DBAPIError as error:
        raise CommandError(
            f"{database_error_message(error)}; has `manage.py migrate` run? Nothing was changed."
        ) from error
