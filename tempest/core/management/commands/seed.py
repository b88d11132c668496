"""Add each app's example data: run the seed() of its seeds.py."""

from __future__ import annotations

import importlib
import inspect
import time
from collections.abc import Callable
from typing import TYPE_CHECKING, Any

import click

from tempest.core.management.base import CommandError, echo, get_context
from tempest.core.management.progress import Progress, progress

if TYPE_CHECKING:
    from tempest.apps import AppConfig

SeedCallable = Callable[[Any], Any]


@click.command()
@click.argument("app_labels", nargs=-1, metavar="[APP]...")
@click.option(
    "--seed",
    "target",
    metavar="MODULE:CALLABLE",
    help="Run only this callable, e.g. orders.seeds:demo_data.",
)
async def command(app_labels: tuple[str, ...], target: str | None) -> None:
    """Run the seed(session) function of every installed app's seeds.py.

    Apps run in INSTALLED_APPS order, or only the APPs given. Each app's seed runs in
    one transaction: when it raises, nothing it wrote is kept and the command stops.
    """
    if target is not None:
        if app_labels:
            raise CommandError(
                "Give app labels or --seed, not both: --seed already names what to run."
            )
        seed = _import_callable(target)
        with progress(1) as status:
            await _run(target, seed, status)
        return
    seeds = _app_seeds(app_labels)
    if not seeds:
        echo("No seeds to run: no installed app has a seeds.py with a seed() function.")
        return
    with progress(len(seeds)) as status:
        for config, app_seed in seeds:
            await _run(config.label, app_seed, status)


def _app_seeds(app_labels: tuple[str, ...]) -> list[tuple[AppConfig, SeedCallable]]:
    from tempest.core.management.fixtures import get_apps

    explicit = bool(app_labels)
    found: list[tuple[AppConfig, SeedCallable]] = []
    for config in get_apps(app_labels):
        module = config.import_module("seeds")
        if module is None:
            if explicit:
                raise CommandError(
                    f"App {config.label!r} has no seeds.py; create {config.label}/seeds.py "
                    "with `async def seed(session)`."
                )
            echo(f"Skipping {config.label}: no seeds.py.", level=2)
            continue
        seed = getattr(module, "seed", None)
        if not callable(seed):
            if explicit:
                raise CommandError(
                    f"{module.__name__} has no seed() function; define "
                    "`async def seed(session)` in it."
                )
            echo(f"Skipping {config.label}: {module.__name__} has no seed() function.", level=2)
            continue
        found.append((config, seed))
    return found


def _import_callable(target: str) -> SeedCallable:
    module_name, colon, attribute = target.partition(":")
    if not colon or not module_name or not attribute:
        raise CommandError(
            f"--seed takes MODULE:CALLABLE, e.g. orders.seeds:demo_data, not {target!r}."
        )
    try:
        module = importlib.import_module(module_name)
    except ImportError as error:
        raise CommandError(
            f"--seed {target}: cannot import {module_name!r}: {error}. Check the module path."
        ) from error
    value: Any = module
    for part in attribute.split("."):
        if not hasattr(value, part):
            raise CommandError(f"--seed {target}: {module_name} has no attribute {attribute!r}.")
        value = getattr(value, part)
    if not callable(value):
        raise CommandError(f"--seed {target}: {attribute!r} is not callable.")
    seed: SeedCallable = value
    return seed


async def _run(name: str, seed: SeedCallable, status: Progress) -> None:
    from tempest.db import atomic, get_database

    # On a terminal the status line says what runs and the result comes as one line;
    # elsewhere "Seeding NAME... " is printed first, so a hanging seed is seen in logs.
    show = get_context().verbosity >= 1 and not status.enabled
    status.step(f"Seeding {name}")
    if show:
        click.echo(f"Seeding {name}... ", nl=False)
    started = time.perf_counter()
    try:
        async with get_database().session_factory() as session, atomic(session):
            result = seed(session)
            if inspect.isawaitable(result):
                await result
    except Exception as error:
        from tempest.db.reachability import database_error_message

        if show:
            click.echo("failed")
        elif status.enabled:
            status.echo(f"Seeding {name}... failed")
        unreachable = database_error_message(error)
        if unreachable is not None:  # one line naming DATABASE_URL, not the driver's text
            raise CommandError(unreachable) from error
        raise CommandError(
            f"Seeding {name} failed, nothing it wrote was saved: "
            f"{type(error).__name__}: {_one_line(error)}"
        ) from error
    result_text = f"done ({time.perf_counter() - started:.2f} s)"
    if show:
        click.echo(result_text)
    elif status.enabled:
        status.echo(f"Seeding {name}... {result_text}")


def _one_line(error: Exception) -> str:
    from sqlalchemy.exc import StatementError

    from tempest.core.management.fixtures import database_error_message

    if isinstance(error, StatementError):
        return database_error_message(error)
    text = str(error).strip()
    return text.splitlines()[0] if text else "(no message)"
