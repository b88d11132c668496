"""Commands that stop early and say how to fix it, and list commands with --json.

Real ``manage.py`` subprocesses in one generated project shared by the module.
"""

from __future__ import annotations

import json
import time
from pathlib import Path

import pytest

from tests.helpers import one_line_error
from tests.warm import (  # manage.py processes forked warm
    warm_manage as manage,
    warm_tempest as tempest,
)

pytestmark = pytest.mark.e2e

REFUSED = "postgresql+asyncpg://postgres:s3cret@127.0.0.1:1/x"
UNKNOWN_HOST = "postgresql+asyncpg://postgres:s3cret@no-such-host.invalid:5432/x"


@pytest.fixture(scope="module")
def project(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """``shop`` with the example app ``orders`` and its migrations (not applied)."""
    root = tmp_path_factory.mktemp("safety")
    assert tempest(root, "startproject", "shop").returncode == 0
    project = root / "shop"
    for args in (("startapp", "orders"), ("makemigrations",)):
        result = manage(project, *args)
        assert result.returncode == 0, result.stderr
    return project


def test_migrate_runs_the_system_checks_before_touching_the_database(
    project: Path, tmp_path: Path
) -> None:
    routers = project / "orders" / "routers.py"
    original = routers.read_text()
    database = tmp_path / "fresh.sqlite3"
    url = f"sqlite+aiosqlite:///{database}"
    try:
        routers.write_text('raise RuntimeError("broken router")\n')
        result = manage(project, "migrate", DATABASE_URL=url)
        assert result.returncode == 1
        assert "tempest.E010" in result.stderr
        last = result.stderr.strip().splitlines()[-1]
        assert last.startswith("Error: ") and "fix them before migrating" in last
        assert not database.exists()  # the schema was never touched
        skipped = manage(project, "migrate", "--skip-checks", DATABASE_URL=url)
        assert skipped.returncode == 0, skipped.stderr
        assert database.exists()
    finally:
        routers.write_text(original)


def test_check_warns_when_the_database_is_unreachable(project: Path) -> None:
    started = time.monotonic()
    result = manage(project, "check", DATABASE_URL=REFUSED)
    assert time.monotonic() - started < 20
    assert result.returncode == 0, result.stderr  # a warning, not an error
    assert "tempest.W025" in result.stdout
    assert "cannot reach the database at postgresql+asyncpg://postgres:***@127.0.0.1:1/x" in (
        result.stdout
    )
    assert "check DATABASE_URL" in result.stdout
    assert "s3cret" not in result.stdout + result.stderr
    assert "no issues" not in result.stdout


def test_check_warns_about_an_unknown_host_quickly(project: Path) -> None:
    started = time.monotonic()
    result = manage(project, "check", DATABASE_URL=UNKNOWN_HOST)
    assert time.monotonic() - started < 20
    assert "tempest.W025" in result.stdout
    assert "no-such-host.invalid" in result.stdout and "DATABASE_URL" in result.stdout


@pytest.mark.parametrize(("url", "host"), [(REFUSED, "127.0.0.1:1"), (UNKNOWN_HOST, "no-such")])
def test_migrate_names_database_url_when_the_host_fails(project: Path, url: str, host: str) -> None:
    for args in (("migrate", "--skip-checks"), ("showmigrations",)):
        result = manage(project, *args, DATABASE_URL=url)
        assert result.returncode == 1
        line = one_line_error(result)
        assert "DATABASE_URL" in line and host in line, line
        assert "s3cret" not in result.stderr and "Traceback" not in result.stderr
    traced = manage(project, "migrate", "--skip-checks", "--traceback", DATABASE_URL=url)
    assert "Traceback (most recent call last)" in traced.stderr


def test_an_async_command_names_database_url_when_the_host_fails(project: Path) -> None:
    source = (
        "from sqlalchemy import text\n"
        "async with database.get_session_context() as session:\n"
        "    await session.execute(text('SELECT 1'))\n"
    )
    result = manage(project, "shell", "-c", source, DATABASE_URL=REFUSED)
    line = one_line_error(result)
    assert result.returncode == 1
    assert "DATABASE_URL" in line and "127.0.0.1:1" in line, line


def test_a_missing_driver_names_the_extra(project: Path, tmp_path: Path) -> None:
    hidden = tmp_path / "hide"
    hidden.mkdir()
    (hidden / "asyncpg.py").write_text(
        "raise ModuleNotFoundError(\"No module named 'asyncpg'\", name='asyncpg')\n"
    )
    hide = str(hidden)
    result = manage(project, "migrate", "--skip-checks", DATABASE_URL=REFUSED, PYTHONPATH=hide)
    line = one_line_error(result)
    assert 'pip install "tempest-framework[postgres]"' in line, line
    assert "Traceback" not in result.stderr
    checked = manage(project, "check", DATABASE_URL=REFUSED, PYTHONPATH=hide)
    assert checked.returncode == 1
    assert "tempest.E026" in checked.stderr
    assert 'pip install "tempest-framework[postgres]"' in checked.stderr


@pytest.mark.parametrize("name", ["auth", "admin", "tempest", "fastapi", "json"])
def test_startapp_refuses_a_name_that_shadows_something(project: Path, name: str) -> None:
    settings = project / "shop" / "settings.py"
    before = settings.read_text()
    result = manage(project, "startapp", name)
    assert result.returncode == 2
    line = one_line_error(result)
    assert repr(name) in line and "choose another" in line
    assert not (project / name).exists()
    assert settings.read_text() == before


def test_startapp_names_the_installed_app_using_the_label(project: Path) -> None:
    line = one_line_error(manage(project, "startapp", "auth"))
    assert "tempest.contrib.auth" in line


def test_startproject_refuses_tests(tmp_path: Path) -> None:
    result = tempest(tmp_path, "startproject", "tests")
    assert result.returncode == 2
    assert "test package" in one_line_error(result)
    assert list(tmp_path.iterdir()) == []


def test_list_commands_print_json(project: Path) -> None:
    routes = json.loads(manage(project, "routes", "--json").stdout)
    assert isinstance(routes, list) and routes
    assert set(routes[0]) == {"methods", "path", "name", "app"}
    assert any(route["app"] == "orders" for route in routes)

    migrations = json.loads(manage(project, "showmigrations", "--json").stdout)
    assert {"app", "revision", "message", "applied"} == set(migrations[0])
    assert {row["app"] for row in migrations} >= {"orders"}

    checked = manage(project, "check", "--json", DATABASE_URL=REFUSED)
    messages = json.loads(checked.stdout)
    assert checked.returncode == 0
    assert {"id", "level", "message", "hint", "obj"} == set(messages[0])
    assert "tempest.W025" in [message["id"] for message in messages]

    module = project / "orders" / "tasks.py"
    original = module.read_text()
    try:
        module.write_text(
            "from datetime import timedelta\n"
            "from tempest import TaskSession, periodic\n\n\n"
            "@periodic(interval=timedelta(minutes=5))\n"
            "async def tidy_up(session: TaskSession) -> None:\n"
            "    pass\n"
        )
        result = manage(project, "tasks", "--json")
        assert result.returncode == 0, result.stderr
        tasks = json.loads(result.stdout)
    finally:
        module.write_text(original)
    assert tasks == [{"name": tasks[0]["name"], "app": "orders", "schedules": ["every 300s"]}]
    assert "tidy_up" in tasks[0]["name"]
