"""The code base stays lint-clean, formatted and strictly typed."""

from __future__ import annotations

from pathlib import Path

import pytest

from tests.helpers import PYTHON, REPO, run

BIN = Path(__import__("sys").executable).parent


def test_ruff_lint() -> None:
    result = run([str(BIN / "ruff"), "check", "tempest", "tests", "bench"], REPO)
    assert result.returncode == 0, result.stdout


def test_ruff_format() -> None:
    result = run([str(BIN / "ruff"), "format", "--check", "tempest", "tests", "bench"], REPO)
    assert result.returncode == 0, result.stdout


@pytest.mark.slow
def test_mypy_strict() -> None:
    result = run([str(BIN / "mypy")], REPO, timeout=600)
    assert result.returncode == 0, result.stdout


def test_import_tempest_stays_cheap() -> None:
    code = (
        "import sys, tempest, tempest.conf, tempest.core.management;"
        "heavy = {'fastapi', 'sqlalchemy', 'pydantic', 'pydantic_settings', 'starlette', 'uvicorn'};"
        "print(sorted(heavy & set(sys.modules)))"
    )
    result = run([str(BIN / "python"), "-c", code], REPO)
    assert result.stdout.strip() == "[]", result.stdout + result.stderr


@pytest.mark.parametrize("command", [("showmigrations",), ("user", "list")])
def test_commands_that_serve_nothing_import_no_web_stack(
    shared_project: Path, command: tuple[str, ...]
) -> None:
    # The project installs tempest.contrib.auth and tempest.contrib.admin: loading their
    # models and admin registrations must not pull in FastAPI, Starlette or the templates.
    result = run([PYTHON, "-X", "importtime", "manage.py", *command], shared_project)
    assert result.returncode == 0, result.stdout + result.stderr
    imported = {
        line.rpartition("|")[2].strip().partition(".")[0]
        for line in result.stderr.splitlines()
        if line.startswith("import time:")
    }
    assert "sqlalchemy" in imported  # the parsing sees the imports at all
    web = {"fastapi", "starlette", "jinja2", "uvicorn"}
    assert sorted(web & imported) == []
