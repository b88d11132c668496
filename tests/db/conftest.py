import shutil
from collections.abc import AsyncIterator
from pathlib import Path

import pytest

from tempest.db import AsyncDatabaseManager
from tests.warm import (  # manage.py processes forked warm
    warm_manage as manage,
    warm_tempest as tempest,
)


@pytest.fixture
def anyio_backend() -> str:
    return "asyncio"


@pytest.fixture
def sqlite_url(tmp_path: Path) -> str:
    return f"sqlite+aiosqlite:///{tmp_path / 'test.db'}"


@pytest.fixture
async def db(sqlite_url: str) -> AsyncIterator[AsyncDatabaseManager]:
    """A connected manager on a fresh SQLite file with every model's table created."""
    manager = AsyncDatabaseManager(sqlite_url)
    await manager.connect()
    await manager.create_tables()
    try:
        yield manager
    finally:
        await manager.disconnect()


# Generated projects for the manage.py migration tests (test_migration_commands.py,
# test_squashmigrations.py). Generating one takes two subprocesses; each test gets a copy
# of a project generated once per run instead.


@pytest.fixture(scope="session")
def bare_project_template(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """``startproject shop``, no app of its own. Copy it; never change it."""
    root = tmp_path_factory.mktemp("bare_template")
    created = tempest(root, "startproject", "shop")
    assert created.returncode == 0, created.stderr
    return root / "shop"


@pytest.fixture(scope="session")
def orders_project_template(
    bare_project_template: Path, tmp_path_factory: pytest.TempPathFactory
) -> Path:
    """``shop`` with the example app ``orders``, no migrations yet. Copy it; never change it."""
    project = copy_project(bare_project_template, tmp_path_factory.mktemp("orders_template"))
    app = manage(project, "startapp", "orders")
    assert app.returncode == 0, app.stderr
    return project


@pytest.fixture(scope="session")
def made_project_template(
    orders_project_template: Path, tmp_path_factory: pytest.TempPathFactory
) -> Path:
    """``shop`` + ``orders`` after ``makemigrations``: orders' initial revision, unapplied.

    makemigrations uses no project database, so the revision is the same for every database
    a copy is then migrated on.
    """
    project = copy_project(orders_project_template, tmp_path_factory.mktemp("made_template"))
    made = manage(project, "makemigrations")
    assert made.returncode == 0, made.stderr
    assert not (project / "db.sqlite3").exists()
    return project


def copy_project(template: Path, parent: Path) -> Path:
    """A copy of a generated project in ``parent``, under the same name.

    The project's paths (its SQLite file, ``BASE_DIR``) are computed from where it is, so
    the copy is a project of its own.
    """
    target = parent / template.name
    shutil.copytree(template, target)
    return target
