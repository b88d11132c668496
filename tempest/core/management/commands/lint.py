"""Lint the project with ruff (ruff check)."""

from __future__ import annotations

import click

requires_setup = False  # a subprocess: no settings, apps or database needed here


@click.command(context_settings={"ignore_unknown_options": True})
@click.argument("args", nargs=-1, type=click.UNPROCESSED)
def command(args: tuple[str, ...]) -> None:
    """Lint the project with ruff (ruff check).

    Runs `ruff check .` in the project's folder with the project's ruff settings
    (pyproject.toml) and exits with ruff's status. ARGS replace the default `.` and are
    passed to ruff as they are, e.g. `lint orders/` or `lint -- --statistics .`.
    """
    from tempest.core.management.tools import exit_with, run_tool

    exit_with(run_tool("ruff", ["check", *(args or (".",))]))
