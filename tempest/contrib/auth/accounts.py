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
    from tempest.utils.totp import TOTPHelper

__all__ = [
    "accept_totp_code",
    "check_email",
    "check_password",
    "create_user",
    "find_user",
    "prompt_new_password",
    "users_transaction",
]


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


def check_password(password: str, user: Any = None) -> str:
    """``password`` if ``AUTH_PASSWORD_VALIDATORS`` accept it, as given (never stripped).

    Args:
        password: The new password.
        user: The user it is for, or anything with an ``email`` (similarity rule).

    Raises:
        PasswordValidationError: A ValueError whose message lists every rule broken.
    """
    from tempest.contrib.auth.password_validation import validate_password

    validate_password(password, user)
    return password


def prompt_new_password(user: Any, *, outcome: str, attempts: int = 3) -> str:
    """Ask for a new password twice, hidden; ask again when it is refused or mistyped.

    Each refusal is printed on stderr with every rule broken. After ``attempts`` refusals,
    or when the input ends, the command fails with the last refusal.

    Args:
        user: The user (or anything with an ``email``), for the similarity rule.
        outcome: What failing means, appended to the error (``"Nothing was created."``).
        attempts: How many passwords to ask for at most.

    Returns:
        The accepted password.

    Raises:
        CommandError: No accepted password.
    """
    import click

    from tempest.core.management.base import CommandError

    problem = ""
    for _ in range(attempts):
        try:
            password = str(click.prompt("Password", hide_input=True))
            again = str(click.prompt("Password (again)", hide_input=True))
        except click.Abort:
            if not problem:
                raise
            click.echo(err=True)  # end the prompt's line: the input ended there
            break
        if again != password:
            problem = "The two passwords differ."
        else:
            try:
                return check_password(password, user)
            except ValueError as error:
                problem = str(error)
        click.echo(f"Error: {problem}", err=True)
    raise CommandError(f"{problem} {outcome}")


async def find_user(
    session: AsyncSession, email: str, model: type[BaseUserModel] | None = None
) -> BaseUserModel | None:
    """The user with this email (compared normalized), or None.

    Args:
        session: Where to look.
        email: The email, in any case.
        model: The user model (default ``get_user_model()``).
    """
    from tempest.contrib.auth.repositories import UserRepository

    return await UserRepository(session, model or get_user_model()).by_email(email)


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
        user.set_password(check_password(password, user))
    from tempest.contrib.auth.repositories import UserRepository

    return await UserRepository(session, type(user)).insert(user)


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


async def accept_totp_code(
    session: AsyncSession, user: Any, code: str, totp: TOTPHelper | None = None
) -> bool:
    """Check a TOTP code of ``user`` and use its time step up, atomically: one winner.

    The step is claimed with a conditional UPDATE (``mfa_last_used_step`` NULL or older),
    so when the same code arrives in several requests at once, exactly one of them is
    accepted, on every database. The auth API's MFA step and the admin's both use it.
    Call it inside a transaction (``atomic(session)``): the claim commits with it.

    Args:
        session: The request's session.
        user: A user with the :class:`~tempest.contrib.auth.base.MFAMixin` columns.
        code: The code typed.
        totp: The checker; default ``TOTPHelper`` with its default window.

    Returns:
        Whether the code was right and its step not used before.
    """
    from sqlalchemy.orm.attributes import set_committed_value

    from tempest.contrib.auth.repositories import UserRepository

    if totp is None:
        from tempest.utils.totp import TOTPHelper

        totp = TOTPHelper(issuer="tempest")
    secret = getattr(user, "mfa_secret", None)
    if not secret:
        return False
    step = totp.verify(secret, code, last_used_step=user.mfa_last_used_step)
    if step is None:
        return False
    if not await UserRepository(session, type(user)).claim_totp_step(user, step):
        return False
    set_committed_value(user, "mfa_last_used_step", step)  # already stored: no second UPDATE
    return True
