"""The top-level Click group that loads commands on demand."""

from __future__ import annotations

import difflib
import functools
from collections.abc import Callable
from importlib import import_module
from typing import Any

import click

from tempest.core.management.base import CommandError, prepare_command
from tempest.core.management.discovery import BUILTIN_GROUP, CommandEntry
from tempest.utils.context import set_actor


class LazyCommandGroup(click.Group):
    """A group whose commands are imported only when they run.

    Args:
        table: Command name to where it lives.
        note: A line shown at the end of ``--help`` (e.g. why app commands are missing).
        **kwargs: Passed to :class:`click.Group`.
    """

    def __init__(self, table: dict[str, CommandEntry], note: str = "", **kwargs: Any) -> None:
        super().__init__(**kwargs)
        self.table = table
        self.note = note

    def list_commands(self, ctx: click.Context) -> list[str]:
        """Names of every command, sorted."""
        return sorted(self.table)

    def get_command(self, ctx: click.Context, cmd_name: str) -> click.Command | None:
        """Import the command's module and return its ``command``."""
        entry = self.table.get(cmd_name)
        if entry is None:
            return None
        return load_command(entry)

    def resolve_command(
        self, ctx: click.Context, args: list[str]
    ) -> tuple[str | None, click.Command | None, list[str]]:
        """Find the command, suggesting the closest name for a typo."""
        name = args[0]
        if name not in self.table and not name.startswith("-"):
            close = difflib.get_close_matches(name, list(self.table), n=1)
            hint = f" Did you mean {close[0]!r}?" if close else ""
            raise click.UsageError(
                f"Unknown command {name!r}.{hint} Run '{ctx.command_path} --help' for the list."
            )
        return super().resolve_command(ctx, args)

    def format_commands(self, ctx: click.Context, formatter: click.HelpFormatter) -> None:
        """List commands grouped by who provides them, without importing them."""
        groups: dict[str, list[CommandEntry]] = {}
        for entry in self.table.values():
            groups.setdefault(entry.group, []).append(entry)
        order = [BUILTIN_GROUP, *sorted(name for name in groups if name != BUILTIN_GROUP)]
        for group in order:
            entries = sorted(groups.get(group, []), key=lambda entry: entry.name)
            if entries:
                with formatter.section(f"Commands [{group}]"):
                    formatter.write_dl([(entry.name, entry.short_help()) for entry in entries])
        if self.note:
            formatter.write_paragraph()
            formatter.write_text(self.note)


def load_command(entry: CommandEntry) -> click.Command:
    """Import a command module and return its prepared ``command``.

    Raises:
        CommandError: The module has no Click command named ``command``.
    """
    module = import_module(entry.module)
    command = getattr(module, "command", None)
    if not isinstance(command, click.Command):
        raise CommandError(
            f"{entry.path} must define `command`, a Click command "
            "(decorate the function with @click.command())."
        )
    command.name = entry.name
    set_actor("command", entry.name)  # the audit trail's actor, unless a user or task acts
    prepare_command(command)
    if getattr(module, "requires_setup", True):
        command.callback = _after_setup(command.callback)
    return command


def _after_setup(callback: Callable[..., Any] | None) -> Callable[..., Any]:
    """Run ``tempest.setup()`` (settings + app registry) before the command body."""

    def run(*args: Any, **kwargs: Any) -> Any:
        import tempest

        tempest.setup()
        return callback(*args, **kwargs) if callback is not None else None

    if callback is not None:
        run = functools.wraps(callback)(run)
    return run
