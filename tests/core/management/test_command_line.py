"""The command line: discovery, lazy loading, overrides, async bodies, global options."""

from __future__ import annotations

import textwrap
from collections.abc import Callable
from pathlib import Path

import pytest

from tempest.core.management.discovery import builtin_commands, command_table, installed_apps_fast
from tests.helpers import one_line_error
from tests.warm import (  # manage.py processes forked warm
    warm_manage as manage,
    warm_tempest as tempest,
)

pytestmark = pytest.mark.e2e


def _command(project: Path, app: str, name: str, source: str) -> Path:
    directory = project / app / "management" / "commands"
    directory.mkdir(parents=True, exist_ok=True)
    path = directory / f"{name}.py"
    path.write_text(textwrap.dedent(source))
    return path


def test_help_lists_commands_by_app_without_importing_them(
    new_project: Callable[..., Path],
) -> None:
    project = new_project("mysite", "orders")
    marker = project / "imported.txt"
    _command(
        project,
        "orders",
        "export",
        f'''
        """Export every order as CSV."""
        from pathlib import Path

        Path({str(marker)!r}).write_text("imported")
        raise RuntimeError("must not be imported for --help")
        ''',
    )
    result = manage(project, "--help")
    assert result.returncode == 0, result.stderr
    assert "Commands [tempest]:" in result.stdout
    assert "Commands [orders]:" in result.stdout
    orders_section = result.stdout.split("Commands [orders]:")[1]
    assert "export" in orders_section and "Export every order as CSV." in orders_section
    assert not marker.exists()
    assert manage(project, "help").stdout == result.stdout


def test_an_app_command_overrides_a_builtin_and_the_first_app_wins(
    new_project: Callable[..., Path],
) -> None:
    project = new_project("mysite", "first", "second")
    for app in ("first", "second"):
        _command(
            project,
            app,
            "version",
            f'''
            """Version from {app}."""
            import click

            @click.command()
            def command() -> None:
                click.echo("version of {app}")
            ''',
        )
    result = manage(project, "version")
    assert result.stdout.strip() == "version of first"
    listing = manage(project, "--help").stdout
    assert "Version from first." in listing
    assert "Commands [second]" not in listing


def test_async_command_runs_with_the_database_connected(new_project: Callable[..., Path]) -> None:
    project = new_project("mysite", "orders")
    _command(
        project,
        "orders",
        "count_orders",
        '''
        """Count the orders."""
        import click
        from sqlalchemy import func, select
        from tempest.db import database

        from orders.models import OrderModel


        @click.command()
        @click.option("--create", is_flag=True)
        async def command(create: bool) -> None:
            if create:
                await database.create_tables()
            async with database.get_session_context() as session:
                session.add(OrderModel(name="one"))
            async with database.session_factory() as session:
                total = await session.scalar(select(func.count()).select_from(OrderModel))
            click.echo(f"{total} order(s)")
        ''',
    )
    assert manage(project, "count_orders", "--create").stdout.strip() == "1 order(s)"
    assert manage(project, "count_orders").stdout.strip() == "2 order(s)"


def test_command_error_is_one_line_with_its_exit_code(new_project: Callable[..., Path]) -> None:
    project = new_project("mysite", "orders")
    _command(
        project,
        "orders",
        "fail",
        '''
        """Always fails."""
        import click
        from tempest.core.management import CommandError

        @click.command()
        def command() -> None:
            raise CommandError("Nothing to do: pass --all\\nor name an order.", returncode=3)
        ''',
    )
    result = manage(project, "fail")
    assert result.returncode == 3
    assert one_line_error(result) == "Error: Nothing to do: pass --all or name an order."


def test_an_unexpected_exception_is_one_line_unless_traceback(
    new_project: Callable[..., Path],
) -> None:
    project = new_project("mysite", "orders")
    _command(
        project,
        "orders",
        "crash",
        '''
        """Crashes."""
        import click

        @click.command()
        def command() -> None:
            {}["missing"]
        ''',
    )
    line = one_line_error(manage(project, "crash"))
    assert "KeyError: 'missing'" in line and "--traceback" in line
    traced = manage(project, "crash", "--traceback")
    assert "Traceback (most recent call last)" in traced.stderr


def test_a_command_module_without_command(new_project: Callable[..., Path]) -> None:
    project = new_project("mysite", "orders")
    _command(project, "orders", "empty", '"""Nothing here."""\n')
    assert "must define `command`" in one_line_error(manage(project, "empty"))


def test_global_options_anywhere_and_verbosity(new_project: Callable[..., Path]) -> None:
    project = new_project("mysite", "orders")
    _command(
        project,
        "orders",
        "speak",
        '''
        """Speaks at several verbosities."""
        import click
        from tempest.core.management import echo, get_context

        @click.command()
        def command() -> None:
            echo("always", level=0)
            echo("normal")
            echo("verbose", level=2)
            click.echo(f"settings={get_context().settings_module}")
        ''',
    )
    quiet = manage(project, "speak", "-v", "0").stdout.split()
    assert quiet[:1] == ["always"] and "normal" not in quiet
    loud = manage(project, "-v2", "speak").stdout.split()
    assert loud[:3] == ["always", "normal", "verbose"]
    assert manage(project, "speak", "--verbosity=1").stdout.split()[:2] == ["always", "normal"]
    assert (
        "settings=mysite.settings"
        in manage(project, "speak", "--settings", "mysite.settings").stdout
    )


def test_tempest_without_a_project_lists_only_builtins(tmp_path: Path) -> None:
    result = tempest(tmp_path, "--help")
    assert result.returncode == 0
    assert "startproject" in result.stdout
    assert "Project commands are listed when run through a project's manage.py" in result.stdout


def test_tempest_with_settings_flag_finds_the_project(shared_project: Path) -> None:
    result = tempest(shared_project, "--settings", "shop.settings", "check")
    assert result.returncode == 0, result.stderr


def test_help_still_lists_builtins_when_settings_are_broken(
    new_project: Callable[..., Path],
) -> None:
    project = new_project()
    settings_file = project / "mysite" / "settings.py"
    settings_file.write_text(settings_file.read_text() + "\nINSTALLED_APPS = []\n")
    env = project / ".env"
    env.write_text(env.read_text() + "SERVER_PORT=x\n")
    result = manage(project, "--help")
    assert result.returncode == 0
    assert "runserver" in result.stdout
    assert "App commands are not listed: Invalid settings" in result.stdout


def test_command_help_imports_only_that_command(shared_project: Path) -> None:
    result = manage(shared_project, "startapp", "--help")
    assert result.returncode == 0
    assert "--empty" in result.stdout


def test_installed_apps_fast_reads_the_literal_or_gives_up(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.syspath_prepend(str(tmp_path))
    monkeypatch.chdir(tmp_path)
    monkeypatch.delenv("INSTALLED_APPS", raising=False)
    (tmp_path / "literal_settings.py").write_text(
        "class S:\n    INSTALLED_APPS: list[str] = ['a', 'b']\n"
    )
    (tmp_path / "computed_settings.py").write_text("BASE = ['a']\nINSTALLED_APPS = BASE + ['b']\n")
    (tmp_path / "twice_settings.py").write_text("INSTALLED_APPS = ['a']\nINSTALLED_APPS += ['b']\n")
    assert installed_apps_fast("literal_settings") == ["a", "b"]
    assert installed_apps_fast("computed_settings") is None
    assert installed_apps_fast("twice_settings") is None
    monkeypatch.setenv("INSTALLED_APPS", '["from_env"]')
    assert installed_apps_fast("literal_settings") == ["from_env"]
    monkeypatch.delenv("INSTALLED_APPS")
    (tmp_path / ".env").write_text('INSTALLED_APPS=["x"]\n')
    assert installed_apps_fast("literal_settings") is None


def test_command_table_prefers_apps() -> None:
    names = {entry.name for entry in builtin_commands()}
    assert {
        "startproject",
        "startapp",
        "runserver",
        "serve",
        "check",
        "shell",
        "routes",
        "version",
    } <= names
    table = command_table([])
    assert table["check"].group == "tempest"


def test_no_arguments_prints_help(shared_project: Path) -> None:
    result = manage(shared_project)
    assert result.returncode == 0
    assert "Commands [tempest]:" in result.stdout


def test_a_return_value_is_not_an_exit_status(new_project: Callable[..., Path]) -> None:
    project = new_project("mysite", "orders")
    _command(
        project,
        "orders",
        "count",
        '''
        """Returns a number."""
        import click

        @click.command()
        def command() -> int:
            click.echo("3 rows")
            return 3
        ''',
    )
    result = manage(project, "count")
    assert result.returncode == 0 and result.stdout.strip() == "3 rows"


def test_a_group_without_subcommand_shows_its_help(new_project: Callable[..., Path]) -> None:
    project = new_project("mysite", "orders")
    _command(
        project,
        "orders",
        "report",
        '''
        """Reports."""
        import click

        @click.group(no_args_is_help=True)
        def command() -> None:
            """Reports about orders."""

        @command.command()
        def daily() -> None:
            click.echo("daily report")
        ''',
    )
    assert manage(project, "report", "daily").stdout.strip() == "daily report"
    bare = manage(project, "report")
    assert bare.returncode == 2
    assert "Reports about orders." in bare.stderr and "daily" in bare.stderr
