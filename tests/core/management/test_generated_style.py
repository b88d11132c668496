"""Generated code passes the generated project's own linters, whatever the app's name.

``startproject`` writes a pyproject.toml with ruff's settings (line length 100); the files
``startproject`` and ``startapp`` write must pass ``ruff format --check`` and ``ruff check``
with them, unedited, for a short app name and a long one (whose signatures must wrap).
"""

from __future__ import annotations

import subprocess
from pathlib import Path

import pytest

from tempest.core.management.templates import LINE_LENGTH, fit_call
from tests.helpers import PYTHON, clean_env
from tests.warm import warm_manage, warm_tempest

RUFF = str(Path(PYTHON).parent / "ruff")


def ruff(project: Path, *args: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [RUFF, *args, "--no-cache", "."],
        cwd=project,
        capture_output=True,
        text=True,
        env=clean_env(),
        timeout=60,
    )


@pytest.mark.e2e
def test_a_new_project_and_its_apps_pass_ruff(tmp_path: Path) -> None:
    assert warm_tempest(tmp_path, "startproject", "shop").returncode == 0
    project = tmp_path / "shop"
    for app in ("orders", "customer_subscriptions"):
        result = warm_manage(project, "startapp", app)
        assert result.returncode == 0, result.stderr
    formatted = ruff(project, "format", "--check")
    assert formatted.returncode == 0, formatted.stdout + formatted.stderr
    linted = ruff(project, "check")
    assert linted.returncode == 0, linted.stdout + linted.stderr


def test_fit_wraps_as_ruff_does() -> None:
    short = fit_call("    ", "async def create", "self, data: A", " -> B:")
    assert short == "    async def create(self, data: A) -> B:"
    long_name = "X" * 60
    wrapped = fit_call("", "async def update", f"data: {long_name}, controller: C", " -> R:")
    assert wrapped == f"async def update(\n    data: {long_name}, controller: C\n) -> R:"
    huge = f"a: dict[str, {long_name}], b: {long_name}"
    exploded = fit_call("", "f", huge)
    assert exploded == f"f(\n    a: dict[str, {long_name}],\n    b: {long_name},\n)"
    assert all(len(line) <= LINE_LENGTH for line in exploded.splitlines())
    assert fit_call("", "T = Annotated", "A, B", brackets="[]") == "T = Annotated[A, B]"
