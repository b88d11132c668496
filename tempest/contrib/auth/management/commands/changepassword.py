"""Set a user's password."""

from __future__ import annotations

import click

from tempest.core.management.base import CommandError, echo


@click.command()
@click.argument("email")
async def command(email: str) -> None:
    """Set the password of the user with EMAIL (asked twice, hidden; again if refused)."""
    from tempest.contrib.auth.accounts import find_user, prompt_new_password, users_transaction

    async with users_transaction() as session:
        user = await find_user(session, email)
        if user is None:
            raise CommandError(f"No user found with email {email!r}.")
        echo(f"New password for {user.email}:")
        password = prompt_new_password(user, outcome="The password was not changed.")
        user.set_password(password)
    echo(f"Password of {user.email} changed.")
