"""Helpers shared by the test modules: running commands, free ports, waiting for servers."""

from __future__ import annotations

import os
import signal
import socket
import subprocess
import sys
import tempfile
import time
import urllib.error
import urllib.request
from collections.abc import Iterator
from contextlib import contextmanager, suppress
from pathlib import Path
from typing import Any

PYTHON = sys.executable
REPO = Path(__file__).resolve().parent.parent
_PYCACHE = Path(tempfile.gettempdir()) / f"tempest-tests-pycache-{os.getuid()}"


def clean_env(**extra: str) -> dict[str, str]:
    """The environment for a subprocess: no settings module leaking in from the test run."""
    env = {
        key: value
        for key, value in os.environ.items()
        if key
        not in {"TEMPEST_SETTINGS_MODULE", "DATABASE_URL", "INSTALLED_APPS", "PYTEST_ADDOPTS"}
        and not key.startswith("PYTEST_")
    }
    if env.pop("PYTHONDONTWRITEBYTECODE", None):
        # Without bytecode every manage.py subprocess compiles tempest's ~100 modules from
        # source again (0.1 s CPU each); cache it outside the checkout and the projects.
        env.setdefault("PYTHONPYCACHEPREFIX", str(_PYCACHE))
    env.update(extra)
    return env


def run(
    args: list[str],
    cwd: Path,
    timeout: float = 60,
    env: dict[str, str] | None = None,
    input: str | None = None,
) -> subprocess.CompletedProcess[str]:
    """Run a command and capture its output as text; ``input`` is written to its stdin."""
    return subprocess.run(
        args,
        cwd=cwd,
        capture_output=True,
        text=True,
        timeout=timeout,
        env=env or clean_env(),
        input=input,
    )


def manage(
    project: Path, *args: str, timeout: float = 60, input: str | None = None, **env: str
) -> subprocess.CompletedProcess[str]:
    """``python manage.py ARGS`` in ``project`` (``input`` goes to its stdin)."""
    return run([PYTHON, "manage.py", *args], project, timeout, clean_env(**env), input)


def tempest(
    cwd: Path, *args: str, timeout: float = 60, **env: str
) -> subprocess.CompletedProcess[str]:
    """``python -m tempest ARGS`` in ``cwd`` (the ``tempest`` console script)."""
    return run([PYTHON, "-m", "tempest", *args], cwd, timeout, clean_env(**env))


def free_port() -> int:
    """A TCP port nobody listens on right now."""
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return int(probe.getsockname()[1])


def wait_for_http(url: str, timeout: float = 20) -> bytes:
    """GET ``url`` until it answers 2xx, and return the body."""
    deadline = time.monotonic() + timeout
    last_error: Exception | None = None
    while time.monotonic() < deadline:
        try:
            with urllib.request.urlopen(url, timeout=2) as response:
                return bytes(response.read())
        except (urllib.error.URLError, ConnectionError, TimeoutError) as error:
            last_error = error
            time.sleep(0.1)
    raise AssertionError(f"{url} did not answer within {timeout}s: {last_error}")


@contextmanager
def serve_project(
    project: Path,
    *args: str,
    env: dict[str, str] | None = None,
    wait: bool = True,
    capture: bool = False,
) -> Iterator[tuple[str, subprocess.Popen[str]]]:
    """``python manage.py ARGS`` (``runserver``/``serve``) on a free port until the block ends.

    The server listens on 127.0.0.1 (``runserver`` gets the address as its argument,
    ``serve`` as ``--host``/``--port``) and runs in a process group of its own: leaving the
    block stops the whole group (the workers and the reloader's child too), SIGTERM first,
    SIGKILL after 15 s.

    Args:
        project: The project folder (where ``manage.py`` is).
        *args: The command and its options, e.g. ``"serve", "--workers", "2"``.
        env: Settings for the server's environment (see :func:`clean_env`).
        wait: Wait until ``/health/liveness`` answers before the block starts.
        capture: Keep the output (stdout and stderr, as text) in ``process.stdout``, to
            read after the block; otherwise it is dropped.

    Yields:
        The base URL (``http://127.0.0.1:PORT``) and the process.
    """
    port = free_port()
    command = [PYTHON, "manage.py", *args]
    if args[0] == "runserver":
        command.append(f"127.0.0.1:{port}")
    else:
        command += ["--host", "127.0.0.1", "--port", str(port)]
    output = subprocess.PIPE if capture else subprocess.DEVNULL
    process = subprocess.Popen(
        command,
        cwd=project,
        env=clean_env(**(env or {})),
        stdout=output,
        stderr=subprocess.STDOUT if capture else subprocess.DEVNULL,
        text=True,
        start_new_session=True,
    )
    base = f"http://127.0.0.1:{port}"
    try:
        if wait:
            try:
                wait_for_http(f"{base}/health/liveness")
            except AssertionError as error:
                stop_group(process)
                shown = process.stdout.read() if process.stdout else ""
                raise AssertionError(f"{args[0]} did not start: {error}\n{shown}") from None
        yield base, process
    finally:
        stop_group(process)


def stop_group(process: subprocess.Popen[Any], timeout: float = 15) -> None:
    """Stop the process group of ``process`` (started with ``start_new_session``).

    SIGTERM goes to the whole group; SIGKILL follows when ``process`` has not exited within
    ``timeout`` seconds. Whatever of the group outlives its leader (the processes of a
    killed worker manager) is killed last, so nothing of the group is left running.
    """
    with suppress(ProcessLookupError):  # the whole group has exited already
        os.killpg(process.pid, signal.SIGTERM)
    try:
        process.wait(timeout=timeout)
    except subprocess.TimeoutExpired:
        with suppress(ProcessLookupError):
            os.killpg(process.pid, signal.SIGKILL)
        process.wait()
    with suppress(ProcessLookupError):
        os.killpg(process.pid, signal.SIGKILL)


def http(method: str, url: str, body: bytes | None = None) -> tuple[int, bytes]:
    """One HTTP request; returns (status, body) also for 4xx/5xx."""
    request = urllib.request.Request(
        url, data=body, method=method, headers={"Content-Type": "application/json"}
    )
    try:
        with urllib.request.urlopen(request, timeout=10) as response:
            return response.status, bytes(response.read())
    except urllib.error.HTTPError as error:
        return error.code, bytes(error.read())


def one_line_error(result: subprocess.CompletedProcess[str]) -> str:
    """Assert the command failed with exactly one ``Error:`` line on stderr; return it."""
    assert result.returncode != 0, result
    lines = [line for line in result.stderr.splitlines() if line.strip()]
    assert len(lines) == 1, result.stderr
    assert lines[0].startswith("Error: "), result.stderr
    assert "Traceback" not in result.stderr
    return lines[0]


def without_contrib_apps(project: Path) -> None:
    """Take the tempest.contrib apps out of a new project's INSTALLED_APPS.

    For tests about the project's own apps, whose expected output (tables, dumps, counts)
    would otherwise also list the contrib apps' tables.
    """
    settings = next(project.glob("*/settings.py"))
    lines = settings.read_text().splitlines(keepends=True)
    settings.write_text("".join(line for line in lines if '"tempest.contrib.' not in line))
