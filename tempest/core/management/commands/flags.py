"""List feature flags, or turn one on, off or on for a percentage of subjects."""

from __future__ import annotations

import asyncio
import difflib
import json
import logging
from collections.abc import Awaitable, Callable
from typing import TYPE_CHECKING, Any, TypeVar

import click

from tempest.core.management.base import CommandError, echo

if TYPE_CHECKING:
    from tempest.flags.backends import CompositeFeatureFlagBackend
    from tempest.flags.state import FlagState

requires_setup = False  # reads the settings only: flags need no app or database

_T = TypeVar("_T")


def _flag_name(_ctx: click.Context, _param: click.Parameter, value: str) -> str:
    from tempest.flags.state import InvalidFlagError, check_flag_name

    try:
        return check_flag_name(value)
    except InvalidFlagError as exc:
        raise click.BadParameter(f"{exc}.") from None


def _percentage(_ctx: click.Context, _param: click.Parameter, value: str) -> float:
    from tempest.flags.state import InvalidFlagError, parse_percentage

    try:
        return parse_percentage(value)
    except InvalidFlagError as exc:
        raise click.BadParameter(f"{exc}.") from None


def _run(body: Callable[[CompositeFeatureFlagBackend], Awaitable[_T]]) -> _T:
    """Build the project's flag backend, run ``body`` on it, close it; errors in one line."""
    from tempest.conf import settings
    from tempest.conf.masking import mask_url
    from tempest.flags.project import build_backend, flags_url

    backend = build_backend(settings)
    url = flags_url(settings)

    async def main() -> _T:
        try:
            return await body(backend)
        finally:
            await backend.aclose()

    # An outage is this command's one-line error, not a log line besides it.
    logging.disable(logging.WARNING)
    try:
        return asyncio.run(main())
    except (OSError, TimeoutError) as exc:
        raise CommandError(f"Cannot reach the flags' Redis at {mask_url(url)} ({exc}).") from None
    except Exception as exc:
        if type(exc).__module__.startswith("redis"):
            raise CommandError(
                f"Cannot reach the flags' Redis at {mask_url(url)} ({exc}): check "
                "FEATURE_FLAGS_URL or REDIS_URL."
            ) from None
        raise
    finally:
        logging.disable(logging.NOTSET)


async def _layers(backend: CompositeFeatureFlagBackend) -> list[tuple[str, dict[str, FlagState]]]:
    # The store must answer: listing stale flags would mislead.
    for layer in backend.backends:
        await layer.load()
    return [(layer.label, flags) for layer, flags in await backend.load_layers()]


@click.group()
def command() -> None:
    """Feature flags: list them, turn one on or off, roll one out to a percentage.

    Changes go to the store (Redis when FEATURE_FLAGS_URL or REDIS_URL is set), and
    every process serving the project follows them within a second. Flags set by the
    environment (FLAG_*) win over the store, and the store over FEATURE_FLAGS.
    """


@command.command("list")
@click.option(
    "--json", "as_json", is_flag=True, help="Print a JSON array of {name, state, source}."
)
def list_flags(as_json: bool) -> None:
    """List every flag with its state and the source that sets it.

    The state is on, off or a percentage; the source is env, redis or memory (the
    store), or settings (FEATURE_FLAGS).
    """
    layers = _run(_layers)
    rows: dict[str, tuple[str, str]] = {}
    for label, flags in reversed(layers):
        for flag, value in flags.items():
            rows[flag] = (value.describe(), label)
    ordered = sorted(rows.items())
    if as_json:
        listed = [{"name": n, "state": state, "source": src} for n, (state, src) in ordered]
        click.echo(json.dumps(listed, indent=2))
        return
    if not ordered:
        echo(
            "No flags: declare them in FEATURE_FLAGS, or add one with 'flags enable NAME --create'."
        )
        return
    table = [("FLAG", "STATE", "SOURCE"), *((n, state, src) for n, (state, src) in ordered)]
    widths = [max(len(row[column]) for row in table) for column in range(2)]
    for name, state, source in table:
        echo(f"{name.ljust(widths[0])}  {state.ljust(widths[1])}  {source}", level=0)


def _write(name: str, value: FlagState, create: bool) -> None:
    from tempest.conf import settings
    from tempest.conf.shared_state import MEMORY_URL
    from tempest.flags.project import flags_url

    if flags_url(settings) == MEMORY_URL:
        raise CommandError(
            "Feature flags changed at run time live in each process's memory here: set "
            "REDIS_URL (or FEATURE_FLAGS_URL) so that this command changes them for every "
            "process."
        )

    async def write(backend: CompositeFeatureFlagBackend) -> list[tuple[str, dict[str, Any]]]:
        layers = await _layers(backend)
        known = sorted({flag for _label, flags in layers for flag in flags})
        if name not in known and not create:
            close = difflib.get_close_matches(name, known, n=1)
            hint = f"Did you mean {close[0]!r}? " if close else ""
            listed = ", ".join(known) if known else "none"
            raise CommandError(
                f"Unknown flag {name!r}. {hint}Known flags: {listed}. Declare it in "
                "FEATURE_FLAGS, or pass --create to add it to the store."
            )
        await backend.set(name, value)
        return [(label, dict(flags)) for label, flags in layers]

    layers = _run(write)
    echo(f"Flag {name!r} is now {value.describe()}.")
    env = next((flags for label, flags in layers if label == "env"), {})
    if name in env:
        echo(
            f"Warning: this process's environment sets {name!r} ({env[name].describe()}), "
            "which wins over the store where that variable is set.",
            err=True,
            level=0,
        )


_CREATE = click.option("--create", is_flag=True, help="Add the flag if no source knows it.")


@command.command()
@click.argument("name", callback=_flag_name)
@_CREATE
def enable(name: str, create: bool) -> None:
    """Turn flag NAME on for everyone."""
    from tempest.flags.state import FlagState

    _write(name, FlagState(True), create)


@command.command()
@click.argument("name", callback=_flag_name)
@_CREATE
def disable(name: str, create: bool) -> None:
    """Turn flag NAME off for everyone."""
    from tempest.flags.state import FlagState

    _write(name, FlagState(False), create)


@command.command("set")
@click.argument("name", callback=_flag_name)
@click.argument("percentage", callback=_percentage)
@_CREATE
def set_percentage(name: str, percentage: float, create: bool) -> None:
    """Turn flag NAME on for PERCENTAGE (0 to 100) of the subjects.

    PERCENTAGE is a number such as 25 or 12.5, with or without a trailing %.
    """
    from tempest.flags.state import FlagState

    _write(name, FlagState(True, percentage), create)
