"""Format the project with ruff (ruff format); --check only reports."""

from __future__ import annotations

import click

requires_setup = False  # a subprocess: no settings, apps or database needed here


@click.command()
@click.option("--check", is_flag=True, help="Write nothing; exit 1 when a file would change.")
def command(check: bool) -> None:
    """Format the project with ruff (ruff format); --check only reports.

    Runs `ruff format .` in the project's folder (writes files), or `ruff format --check .`
    (writes nothing, lists the files that would change and exits with 1 when there are
    some).
    """
    from tempest.core.management.tools import exit_with, run_tool

    exit_with(run_tool("ruff", ["format", *(["--check"] if check else []), "."]))
