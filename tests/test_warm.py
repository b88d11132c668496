"""tests/warm.py: a command forked from the warm server behaves as ``python script`` does."""

from __future__ import annotations

import os
import subprocess
import sys
import time
from pathlib import Path

import pytest

from tests.helpers import PYTHON, clean_env, run
from tests.warm import warm_run

PROBE = """
import json, os, sys
preloaded = "sqlalchemy" in sys.modules  # imported before this script ran: warm
if sys.argv[1:2] == ["pid"]:
    with open("pid", "w") as file:
        file.write(str(os.getpid()))
    import time
    time.sleep(30)
if sys.argv[1:2] == ["raise"]:
    raise ValueError("boom")
if sys.argv[1:2] == ["signal"]:
    import signal
    os.kill(os.getpid(), signal.SIGTERM)
print(json.dumps({
    "argv": sys.argv, "cwd": os.getcwd(), "path0": sys.path[0], "flags": str(sys.flags),
    "probe": os.environ.get("PROBE"), "stdin": sys.stdin.read(), "warm": preloaded,
}))
print("to stderr", file=sys.stderr)
sys.exit(int(sys.argv[2]) if sys.argv[1:2] == ["exit"] else 0)
"""


@pytest.fixture
def probe(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    """A folder with probe.py; the warm server is on even in a TEMPEST_TESTS_COLD=1 run."""
    monkeypatch.delenv("TEMPEST_TESTS_COLD", raising=False)
    (tmp_path / "probe.py").write_text(PROBE)
    return tmp_path


def _both(
    cwd: Path, *args: str, input: str | None = None, **env: str
) -> tuple[subprocess.CompletedProcess[str], subprocess.CompletedProcess[str]]:
    command = [PYTHON, *args]
    return (
        run(command, cwd, env=clean_env(**env), input=input),
        warm_run(command, cwd, env=clean_env(**env), input=input),
    )


def test_a_warm_command_sees_what_a_cold_one_sees(probe: Path) -> None:
    cold, warm = _both(probe, "probe.py", "exit", "3", input="hello", PROBE="42")
    assert (warm.returncode, warm.stderr) == (cold.returncode, cold.stderr) == (3, "to stderr\n")
    assert '"warm": true' in warm.stdout and '"warm": false' in cold.stdout
    assert warm.stdout.replace("true", "false") == cold.stdout  # argv, cwd, sys.path, env, stdin
    assert '"stdin": "hello"' in cold.stdout and '"probe": "42"' in cold.stdout


def test_a_module_an_exception_and_a_signal(probe: Path) -> None:
    cold, warm = _both(probe, "-m", "json.tool", input='{"a": 1}')
    assert (
        (warm.returncode, warm.stdout)
        == (cold.returncode, cold.stdout)
        == (0, '{\n    "a": 1\n}\n')
    )
    cold, warm = _both(probe, "probe.py", "raise")
    assert warm.returncode == cold.returncode == 1
    assert warm.stderr.splitlines()[-1] == cold.stderr.splitlines()[-1] == "ValueError: boom"
    assert warm.stderr.startswith("Traceback")
    cold, warm = _both(probe, "probe.py", "signal")
    assert warm.returncode == cold.returncode == -15


def test_interpreter_settings_run_cold(probe: Path) -> None:
    """PYTHON* variables take effect at start-up: such a command gets an interpreter of its own."""
    result = warm_run([PYTHON, "probe.py"], probe, env=clean_env(PYTHONWARNINGS="ignore"))
    assert result.returncode == 0, result.stderr
    assert '"warm": false' in result.stdout


def test_a_timeout_kills_the_command(probe: Path) -> None:
    with pytest.raises(subprocess.TimeoutExpired):
        warm_run([PYTHON, "probe.py", "pid"], probe, timeout=3)
    pid = int((probe / "pid").read_text())
    deadline = time.monotonic() + 10
    while time.monotonic() < deadline:
        try:
            os.kill(pid, 0)
        except ProcessLookupError:
            return
        time.sleep(0.05)
    raise AssertionError(f"the command (pid {pid}) outlived its client")


def test_the_warm_server_is_off_with_tempest_tests_cold(probe: Path) -> None:
    code = "from tests.warm import _socket; print(repr(_socket()))"
    result = run(
        [sys.executable, "-c", code],
        Path(__file__).parent.parent,
        env=clean_env(TEMPEST_TESTS_COLD="1"),
    )
    assert result.stdout == "''\n", result.stderr
