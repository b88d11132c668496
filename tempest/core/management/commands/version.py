"""Print the tempest version."""

from __future__ import annotations

import click

requires_setup = False


@click.command()
def command() -> None:
    """Print the tempest version."""
    from tempest import __version__

    click.echo(__version__)
