"""Create, promote, revoke and list users."""

from __future__ import annotations

import sys

import click

from tempest.core.management.base import CommandError, echo

_email_option = click.option("--email", required=True, help="The user's email (any case).")


@click.group()
def command() -> None:
    """Create, promote, revoke and list users (of AUTH_USER_MODEL)."""


@command.command()
@click.option("--email", required=True, help="The user's email.")
@click.option("--password", help="The password (asked for, hidden, when missing).")
@click.option(
    "--admin/--no-admin",
    default=None,
    help="Whether the user may sign in to the admin site (asked in a terminal).",
)
async def create(email: str, password: str | None, admin: bool | None) -> None:
    """Create a user."""
    from tempest.contrib.auth.accounts import check_email, create_user, users_transaction

    try:
        check_email(email)
    except ValueError as error:
        raise CommandError(str(error)) from error
    if password is None:
        from types import SimpleNamespace

        from tempest.contrib.auth.accounts import prompt_new_password

        password = prompt_new_password(SimpleNamespace(email=email), outcome="Nothing was created.")
    if admin is None:
        interactive = sys.stdin.isatty() and sys.stdout.isatty()
        admin = interactive and click.confirm(
            "Should this user be an administrator?", default=False
        )
    async with users_transaction() as session:
        user = await create_user(session, email, password, is_admin=admin)
    echo(f"Created {'administrator' if admin else 'user'} {user.email}.")


@command.command()
@_email_option
async def promote(email: str) -> None:
    """Let a user sign in to the admin site (is_admin on)."""
    await _set_admin(email, True)


@command.command()
@_email_option
async def revoke(email: str) -> None:
    """Take admin-site access away from a user (is_admin off); their sessions end."""
    await _set_admin(email, False)


@command.command()
@_email_option
async def deactivate(email: str) -> None:
    """Stop a user from signing in (is_active off); every session of theirs ends."""
    await _set_active(email, False)


@command.command()
@_email_option
async def activate(email: str) -> None:
    """Let a deactivated user sign in again (is_active on); old sessions stay ended."""
    await _set_active(email, True)


@command.command(name="list")
@click.option("--admin", "admins_only", is_flag=True, help="Only administrators.")
@click.option(
    "--json",
    "as_json",
    is_flag=True,
    help="Print a JSON array of {id, email, is_admin, is_active, last_login_at}.",
)
async def list_users(admins_only: bool, as_json: bool) -> None:
    """List users: email, administrator, active, last sign-in."""
    from sqlalchemy import select

    from tempest.contrib.auth.accounts import users_transaction
    from tempest.contrib.auth.users import get_user_model

    model = get_user_model()
    statement = select(model).order_by(model.email)
    if admins_only:
        statement = statement.where(model.is_admin.is_(True))
    async with users_transaction() as session:
        users = list(await session.scalars(statement))
    if as_json:
        import json

        listed = [
            {
                "id": str(user.id),
                "email": user.email,
                "is_admin": bool(user.is_admin),
                "is_active": bool(user.is_active),
                "last_login_at": (
                    user.last_login_at.isoformat(timespec="seconds") if user.last_login_at else None
                ),
            }
            for user in users
        ]
        click.echo(json.dumps(listed, indent=2))
        return
    for user in users:
        flags = ", ".join(
            flag for flag, on in (("admin", user.is_admin), ("inactive", not user.is_active)) if on
        )
        last = user.last_login_at.isoformat(timespec="seconds") if user.last_login_at else "never"
        echo(f"{user.email}{f' ({flags})' if flags else ''}  last sign-in: {last}", level=0)
    echo(f"{len(users)} user(s).")


async def _set_flag(email: str, flag: str, value: bool) -> str:
    """Set the user's ``flag`` column (``is_admin``, ``is_active``); their stored email."""
    from tempest.contrib.auth.accounts import find_user, users_transaction

    async with users_transaction() as session:
        user = await find_user(session, email)
        if user is None:
            raise CommandError(f"no user found with email {email!r}.")
        # is_active False raises session_version: every session ends.
        setattr(user, flag, value)
    return str(user.email)


async def _set_admin(email: str, is_admin: bool) -> None:
    stored = await _set_flag(email, "is_admin", is_admin)
    echo(f"{stored} is {'now' if is_admin else 'no longer'} an administrator.")


async def _set_active(email: str, is_active: bool) -> None:
    stored = await _set_flag(email, "is_active", is_active)
    echo(f"{stored} is {'active' if is_active else 'deactivated'}.")
