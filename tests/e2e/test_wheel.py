"""The built wheel works on its own: templates inside, commands run from a fresh venv.

The generated project then installs with its README's line, with the pip that ``python -m
venv`` brings (23.2 with Python 3.11, which knows no dependency groups), and the tools that
line installs (pytest, ruff, mypy) pass on it.
"""

from __future__ import annotations

import subprocess
import zipfile
from pathlib import Path

import pytest

from tests.helpers import PYTHON, clean_env, run

pytestmark = [pytest.mark.e2e, pytest.mark.slow]


def test_wheel_installs_and_starts_a_project(tmp_path: Path, built_wheel: Path) -> None:
    venv, wheel = tmp_path / "venv", built_wheel
    made_venv = run([PYTHON, "-m", "venv", str(venv)], tmp_path)
    assert made_venv.returncode == 0, made_venv.stderr
    names = zipfile.ZipFile(wheel).namelist()
    assert "tempest/project_template/project_name/settings.py-tpl" in names
    assert "tempest/app_template/routers.py-tpl" in names
    assert "tempest/py.typed" in names
    assert [name for name in names if name.endswith(".dist-info/licenses/LICENSE")], names
    assert "tempest/utils/br/data/municipalities.csv.gz" in names
    # /docs and /redoc load their assets from the package (tempest.api.docs); no maps.
    for asset in ("swagger-ui-bundle.js", "swagger-ui.css", "favicon.png", "redoc.standalone.js"):
        assert f"tempest/api/static/{asset}" in names, asset
    assert "tempest/api/static/README.md" in names  # versions and licences
    assert not [name for name in names if name.endswith(".map")]

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

    # Several apps in the flat layout; the venv's tempest satisfies the pin, pip's cache
    # (or PyPI) gives setuptools and the dev tools. The project's tests run on SQLite.
    assert run([str(python), "manage.py", "startapp", "billing"], project, env=env).returncode == 0
    env.pop("TEMPEST_TEST_DATABASE_URL", None)
    install, lint = readme_command(project, "pip install"), readme_command(project, "ruff")
    assert "-e" in install.split(), install
    _shell(install, project, env)
    # The tests and the linters read the project and write only their own caches: together.
    linting = subprocess.Popen(
        ["sh", "-c", lint],
        cwd=project,
        stdout=subprocess.PIPE,
        stderr=subprocess.STDOUT,
        text=True,
        env=env,
    )
    try:
        assert "passed" in _shell("pytest -q -p no:cacheprovider", project, env)
        lint_output, _ = linting.communicate(timeout=600)
    finally:
        linting.kill()
        linting.wait()
    assert linting.returncode == 0, f"{lint}\n{lint_output}"
    # An app added after the install: the same line installs it too, and its tests run.
    assert run([str(python), "manage.py", "startapp", "payments"], project, env=env).returncode == 0
    _shell(install, project, env)
    imported = run([str(python), "-c", "import payments, orders, billing, shop"], tmp_path, env=env)
    assert imported.returncode == 0, imported.stderr
    tested = _shell("pytest -q -p no:cacheprovider payments", project, env)
    assert "passed" in tested, tested


def readme_command(project: Path, start: str) -> str:
    """The line of the project README's shell block that starts with ``start``, no comment."""
    readme = (project / "README.md").read_text()
    block = readme.split("```bash\n", 1)[1].split("```", 1)[0]
    found = [line.split("  #")[0].strip() for line in block.splitlines() if line.startswith(start)]
    assert len(found) == 1, f"README.md has no single {start!r} line:\n{block}"
    return found[0]


def _shell(command: str, cwd: Path, env: dict[str, str]) -> str:
    done = run(["sh", "-c", command], cwd, timeout=600, env=env)
    assert done.returncode == 0, f"{command}\n{done.stdout}\n{done.stderr}"
    return done.stdout
