"""What commands share: the error type, the run context and async bodies."""

from __future__ import annotations

import functools
import inspect
from collections.abc import Awaitable, Callable
from dataclasses import dataclass
from typing import Any

import click


class CommandError(Exception):
    """A command failed in a way the user can fix; the message says how.

    tempest prints ``Error: <message>`` on one line and exits with ``returncode``.

    Args:
        message: What went wrong and what to do about it.
        returncode: Process exit status (default 1).
    """

    def __init__(self, message: str, returncode: int = 1) -> None:
        super().__init__(message)
        self.returncode = returncode


@dataclass
class CommandContext:
    """Options every command understands, parsed before the command's own.

    Attributes:
        prog_name: ``manage.py`` or ``tempest``, for messages.
        settings_module: The settings module in use, if any.
        verbosity: 0 quiet, 1 normal, 2 verbose, 3 very verbose.
        traceback: Show the full traceback on errors.
    """

    prog_name: str = "tempest"
    settings_module: str | None = None
    verbosity: int = 1
    traceback: bool = False


def get_context() -> CommandContext:
    """The :class:`CommandContext` of the running command (defaults outside one)."""
    ctx = click.get_current_context(silent=True)
    while ctx is not None:
        if isinstance(ctx.obj, CommandContext):
            return ctx.obj
        ctx = ctx.parent
    return CommandContext()


def echo(message: str = "", *, level: int = 1, err: bool = False) -> None:
    """Print ``message`` when the verbosity is at least ``level``.

    Args:
        message: The text.
        level: Minimum verbosity (``-v``) that shows it; 0 shows it always.
        err: Print to standard error.
    """
    if get_context().verbosity >= level:
        click.echo(message, err=err)


async def run_with_database(body: Awaitable[Any]) -> Any:
    """Await a command body with the project's database connected.

    Args:
        body: The command's coroutine.

    Returns:
        What the body returns.
    """
    from tempest.db.session import get_database

    database = get_database()
    await database.connect()
    try:
        return await body
    finally:
        await database.disconnect()


def make_sync(callback: Callable[..., Any]) -> Callable[..., Any]:
    """Wrap an ``async def`` command body so that Click can call it.

    The body runs in a fresh event loop with the database connected.
    """
    if not inspect.iscoroutinefunction(callback):
        return callback

    @functools.wraps(callback)
    def runner(*args: Any, **kwargs: Any) -> Any:
        import asyncio

        return asyncio.run(run_with_database(callback(*args, **kwargs)))

    return runner


def prepare_command(command: click.Command) -> click.Command:
    """Make ``async def`` callbacks runnable, in a command and its subcommands."""
    if command.callback is not None:
        command.callback = make_sync(command.callback)
    if isinstance(command, click.Group):
        for sub in command.commands.values():
            prepare_command(sub)
    return command
