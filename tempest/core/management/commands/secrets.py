"""Rotate the project's secrets: new random values written into .env."""

from __future__ import annotations

import os
from datetime import datetime, timedelta
from pathlib import Path

import click

from tempest.core.management.base import CommandError, echo

requires_setup = False  # edits .env only: a broken setting must not stop a rotation

_SIGNED_OUT = {
    "SECRET_KEY": "CSRF tokens, pagination cursors and OAuth sign-ins in progress (SECRET_KEY)",
    "ADMIN_SECRET_KEY": "admin sign-ins (ADMIN_SECRET_KEY)",
}
_KEPT = {
    "JWT_SECRET": "access tokens (JWT_SECRET_FALLBACKS)",
    "SECRET_KEY": "refresh tokens and emailed links (SECRET_KEY_FALLBACKS)",
}
_LOST = {
    "JWT_SECRET": "access tokens (JWT_SECRET)",
    "SECRET_KEY": "refresh tokens and emailed links (SECRET_KEY)",
}


def _length(_ctx: click.Context, _param: click.Parameter, value: int) -> int:
    from tempest.core.management.secret_rotation import MIN_LENGTH

    if value < MIN_LENGTH:
        raise CommandError(
            f"--length {value} is too short: secrets need at least {MIN_LENGTH} characters "
            "(HS256 needs a 32-byte key).",
            2,
        )
    return value


@click.group()
def command() -> None:
    """Rotate the project's secrets: new random values written into .env."""


@command.command()
@click.option(
    "--keys",
    metavar="K1,K2",
    help="The settings to rotate (default: SECRET_KEY,JWT_SECRET,ADMIN_SECRET_KEY).",
)
@click.option(
    "--env",
    "env_file",
    type=click.Path(dir_okay=False, path_type=Path),
    help="The file to rewrite (default: .env next to manage.py).",
)
@click.option(
    "--length",
    type=int,
    default=64,
    show_default=True,
    callback=_length,
    help="Characters of each new value (at least 32).",
)
@click.option(
    "--grace-days",
    type=click.IntRange(min=0),
    default=7,
    show_default=True,
    help="Days the previous JWT_SECRET and SECRET_KEY still verify tokens; 0: none.",
)
@click.option("--print", "print_only", is_flag=True, help="Print the new lines; write nothing.")
@click.option("--no-backup", is_flag=True, help="Do not copy the old file to .env.bak.<time>.")
def rotate(
    keys: str | None,
    env_file: Path | None,
    length: int,
    grace_days: int,
    print_only: bool,
    no_backup: bool,
) -> None:
    """New random values for SECRET_KEY, JWT_SECRET and ADMIN_SECRET_KEY (or --keys).

    Rewrites their lines in .env atomically, keeping every other line, after copying the
    old file to .env.bak.<UTC time> (mode 0600). The previous JWT_SECRET and SECRET_KEY
    move to JWT_SECRET_FALLBACKS and SECRET_KEY_FALLBACKS for --grace-days days: until
    then, access tokens, refresh tokens and emailed links issued before the rotation still
    work, so users are not all signed out at once. Admin sign-ins, CSRF tokens and
    pagination cursors end at once. Restart every process of the app afterwards.
    """
    from tempest.core.management import secret_rotation as rotation_module
    from tempest.core.management.tools import project_dir

    chosen = rotation_module.parse_keys(keys)
    path = (env_file or project_dir() / ".env").absolute()
    grace = timedelta(days=grace_days)
    if print_only:
        text = path.read_text(encoding="utf-8") if path.is_file() else None
        planned = rotation_module.plan(text, chosen, length=length, grace=grace)
        for line in planned.lines():
            click.echo(line)
        _explain(planned.values, planned.kept, planned.until, err=True)
        return

    status = rotation_module.check_writable(path)
    try:
        text = path.read_text(encoding="utf-8")
    except (OSError, UnicodeDecodeError) as error:
        raise CommandError(f"Cannot read {path}: {error}; nothing was rotated.") from None
    planned = rotation_module.plan(text, chosen, length=length, grace=grace)
    updates = {**planned.values, **planned.fallbacks}
    try:
        saved = None if no_backup else rotation_module.backup(path, text)
        rotation_module.write_atomically(
            path, rotation_module.apply(text, updates), status.st_mode & 0o7777
        )
    except OSError as error:
        raise CommandError(f"Cannot rewrite {path}: {error.strerror}; it is unchanged.") from None
    echo(f"Rotated {', '.join(planned.values)} in {path}.", level=0)
    if saved is not None:
        echo(f"The previous file is in {saved} (mode 0600): delete it once all is well.")
    _explain(planned.values, planned.kept, planned.until, err=False)
    overridden = [key for key in updates if key in os.environ]
    if overridden:
        echo(
            f"Warning: {', '.join(overridden)} also set in this environment, which wins "
            "over .env: change them there too.",
            err=True,
            level=0,
        )


def _explain(values: dict[str, str], kept: list[str], until: datetime | None, *, err: bool) -> None:
    """Say what the rotation keeps working for a while and what it ends now."""
    if kept:
        what = " and ".join(_KEPT[key] for key in kept)
        echo(f"Until {until:%Y-%m-%d %H:%M} UTC the previous values still verify {what}.", err=err)
    lost = [_LOST[key] for key in _LOST if key in values and key not in kept]
    lost += [_SIGNED_OUT[key] for key in _SIGNED_OUT if key in values]
    if lost:
        echo(f"Ended now: {'; '.join(lost)}.", err=err)
    echo("Restart every process of the app (server, workers) to use the new values.", err=err)
