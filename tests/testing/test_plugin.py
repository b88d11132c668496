"""The pytest plugin, as pytest loads it: real pytest runs in subprocesses.

The plugin is registered by the ``pytest11`` entry point of the installed tempest, so
these runs load it the way a user's do: in an unrelated folder it must stay inert, in a
generated project it must provide its fixtures.
"""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path

import pytest

from tests.helpers import PYTHON, clean_env, run, without_contrib_apps

pytestmark = pytest.mark.e2e


def pytest_run(folder: Path, *args: str, **env: str) -> str:
    """``python -m pytest -q ARGS`` in ``folder``; its output (stdout and stderr)."""
    result = run(
        [PYTHON, "-m", "pytest", "-q", "-p", "no:cacheprovider", *args],
        folder,
        timeout=180,
        env=clean_env(**env),
    )
    return result.stdout + result.stderr


UNRELATED_CONFTEST = '''
import pytest


@pytest.fixture
def settings() -> dict[str, bool]:
    """A fixture of the project's own, named like one of tempest's."""
    return {"own": True}
'''

UNRELATED_TESTS = """
import os
import sys

import pytest

TEMPEST_FIXTURES = (
    "authenticated_client", "client", "db_session", "mailoutbox", "tempest_app", "user",
)


def test_the_plugin_is_loaded_and_does_nothing(request: pytest.FixtureRequest) -> None:
    plugins = request.config.pluginmanager
    assert plugins.has_plugin("tempest")  # the entry point loaded it
    assert not plugins.has_plugin("tempest-project")
    assert "tempest.testing.project" not in sys.modules
    assert not {"fastapi", "sqlalchemy"} & set(sys.modules)
    for name in ("DATABASE_URL", "EMAIL_BACKEND", "TASKIQ_BROKER_URL", "TEMPEST_SETTINGS_MODULE"):
        assert name not in os.environ, name


@pytest.mark.parametrize("name", TEMPEST_FIXTURES)
def test_no_tempest_fixture(request: pytest.FixtureRequest, name: str) -> None:
    with pytest.raises(pytest.FixtureLookupError):
        request.getfixturevalue(name)


def test_its_own_fixture_of_the_same_name(settings: dict[str, bool]) -> None:
    assert settings == {"own": True}
"""


def test_an_unrelated_project_sees_an_inert_plugin(tmp_path: Path) -> None:
    (tmp_path / "conftest.py").write_text(UNRELATED_CONFTEST)
    (tmp_path / "test_unrelated.py").write_text(UNRELATED_TESTS)
    output = pytest_run(tmp_path)
    assert "8 passed" in output, output


def test_the_plugin_module_imports_neither_fastapi_nor_sqlalchemy(tmp_path: Path) -> None:
    code = (
        "import sys, tempest.testing.plugin; "
        "print(sorted({'fastapi', 'sqlalchemy', 'pydantic', 'httpx'} & set(sys.modules)))"
    )
    result = run([PYTHON, "-c", code], tmp_path)
    assert result.returncode == 0, result.stderr
    assert result.stdout.strip() == "[]"


FIXTURE_TESTS = """
import pytest
from httpx import AsyncClient
from tempest.conf import ImproperlyConfigured, settings as project_settings


async def test_authenticated_client_is_signed_in_as_user(
    authenticated_client: AsyncClient, client: AsyncClient, user
) -> None:
    me = await authenticated_client.get("/api/auth/me")
    assert me.status_code == 200, me.text
    assert me.json()["email"] == user.email == "user@example.com"
    assert me.json()["id"] == str(user.id)
    assert (await client.get("/api/auth/me")).status_code == 401  # still anonymous


async def test_the_user_is_rolled_back_with_the_test(db_session) -> None:
    from sqlalchemy import func, select
    from tempest.contrib.auth import get_user_model

    assert await db_session.scalar(select(func.count()).select_from(get_user_model())) == 0


def test_the_settings_fixture_overrides(settings) -> None:
    assert settings.TITLE == "shop"
    settings.TITLE = "Changed"
    assert project_settings.TITLE == "Changed"
    settings.TITLE = "Changed again"
    assert project_settings.TITLE == "Changed again"
    with pytest.raises(ImproperlyConfigured, match="NOT_A_SETTING"):
        settings.NOT_A_SETTING = 1
    with pytest.raises(ImproperlyConfigured, match="SERVER_PORT"):
        settings.SERVER_PORT = "not a port"
    with pytest.raises(AttributeError, match="cannot be deleted"):
        del settings.TITLE


def test_the_settings_are_back() -> None:
    assert project_settings.TITLE == "shop"


@pytest.mark.parametrize("query", ["", "?page=2"])
async def test_parametrized_async_tests_run(client: AsyncClient, query: str) -> None:
    assert (await client.get(f"/api/auth/me{query}")).status_code == 401


class TestInAClass:
    async def test_async_methods_run_too(self, client: AsyncClient) -> None:
        assert (await client.get("/api/auth/me")).status_code == 401
"""


def test_a_project_gets_the_fixtures(new_project: Callable[..., Path]) -> None:
    project = new_project("shop", "orders")
    (project / "tests" / "test_fixtures.py").write_text(FIXTURE_TESTS)
    output = pytest_run(project)
    # 3 smoke tests, 4 of the orders example (anonymous writes refused), 7 above.
    assert "14 passed" in output, output


def test_the_option_beats_the_ini_and_a_second_load_is_harmless(
    new_project: Callable[..., Path],
) -> None:
    project = new_project("shop")
    pyproject = project / "pyproject.toml"
    text = pyproject.read_text()
    assert 'tempest_settings = "shop.settings"' in text
    # As projects made before the entry point: the plugin loaded again by module name.
    pyproject.write_text(
        text.replace(
            'tempest_settings = "shop.settings"',
            'addopts = ["-p", "tempest.testing.plugin"]\ntempest_settings = "nowhere.settings"',
        )
    )
    (project / "tests" / "conftest.py").write_text('pytest_plugins = ["tempest.testing.plugin"]\n')
    output = pytest_run(project, "--tempest-settings", "shop.settings")
    assert "3 passed" in output, output
    output = pytest_run(project, TEMPEST_SETTINGS_MODULE="shop.settings")
    assert "3 passed" in output, output
    output = pytest_run(project)  # the ini's module, which does not exist
    assert "nowhere.settings" in output and "no such module" in output, output


NEEDS_A_USER = """
async def test_signed_in(authenticated_client) -> None:
    pass
"""


def test_without_an_auth_app_the_user_fixtures_say_what_to_install(
    new_project: Callable[..., Path],
) -> None:
    project = new_project("bare")
    without_contrib_apps(project)
    (project / "tests" / "test_user.py").write_text(NEEDS_A_USER)
    output = pytest_run(project, "tests/test_user.py")
    assert "1 error" in output, output  # at the fixture's set-up
    assert 'add "tempest.contrib.auth" to INSTALLED_APPS' in " ".join(output.split()), output
