"""The code base stays lint-clean, formatted and strictly typed."""

from __future__ import annotations

from pathlib import Path

import pytest

from tests.helpers import REPO, run

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
