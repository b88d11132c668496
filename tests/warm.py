"""``manage.py`` subprocesses that skip the interpreter's import of the libraries.

Every ``python manage.py`` spends most of its second importing SQLAlchemy, Pydantic,
Alembic, FastAPI and Click before tempest starts. :func:`warm_manage` runs the same command
as a process forked from a server that has imported those libraries once (tests/
warm_server.py) and nothing else: each command is still a process of its own with the
test's arguments, working directory, environment, stdin, stdout and stderr, which imports
tempest and the project afresh and exits with its own code; a test's timeout kills it.

A small client process stands in for ``python manage.py``: it hands its stdio to the
server and exits with the command's code (or dies of its signal). It falls back to
``python manage.py`` itself, the same process, when the server is not running, when stdout
or stderr is a terminal, or when the request's ``PYTHON*`` variables differ from the
server's. ``TEMPEST_TESTS_COLD=1`` turns the server off: every command then starts cold.
"""

from __future__ import annotations

import atexit
import os
import subprocess
import tempfile
from pathlib import Path

from tests.helpers import PYTHON, REPO, clean_env, stop_group

_CLIENT = r"""
import json, os, signal, socket, sys
path, argv = sys.argv[1], sys.argv[2:]
def cold():
    os.execv(sys.executable, [sys.executable, *argv])
if not path or os.isatty(1) or os.isatty(2):
    cold()
server = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
try:
    server.connect(path)
except OSError:
    cold()
body = json.dumps({"argv": argv, "cwd": os.getcwd(), "env": dict(os.environ)}).encode()
socket.send_fds(server, [len(body).to_bytes(8, "big") + body], [0, 1, 2])
replies = server.makefile("rb")
first = replies.readline()
if first in (b"", b"fallback\n"):
    server.close()
    cold()
def forward(signum, frame):
    server.sendall(b"%d\n" % signum)
for signum in (signal.SIGTERM, signal.SIGINT, signal.SIGHUP, signal.SIGQUIT):
    signal.signal(signum, forward)
last = replies.readline()
code = int(last) if last else 1
if code < 0:
    signal.signal(-code, signal.SIG_DFL)
    os.kill(os.getpid(), -code)
os._exit(code)
"""

# ``python -c`` puts the working directory first on sys.path, ``python FILE`` the file's
# folder (tests/, whose ``queue`` package hides the standard library's): neither, so the
# interpreter has no flag (``-P``) its commands' children would inherit.
_SERVER = """
import runpy, sys
del sys.path[0]
sys.argv = sys.argv[1:]
runpy.run_path(sys.argv[0], run_name="__main__")
"""

_server: str | None = None  # the socket's path; "" when the server is off or did not start


def _socket() -> str:
    """The server's socket, started on first use ("" when it is off or would not start)."""
    global _server
    if os.environ.get("TEMPEST_TESTS_COLD") == "1":
        return ""
    if _server is None:
        _server = _start()
    return _server


def _start() -> str:
    path = tempfile.mktemp(prefix="tempest-warm-", suffix=".sock")
    process = subprocess.Popen(
        [PYTHON, "-c", _SERVER, str(REPO / "tests" / "warm_server.py"), path],
        cwd=REPO,
        env=clean_env(),
        stdin=subprocess.DEVNULL,
        stdout=subprocess.PIPE,
        stderr=subprocess.DEVNULL,
        text=True,
        start_new_session=True,
    )
    atexit.register(_stop, process, path)
    assert process.stdout is not None
    if process.stdout.readline() != "ready\n":
        _stop(process, path)
        return ""
    return path


def _stop(process: subprocess.Popen[str], path: str) -> None:
    stop_group(process, timeout=5)
    Path(path).unlink(missing_ok=True)


def warm_run(
    args: list[str],
    cwd: Path,
    timeout: float = 60,
    env: dict[str, str] | None = None,
    input: str | None = None,
) -> subprocess.CompletedProcess[str]:
    """Like :func:`tests.helpers.run` for ``[PYTHON, script, *args]``, from the warm server.

    ``args[0]`` must be :data:`tests.helpers.PYTHON`, ``args[1]`` the Python script
    (``manage.py``) or ``-m`` followed by the module (``-m tempest``).
    """
    assert args[0] == PYTHON, args
    completed = subprocess.run(
        [PYTHON, "-S", "-c", _CLIENT, _socket(), *args[1:]],
        cwd=cwd,
        capture_output=True,
        text=True,
        timeout=timeout,
        env=env or clean_env(),
        input=input,
    )
    completed.args = args
    return completed


def warm_manage(
    project: Path, *args: str, timeout: float = 60, input: str | None = None, **env: str
) -> subprocess.CompletedProcess[str]:
    """:func:`tests.helpers.manage` (``python manage.py ARGS`` in ``project``), warm."""
    return warm_run([PYTHON, "manage.py", *args], project, timeout, clean_env(**env), input)


def warm_tempest(
    cwd: Path, *args: str, timeout: float = 60, **env: str
) -> subprocess.CompletedProcess[str]:
    """:func:`tests.helpers.tempest` (``python -m tempest ARGS`` in ``cwd``), warm."""
    return warm_run([PYTHON, "-m", "tempest", *args], cwd, timeout, clean_env(**env))
