"""Who may write to the example resource of ``startapp``: signed-in users, when there are any.

The generated project's own tests are run (real pytest subprocesses): with the auth app
they check that anonymous writes are refused; without it, that the open routes work.
"""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path

import pytest

from tests.helpers import PYTHON, run, without_contrib_apps
from tests.warm import (  # manage.py processes forked warm
    warm_manage as manage,
    warm_tempest as tempest,
)

pytestmark = pytest.mark.e2e


def test_without_the_auth_app_the_writes_are_open_and_said_to_be(
    new_project: Callable[..., Path],
) -> None:
    project = new_project("bare")
    without_contrib_apps(project)
    result = manage(project, "startapp", "items")
    assert result.returncode == 0, result.stderr
    assert "tempest.contrib.auth is not installed" in result.stdout
    assert "open to anyone" in result.stdout
    routers = (project / "items" / "routers.py").read_text()
    assert "dependencies=[SignedIn]" not in routers and "Depends(current_user)" not in routers
    assert 'install "tempest.contrib.auth"' in routers
    assert "contrib.auth" not in (project / "items" / "dependencies.py").read_text()
    tested = run([PYTHON, "-m", "pytest", "-q", "-p", "no:cacheprovider"], project, timeout=120)
    assert "6 passed" in tested.stdout, tested.stdout + tested.stderr


def test_with_the_auth_app_every_write_needs_a_signed_in_user(
    new_project: Callable[..., Path],
) -> None:
    project = new_project("shop")
    result = manage(project, "startapp", "orders")
    assert result.returncode == 0, result.stderr
    assert "open to anyone" not in result.stdout
    routers = (project / "orders" / "routers.py").read_text()
    for route in ("create_order", "update_order", "delete_order"):
        decorator = routers[: routers.index(f"async def {route}(")].rsplit("@router.", 1)[1]
        assert "dependencies=[SignedIn]" in decorator, route
        assert "401" in decorator, route
    for route in ("list_orders", "get_order"):
        decorator = routers[: routers.index(f"async def {route}(")].rsplit("@router.", 1)[1]
        assert "SignedIn" not in decorator, route


def test_outside_a_project_the_writes_are_protected(tmp_path: Path) -> None:
    result = tempest(tmp_path, "startapp", "notes")
    assert result.returncode == 0, result.stderr
    routers = (tmp_path / "notes" / "routers.py").read_text()
    assert routers.count("    dependencies=[SignedIn],\n") == 3
