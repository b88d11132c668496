"""The extras matrix: a project made by the built wheel passes its own gate, unedited.

The wheel is built once and installed, with the client libraries of every service extra
and the project's dev tools, into one fresh virtual environment for the whole run. In it,
each combination of extras gets ``tempest startproject --extras ... --docker``, then
``manage.py startapp orders``, then ``manage.py gate``: real ruff, mypy --strict and
pytest. The project's tests run on the real PostgreSQL of ``TEMPEST_TEST_DATABASE_URL``
(when set) for the combinations with ``postgres``, and on the real Redis of
``TEMPEST_TEST_REDIS_URL`` for those with ``redis``.

The default run covers "none" and "all"; ``TEMPEST_FULL_MATRIX=1`` adds the others
(they are marked ``matrix``).
"""

from __future__ import annotations

import os
import tomllib
import zipfile
from pathlib import Path

import pytest

from tests.helpers import PYTHON, REPO, clean_env, run

pytestmark = [pytest.mark.e2e, pytest.mark.slow]

FULL_MATRIX = os.environ.get("TEMPEST_FULL_MATRIX") == "1"
ALL = "postgres,redis,rabbitmq,s3"
COMBINATIONS = ["", "postgres", "postgres,redis", "postgres,redis,rabbitmq", "s3", ALL]
DEFAULT = {"", ALL}


def _cases() -> list[object]:
    return [
        pytest.param(
            extras,
            id=extras.replace(",", "+") or "none",
            marks=[]
            if extras in DEFAULT
            else [
                pytest.mark.matrix,
                pytest.mark.skipif(not FULL_MATRIX, reason="TEMPEST_FULL_MATRIX=1 runs it"),
            ],
        )
        for extras in COMBINATIONS
    ]


@pytest.fixture(scope="session")
def matrix_venv(tmp_path_factory: pytest.TempPathFactory, built_wheel: Path) -> Path:
    """A fresh venv with the wheel (every service extra) and a project's dev tools."""
    root = tmp_path_factory.mktemp("matrix")
    venv, wheel = root / "venv", built_wheel
    made = run([PYTHON, "-m", "venv", str(venv)], root)
    assert made.returncode == 0, made.stderr
    names = set(zipfile.ZipFile(wheel).namelist())
    for template in ("Dockerfile-tpl", ".dockerignore-tpl", "docker-compose.yaml-tpl"):
        assert f"tempest/core/management/docker_template/{template}" in names, template
    dev_tools = _project_dev_tools()
    installed = run(
        [
            str(venv / "bin" / "python"),
            "-m",
            "pip",
            "install",
            "--quiet",
            "--disable-pip-version-check",
            "--no-compile",  # each module compiles when first imported, if ever
            f"{wheel}[cache,minio,postgres,queue,tasks]",
            *dev_tools,
        ],
        root,
        timeout=900,
    )
    assert installed.returncode == 0, installed.stderr
    return venv


def _project_dev_tools() -> list[str]:
    """The dev dependencies a new project's pyproject.toml lists (its gate's tools)."""
    text = (REPO / "project_template" / "pyproject.toml-tpl").read_text()
    text = text.replace("{{ tempest_version }}", "0").replace("{{ dependency }}", "")
    text = text.replace("{{ project_name }}", "p")
    project = tomllib.loads(text)
    groups = project.get("dependency-groups", {})
    tools = project["project"].get("optional-dependencies", {}).get("dev") or groups.get("dev")
    return [tool for tool in tools if isinstance(tool, str)]


@pytest.mark.parametrize("extras", _cases())
def test_a_new_project_passes_its_gate(
    extras: str, matrix_venv: Path, tmp_path: Path, tmp_path_factory: pytest.TempPathFactory
) -> None:
    name = "m_" + (extras.replace(",", "_") or "none")
    env = clean_env()
    env["PATH"] = f"{matrix_venv / 'bin'}:{env.get('PATH', '')}"
    env.pop("TEMPEST_TEST_DATABASE_URL", None)
    # The projects' tests use the real servers when the project uses them.
    database = os.environ.get("TEMPEST_TEST_DATABASE_URL", "")
    if "postgres" in extras and database.startswith("postgresql"):
        env["TEMPEST_TEST_DATABASE_URL"] = database
    if "redis" in extras:
        env["REDIS_URL"] = os.environ.get("TEMPEST_TEST_REDIS_URL", "redis://127.0.0.1:6379/0")
    # One mypy cache for the run: tempest, FastAPI, SQLAlchemy... are analysed once.
    env["MYPY_CACHE_DIR"] = str(tmp_path_factory.getbasetemp() / "mypy-cache")
    python = str(matrix_venv / "bin" / "python")

    created = run(
        [str(matrix_venv / "bin" / "tempest"), "startproject", name, "--docker"]
        + (["--extras", extras] if extras else []),
        tmp_path,
        env=env,
    )
    assert created.returncode == 0, created.stderr
    project = tmp_path / name
    app = run([python, "manage.py", "startapp", "orders"], project, env=env)
    assert app.returncode == 0, app.stderr

    gate = run([python, "manage.py", "gate"], project, timeout=900, env=env)
    summary = gate.stdout.splitlines()[-4:]
    assert gate.returncode == 0, gate.stdout[-4000:] + gate.stderr
    assert [line.split()[:2] for line in summary] == [
        ["lint", "ok"],
        ["format", "ok"],
        ["typecheck", "ok"],
        ["test", "ok"],
    ], gate.stdout
