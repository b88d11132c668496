"""Set a user's password."""

from __future__ import annotations

import click

from tempest.core.management.base import CommandError, echo


@click.command()
@click.argument("email")
async def command(email: str) -> None:
    """Set the password of the user with EMAIL (asked twice, hidden)."""
    from tempest.contrib.auth.accounts import check_password, find_user, users_transaction

    async with users_transaction() as session:
        user = await find_user(session, email)
        if user is None:
            raise CommandError(f"No user found with email {email!r}.")
        password = click.prompt(f"New password for {user.email}", hide_input=True)
        if click.prompt("New password (again)", hide_input=True) != password:
            raise CommandError("The two passwords differ; the password was not changed.")
        user.set_password(check_password(password))
    echo(f"Password of {user.email} changed.")
