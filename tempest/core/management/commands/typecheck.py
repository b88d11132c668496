"""Type-check the project with mypy."""

from __future__ import annotations

import click

requires_setup = False  # a subprocess: no settings, apps or database needed here


@click.command(context_settings={"ignore_unknown_options": True})
@click.argument("args", nargs=-1, type=click.UNPROCESSED)
def command(args: tuple[str, ...]) -> None:
    """Type-check the project with mypy.

    Runs `mypy .` in the project's folder with the project's mypy settings (a new
    project's pyproject.toml sets strict mode) and exits with mypy's status. ARGS replace
    the default `.`, e.g. `typecheck orders`.
    """
    from tempest.core.management.tools import exit_with, run_tool

    exit_with(run_tool("mypy", list(args or (".",))))
