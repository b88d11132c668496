"""Fix what ruff can fix, then format the project (writes files)."""

from __future__ import annotations

import click

requires_setup = False  # a subprocess: no settings, apps or database needed here


@click.command()
@click.option("--unsafe", is_flag=True, help="Also apply ruff's unsafe fixes (--unsafe-fixes).")
def command(unsafe: bool) -> None:
    """Fix what ruff can fix, then format the project (writes files).

    Runs `ruff check --fix .` (sorts and removes unused imports, upgrades syntax, ...) and
    then `ruff format .`. Exits with 0 when nothing is left to fix by hand, else with the
    first non-zero status of the two.
    """
    from tempest.core.management.tools import exit_with, run_tool

    check = ["check", "--fix", *(["--unsafe-fixes"] if unsafe else []), "."]
    fixed = run_tool("ruff", check)
    formatted = run_tool("ruff", ["format", "."])
    exit_with(fixed or formatted)
