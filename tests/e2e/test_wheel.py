"""The built wheel works on its own: templates inside, commands run from a fresh venv."""

from __future__ import annotations

import zipfile
from pathlib import Path

import pytest

from tests.helpers import PYTHON, REPO, clean_env, run

pytestmark = [pytest.mark.e2e, pytest.mark.slow]


def test_wheel_installs_and_starts_a_project(tmp_path: Path) -> None:
    dist = tmp_path / "dist"
    built = run(
        [PYTHON, "-m", "build", "--wheel", "--outdir", str(dist), str(REPO)], REPO, timeout=300
    )
    assert built.returncode == 0, built.stdout + built.stderr
    wheel = next(dist.glob("tempest_framework-*.whl"))
    names = zipfile.ZipFile(wheel).namelist()
    assert "tempest/project_template/project_name/settings.py-tpl" in names
    assert "tempest/app_template/routers.py-tpl" in names
    assert "tempest/py.typed" in names

    venv = tmp_path / "venv"
    assert run([PYTHON, "-m", "venv", str(venv)], tmp_path).returncode == 0
    python = venv / "bin" / "python"
    installed = run(
        [str(python), "-m", "pip", "install", "--quiet", "--disable-pip-version-check", str(wheel)],
        tmp_path,
        timeout=600,
    )
    assert installed.returncode == 0, installed.stderr

    work = tmp_path / "work"
    work.mkdir()
    env = clean_env()
    env["PATH"] = f"{venv / 'bin'}:{env.get('PATH', '')}"
    created = run([str(venv / "bin" / "tempest"), "startproject", "shop"], work, env=env)
    assert created.returncode == 0, created.stderr
    project = work / "shop"
    app = run([str(python), "manage.py", "startapp", "orders"], project, env=env)
    assert app.returncode == 0, app.stderr
    for step in ("makemigrations", "migrate"):  # the wheel carries Alembic's env and template
        migrated = run([str(python), "manage.py", step], project, env=env)
        assert migrated.returncode == 0, migrated.stderr
    checked = run([str(python), "manage.py", "check"], project, env=env)
    assert checked.returncode == 0, checked.stderr
    assert "no issues" in checked.stdout
    assert "tempest-framework==" in (project / "pyproject.toml").read_text()
