"""lint, fix, format, typecheck, test and gate: real ruff, mypy and pytest in a new project.

One project made by ``startproject shop`` + ``startapp orders`` serves the module. The
gate runs mypy (strict, from the project's pyproject.toml) cold once; its cache lives in a
folder shared by test runs, so later runs only check the project's own files.
"""

from __future__ import annotations

import os
import re
import subprocess
import sys
import tempfile
from collections.abc import Iterator
from pathlib import Path

import pytest

from tests.helpers import clean_env, one_line_error, run
from tests.warm import warm_manage, warm_tempest

pytestmark = pytest.mark.e2e

MYPY_CACHE = str(Path(tempfile.gettempdir()) / f"tempest-tests-mypy-{os.getuid()}")


@pytest.fixture(scope="module")
def project(tmp_path_factory: pytest.TempPathFactory) -> Path:
    root = tmp_path_factory.mktemp("gate")
    made = warm_tempest(root, "startproject", "shop")
    assert made.returncode == 0, made.stderr
    project = root / "shop"
    added = warm_manage(project, "startapp", "orders")
    assert added.returncode == 0, added.stderr
    return project


@pytest.fixture
def scratch(project: Path) -> Iterator[Path]:
    """A file of the project for one test to break; removed afterwards."""
    path = project / "orders" / "scratch.py"
    yield path
    path.unlink(missing_ok=True)


def gate(project: Path) -> subprocess.CompletedProcess[str]:
    return warm_manage(project, "gate", timeout=240, MYPY_CACHE_DIR=MYPY_CACHE)


def test_the_gate_passes_on_a_new_project_and_after_startapp(project: Path) -> None:
    assert (project / ".pre-commit-config.yaml").is_file()
    pyproject = (project / "pyproject.toml").read_text()
    assert "[tool.mypy]\nstrict = true" in pyproject
    assert '"ruff>=' in pyproject and '"mypy>=' in pyproject and '"pytest>=' in pyproject

    result = gate(project)
    assert result.returncode == 0, result.stdout + result.stderr
    summary = result.stdout.splitlines()[-4:]
    assert [line.split()[:2] for line in summary] == [
        ["lint", "ok"],
        ["format", "ok"],
        ["typecheck", "ok"],
        ["test", "ok"],
    ]
    assert all(line.split()[2].endswith("s") for line in summary)
    assert "Success: no issues found" in result.stdout  # mypy ran, on every file
    assert " passed" in result.stdout  # and pytest ran the project's and the app's tests


def test_a_failing_test_fails_the_gate_and_is_named(project: Path) -> None:
    broken = project / "tests" / "test_broken.py"
    broken.write_text("def test_broken() -> None:\n    assert sum([1, 1]) == 3\n")
    try:
        result = gate(project)
    finally:
        broken.unlink()
    assert result.returncode == 1
    assert [line.split()[:2] for line in result.stdout.splitlines()[-4:]] == [
        ["lint", "ok"],
        ["format", "ok"],
        ["typecheck", "ok"],
        ["test", "FAILED"],
    ]
    assert "1 failed" in result.stdout
    assert result.stderr.strip().splitlines()[-1] == "Error: The gate failed: test."


def test_exit_codes_pass_through_and_fix_repairs(project: Path, scratch: Path) -> None:
    scratch.write_text("import os\nimport sys\nprint( sys.argv )\n")
    linted = warm_manage(project, "lint")
    assert linted.returncode == 1
    assert "F401" in linted.stdout  # os is unused
    assert warm_manage(project, "format", "--check").returncode == 1
    assert warm_manage(project, "fix").returncode == 0
    assert scratch.read_text() == "import sys\n\nprint(sys.argv)\n"
    assert warm_manage(project, "lint").returncode == 0
    assert warm_manage(project, "format", "--check").returncode == 0


def test_unsafe_fixes_only_with_the_flag(project: Path, scratch: Path) -> None:
    # UP: ruff's fix of an ``x == None`` comparison (E711) is unsafe: it needs --unsafe.
    scratch.write_text("def f(x: object) -> bool:\n    return x == None\n")
    assert warm_manage(project, "fix").returncode == 1
    assert "== None" in scratch.read_text()
    assert warm_manage(project, "fix", "--unsafe").returncode == 0
    assert "x is None" in scratch.read_text()


def test_typecheck_reports_mypy_errors(project: Path, scratch: Path) -> None:
    scratch.write_text('def f() -> int:\n    return "one"\n')
    result = warm_manage(project, "typecheck", "orders", MYPY_CACHE_DIR=MYPY_CACHE)
    assert result.returncode == 1
    assert "Incompatible return value type" in result.stdout


def test_arguments_after_test_go_to_pytest(project: Path) -> None:
    result = warm_manage(project, "test", "tests/test_smoke.py", "-k", "liveness", "--", "-q")
    assert result.returncode == 0, result.stdout + result.stderr
    assert "1 passed, 2 deselected" in result.stdout
    assert warm_manage(project, "test", "-k", "no_test_has_this_name").returncode == 5


@pytest.fixture(scope="module")
def python_without_ruff(tmp_path_factory: pytest.TempPathFactory) -> str:
    """A virtual environment with everything of the test environment's but ruff.

    ``venv --without-pip`` makes an empty one in a fraction of a second; its
    site-packages then gets a link to each entry of ours (the packages, their metadata
    and the .pth files, tempest's editable install included) except ruff's.
    """
    root = tmp_path_factory.mktemp("noruff")
    made = run([sys.executable, "-m", "venv", "--without-pip", str(root / "venv")], root)
    assert made.returncode == 0, made.stderr
    ours = Path(next(p for p in sys.path if p.endswith("site-packages")))
    theirs = next((root / "venv" / "lib").glob("python*/site-packages"))
    for entry in ours.iterdir():
        if not entry.name.lower().startswith("ruff"):
            (theirs / entry.name).symlink_to(entry)
    return str(root / "venv" / "bin" / "python")


def test_a_missing_tool_is_one_line_naming_the_package(
    project: Path, python_without_ruff: str
) -> None:
    result = run([python_without_ruff, "manage.py", "lint"], project, env=clean_env())
    assert result.returncode == 127
    line = one_line_error(result)
    assert line.startswith("Error: ruff is not installed in this environment")
    assert "pip install ruff" in line

    gated = run([python_without_ruff, "manage.py", "gate", "--failfast"], project, env=clean_env())
    assert gated.returncode == 127
    summary, skipped = gated.stdout.splitlines()[-2:]
    assert re.fullmatch(
        r"lint +FAILED +\d+\.\ds +\(ruff not installed: pip install ruff\)", summary
    )
    assert skipped == "Not run (--failfast): format, typecheck, test"
    assert gated.stderr.splitlines() == [line, "Error: The gate failed: lint."]
