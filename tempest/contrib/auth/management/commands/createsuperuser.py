"""Create an administrator: a user who may sign in to the admin site."""

from __future__ import annotations

import os

import click

from tempest.core.management.base import CommandError, echo

EMAIL_VARIABLE = "TEMPEST_SUPERUSER_EMAIL"
PASSWORD_VARIABLE = "TEMPEST_SUPERUSER_PASSWORD"


@click.command()
@click.option("--email", help="The administrator's email (asked for when missing).")
@click.option(
    "--noinput",
    "--no-input",
    is_flag=True,
    help=f"Ask nothing: read {EMAIL_VARIABLE} and {PASSWORD_VARIABLE}.",
)
async def command(email: str | None, noinput: bool) -> None:
    """Create an administrator: a user who may sign in to the admin site.

    Asks for the email and, twice and hidden, the password. With --noinput (scripts,
    containers) the email comes from --email or TEMPEST_SUPERUSER_EMAIL and the
    password from TEMPEST_SUPERUSER_PASSWORD.
    """
    from types import SimpleNamespace

    from tempest.contrib.auth.accounts import (
        check_email,
        check_password,
        create_user,
        prompt_new_password,
        users_transaction,
    )

    if noinput:
        email = email or os.environ.get(EMAIL_VARIABLE)
        password = os.environ.get(PASSWORD_VARIABLE)
        missing = [
            name
            for name, value in ((EMAIL_VARIABLE, email), (PASSWORD_VARIABLE, password))
            if not value
        ]
        if missing:
            raise CommandError(
                f"--noinput needs {' and '.join(missing)} in the environment "
                "(or run without --noinput to be asked)."
            )
        try:
            check_password(str(password), SimpleNamespace(email=email))
        except ValueError as error:
            raise CommandError(f"{error} Nothing was created.") from error
    else:
        if email is None:
            email = click.prompt("Email")
        try:
            check_email(str(email))
        except ValueError as error:
            raise CommandError(str(error)) from error
        password = prompt_new_password(SimpleNamespace(email=email), outcome="Nothing was created.")
    async with users_transaction() as session:
        user = await create_user(session, str(email), password, is_admin=True)
    echo(f"Created administrator {user.email}.")
