"""Shell completion as docs/commands/index.md sets it up, in a real bash.

The page's bash lines are run as written (``~`` is a temporary home), then bash's
completion function is called the way bash calls it on Tab, and the suggestions are read
from ``COMPREPLY``. Each suggestion comes from a real ``manage.py``/``tempest`` process.
"""

from __future__ import annotations

import re
import shlex
import shutil
from pathlib import Path

import pytest

from tests.helpers import PYTHON, REPO, clean_env, run

pytestmark = pytest.mark.e2e

PAGE = REPO / "docs" / "commands" / "index.md"


def completion_section() -> str:
    text = PAGE.read_text()
    start = text.index("### Shell completion")
    return text[start : text.index("\n## ", start)]


def documented_manage_py_setup() -> list[str]:
    block = completion_section().split("```bash\n", 1)[1].split("```", 1)[0]
    return block.strip().splitlines()


def documented_tempest_line() -> str:
    row = next(line for line in completion_section().splitlines() if line.startswith("| bash |"))
    found = re.findall(r"`([^`]+)`", row)
    return found[-1]


def complete(setup: list[str], words: list[str], cwd: Path, home: Path, **env: str) -> list[str]:
    """What bash offers on Tab after ``words`` (the last one is being typed)."""
    if shutil.which("bash") is None:
        pytest.skip("bash is not installed")
    function = "_managepy_completion" if words[0].endswith("manage.py") else "_tempest_completion"
    script = "\n".join(
        [
            *setup,
            f"COMP_WORDS=({shlex.join(words)})",
            f"COMP_CWORD={len(words) - 1}",
            "COMPREPLY=()",
            f"{function} {shlex.quote(words[0])}",
            'printf "%s\\n" "${COMPREPLY[@]}"',
        ]
    )
    path = f"{Path(PYTHON).parent}:{clean_env().get('PATH', '')}"
    done = run(["bash", "-c", script], cwd, env=clean_env(HOME=str(home), PATH=path, **env))
    assert done.returncode == 0, done.stderr
    return [line for line in done.stdout.splitlines() if line]


@pytest.fixture(scope="module")
def project(shared_project: Path) -> Path:
    return shared_project


def test_an_unknown_prefix_gets_no_suggestion(project: Path, tmp_path: Path) -> None:
    setup = [*documented_manage_py_setup(), ". ~/.bashrc"]
    assert complete(setup, ["./manage.py", "zzz"], project, tmp_path) == []


def test_manage_py_completes_command_names_and_options(project: Path, tmp_path: Path) -> None:
    setup = [*documented_manage_py_setup(), ". ~/.bashrc"]
    assert complete(setup, ["./manage.py", "mig"], project, tmp_path) == ["migrate"]
    assert "startapp" in complete(setup, ["./manage.py", ""], project, tmp_path)
    assert complete(setup, ["./manage.py", "migrate", "--pl"], project, tmp_path) == ["--plan"]
    assert (tmp_path / ".manage.py-complete.bash").is_file()  # saved where the page says


def test_tempest_completes_command_names(tmp_path: Path) -> None:
    line = documented_tempest_line()
    assert line.startswith("eval "), line
    assert complete([line], ["tempest", "startp"], tmp_path, tmp_path) == ["startproject"]


def test_tempest_completes_project_commands_with_the_settings_module(
    project: Path, tmp_path: Path
) -> None:
    line = documented_tempest_line()
    offered = complete(
        [line], ["tempest", "mig"], project, tmp_path, TEMPEST_SETTINGS_MODULE="shop.settings"
    )
    assert offered == ["migrate"]
