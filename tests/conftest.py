"""Fixtures shared by the framework's tests."""

from __future__ import annotations

import logging
from collections.abc import Callable, Iterator
from pathlib import Path

import pytest

from tests.helpers import manage, tempest


@pytest.fixture(scope="session")
def shared_project(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """One generated project for the whole run: ``shop`` with the example app ``orders``.

    Tests must not change it; use ``new_project`` for that.
    """
    root = tmp_path_factory.mktemp("shared")
    created = tempest(root, "startproject", "shop")
    assert created.returncode == 0, created.stderr
    project = root / "shop"
    app = manage(project, "startapp", "orders")
    assert app.returncode == 0, app.stderr
    tables = manage(project, "shell", "-c", "await database.create_tables()")
    assert tables.returncode == 0, tables.stderr
    return project


@pytest.fixture
def new_project(tmp_path: Path) -> Callable[..., Path]:
    """Make a fresh project (and optionally apps) that the test may change."""

    def make(name: str = "mysite", *apps: str) -> Path:
        created = tempest(tmp_path, "startproject", name)
        assert created.returncode == 0, created.stderr
        project = tmp_path / name
        for app in apps:
            result = manage(project, "startapp", app)
            assert result.returncode == 0, result.stderr
        return project

    return make


@pytest.fixture
def anyio_backend() -> str:
    """Async tests run on asyncio."""
    return "asyncio"


@pytest.fixture
def restore_root_logging() -> Iterator[None]:
    """Undo configure_logging's changes to the root logger after a test."""
    root = logging.getLogger()
    handlers, level = root.handlers[:], root.level
    yield
    for handler in root.handlers[:]:
        if handler not in handlers:
            root.removeHandler(handler)
            handler.close()
    root.setLevel(level)
