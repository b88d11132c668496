"""Run the project's tests with pytest; arguments go to pytest."""

from __future__ import annotations

import click

requires_setup = False  # a subprocess: pytest's tempest plugin loads the project itself


@click.command(context_settings={"ignore_unknown_options": True})
@click.argument("args", nargs=-1, type=click.UNPROCESSED)
def command(args: tuple[str, ...]) -> None:
    """Run the project's tests with pytest; arguments go to pytest.

    ARGS are passed to pytest as they are: `test tests/test_smoke.py -x -k liveness`.
    Put `--` before them when they contain an option of every command (`-v`,
    `--settings`, `--traceback`): `test -- -v`. Exits with pytest's status.
    """
    from tempest.core.management.tools import exit_with, run_tool

    exit_with(run_tool("pytest", list(args)))
