"""The command line: ``tempest <command>`` and ``python manage.py <command>``.

Both spellings run :func:`execute_from_command_line`; ``manage.py`` only presets
``TEMPEST_SETTINGS_MODULE``. Listing commands imports none of them, so ``--help`` is fast.
"""

from __future__ import annotations

import os
import sys
import traceback
from collections.abc import Sequence
from pathlib import Path

import click

from tempest.conf.environ import ENVIRONMENT_VARIABLE
from tempest.core.management.base import CommandContext, CommandError, echo, get_context
from tempest.core.management.discovery import (
    CommandEntry,
    builtin_commands,
    command_table,
    installed_apps_fast,
)
from tempest.core.management.group import LazyCommandGroup

__all__ = [
    "CommandContext",
    "CommandError",
    "echo",
    "execute_from_command_line",
    "get_context",
    "main",
]

_GLOBAL_HELP = (
    "Options of every command: --settings MODULE (default: $TEMPEST_SETTINGS_MODULE), "
    "--traceback (show the full traceback on errors), -v/--verbosity 0-3."
)


class _UsageProblem(Exception):
    """A global option was given a bad value."""


def _split_global_options(args: list[str], context: CommandContext) -> list[str]:
    """Take --settings, --traceback and -v/--verbosity from anywhere before ``--``."""
    rest: list[str] = []
    index = 0
    while index < len(args):
        arg = args[index]
        if arg == "--":
            rest.extend(args[index:])
            break
        name, has_value, inline = arg.partition("=")
        if arg.startswith("-v") and arg[2:].isdigit():  # -v2
            name, has_value, inline = "-v", "=", arg[2:]
        if name in ("--settings", "--verbosity", "-v"):
            if has_value:
                value = inline
            elif index + 1 < len(args):
                index += 1
                value = args[index]
            else:
                raise _UsageProblem(f"Option {name} needs a value.")
            if name == "--settings":
                context.settings_module = value
            elif value in ("0", "1", "2", "3"):
                context.verbosity = int(value)
            else:
                raise _UsageProblem(f"Verbosity must be 0, 1, 2 or 3, not {value!r}.")
        elif arg == "--traceback":
            context.traceback = True
        else:
            rest.append(arg)
        index += 1
    return rest


def _build_group(args: list[str], context: CommandContext) -> LazyCommandGroup:
    table: dict[str, CommandEntry]
    note = ""
    if not context.settings_module:
        table = {entry.name: entry for entry in builtin_commands()}
        note = (
            "Project commands are listed when run through a project's manage.py "
            f"(or with --settings / ${ENVIRONMENT_VARIABLE})."
        )
    else:
        installed = installed_apps_fast(context.settings_module)
        if installed is None:
            try:
                from tempest.conf import settings

                installed = list(settings.INSTALLED_APPS)
            except Exception as error:  # broken settings must not hide the built-ins
                if not _is_listing(args):
                    raise
                installed = []
                note = f"App commands are not listed: {error}"
        table = command_table(installed)
    return LazyCommandGroup(
        table,
        note=note,
        name=context.prog_name,
        help=f"Run '{context.prog_name} <command> --help' for its options.\n\n{_GLOBAL_HELP}",
        context_settings={"help_option_names": ["-h", "--help"]},
        params=[
            click.Option(
                ["--version"],
                is_flag=True,
                expose_value=False,
                is_eager=True,
                help="Show the tempest version and exit.",
                callback=_print_version,
            )
        ],
    )


def _print_version(ctx: click.Context, param: click.Parameter, value: bool) -> None:
    if value and not ctx.resilient_parsing:
        from tempest import __version__

        click.echo(__version__)
        ctx.exit()


def _is_listing(args: list[str]) -> bool:
    return not args or args[0] in ("-h", "--help")


def execute_from_command_line(argv: Sequence[str] | None = None) -> None:
    """Run the command named in ``argv`` and exit the process.

    Args:
        argv: ``sys.argv``-style list; the first item is the program name.
    """
    argv = list(sys.argv if argv is None else argv)
    prog_name = Path(argv[0]).name if argv else "tempest"
    if prog_name == "__main__.py":
        prog_name = "tempest"
    context = CommandContext(prog_name=prog_name)
    sys.exit(_run(argv[1:], context))


def _run(args: list[str], context: CommandContext) -> int:
    try:
        args = _split_global_options(args, context)
    except _UsageProblem as problem:
        click.echo(f"Error: {problem}", err=True)
        return 2
    if context.settings_module:
        os.environ[ENVIRONMENT_VARIABLE] = context.settings_module
    context.settings_module = os.environ.get(ENVIRONMENT_VARIABLE) or None
    if context.settings_module and "" not in sys.path and str(Path.cwd()) not in sys.path:
        sys.path.insert(0, str(Path.cwd()))
    if not args or args == ["help"]:
        args = ["--help"]
    elif args[0] == "help":
        args = [args[1], "--help"]
    try:
        group = _build_group(args, context)
        # A command's return value is not its exit status: failures raise CommandError.
        group.main(args, prog_name=context.prog_name, standalone_mode=False, obj=context)
        return 0
    except click.exceptions.Exit as done:
        return done.exit_code
    except click.exceptions.Abort:
        click.echo("Aborted.", err=True)
        return 1
    except KeyboardInterrupt:
        click.echo("Interrupted.", err=True)
        return 130
    except click.exceptions.NoArgsIsHelpError as error:  # a group run without a subcommand
        click.echo(error.format_message(), err=True)
        return 2
    except click.UsageError as error:
        return _report(error, context, _usage_message(error), 2)
    except CommandError as error:
        return _report(error, context, str(error), error.returncode)
    except click.ClickException as error:
        return _report(error, context, error.format_message(), error.exit_code)
    except Exception as error:
        from tempest.exceptions.framework import ImproperlyConfigured

        if isinstance(error, ImproperlyConfigured):
            return _report(error, context, str(error), 1)
        if context.settings_module:
            from tempest.db.reachability import database_error_message

            database_problem = database_error_message(error)
            if database_problem is not None:
                return _report(error, context, database_problem, 1)
        message = f"{type(error).__name__}: {error} (run with --traceback to see where)"
        return _report(error, context, message, 1)


def _usage_message(error: click.UsageError) -> str:
    message = error.format_message()
    if error.ctx is not None and error.ctx.parent is not None:
        message += f" Run '{error.ctx.command_path} --help' for usage."
    return message


def _report(error: BaseException, context: CommandContext, message: str, code: int) -> int:
    if context.traceback:
        traceback.print_exception(error)
    click.echo(f"Error: {' '.join(message.split())}", err=True)
    return code


def main() -> None:
    """Entry point of the ``tempest`` console script."""
    execute_from_command_line(sys.argv)
