"""Web Push utilities: print a new VAPID key pair."""

from __future__ import annotations

import click

requires_setup = False


@click.group()
def command() -> None:
    """Web Push utilities (VAPID keys)."""


@command.command()
def keys() -> None:
    """Print a new VAPID key pair, as the settings lines to paste into .env."""
    from tempest.webpush.vapid import generate_vapid_keys

    pair = generate_vapid_keys()
    click.echo("# Web Push (VAPID) keys: keep the private one secret.")
    click.echo(f"VAPID_PUBLIC_KEY={pair.public_key}")
    click.echo(f"VAPID_PRIVATE_KEY={pair.private_key}")
