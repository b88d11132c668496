"""Run lint, format --check, typecheck and test, then print a summary."""

from __future__ import annotations

import click

from tempest.core.management.base import CommandError

requires_setup = False  # subprocesses: no settings, apps or database needed here


@click.command()
@click.option("--failfast", is_flag=True, help="Stop at the first step that fails.")
def command(failfast: bool) -> None:
    """Run lint, format --check, typecheck and test, then print a summary.

    The quality gate for CI and pre-push hooks: `ruff check .`, `ruff format --check .`,
    `mypy .` and `pytest`, in that order, in the project's folder. Every step runs even
    when an earlier one fails (so one run reports every problem), unless --failfast is
    given. Prints one summary line per step (name, ok or FAILED, seconds) and exits with
    1 naming the failing steps (127 when a tool is not installed), or 0 when all passed.
    """
    from tempest.core.management.tools import (
        GATE_STEPS,
        MISSING_TOOL,
        StepResult,
        project_dir,
        run_step,
    )

    cwd = project_dir()
    results: list[StepResult] = []
    for step in GATE_STEPS:
        click.echo(f"== {step.name}")
        results.append(run_step(step, cwd))
        if failfast and not results[-1].ok:
            break
    width = max(len(step.name) for step in GATE_STEPS)
    click.echo("")
    for result in results:
        click.echo(result.summary(width))
    skipped = [step.name for step in GATE_STEPS[len(results) :]]
    if skipped:
        click.echo(f"Not run (--failfast): {', '.join(skipped)}")
    failed = [result.name for result in results if not result.ok]
    if failed:
        missing = any(result.status == MISSING_TOOL for result in results)
        raise CommandError(f"The gate failed: {', '.join(failed)}.", MISSING_TOOL if missing else 1)
