"""A warm interpreter that runs ``manage.py`` commands in forked processes (see tests/warm.py).

tests/warm.py runs this file with ``runpy`` from ``python -c`` (so that neither tests/, whose
``queue`` package hides the standard library's, nor the working directory is on
``sys.path``), with the path of a Unix socket as argument. It imports the libraries every
``manage.py`` command imports (SQLAlchemy, Pydantic, Alembic, FastAPI, Click, ...) once,
never tempest nor a project, then listens on the socket. For each connection it forks a
waiter, which receives the request (argv, working directory, environment and the three
standard file descriptors of the client), forks the process that runs the command, and
sends back first that process's id, then its exit code. The command's process sets up the
request, leaves this module's loop and runs ``manage.py`` at the top level, as
``python manage.py`` would: its own exit code, tracebacks, atexit handlers and stdio.
"""

from __future__ import annotations

import gc
import importlib
import json
import os
import runpy
import select
import signal
import socket
import sys

# Imported by manage.py's start-up and most commands; tempest and the project never are.
PRELOAD = (
    "asyncio",
    "sqlite3",
    "email.message",
    "uuid",
    "decimal",
    "zoneinfo",
    "logging.config",
    "argparse",
    "subprocess",
    "json",
    "ssl",
    "click",
    "dotenv",
    "pydantic",
    "pydantic.main",
    "pydantic.fields",
    "pydantic.v1",
    "pydantic_settings",
    "sqlalchemy",
    "sqlalchemy.orm",
    "sqlalchemy.ext.asyncio",
    "sqlalchemy.dialects.sqlite.aiosqlite",
    "sqlalchemy.dialects.postgresql.asyncpg",
    "aiosqlite",
    "asyncpg",
    "alembic.config",
    "alembic.command",
    "alembic.autogenerate",
    "alembic.operations",
    "alembic.runtime.environment",
    "alembic.runtime.migration",
    "alembic.script",
    "mako.template",
    "pygments.lexers",
    "pygments.formatters",
    "fastapi",
    "fastapi.routing",
    "fastapi.security",
    "starlette.applications",
    "starlette.middleware.sessions",
    "itsdangerous",
    "difflib",
    "pkgutil",
    "importlib.resources",
    "jinja2",
)

Request = dict[str, object]


def _preload() -> None:
    for name in PRELOAD:
        try:
            importlib.import_module(name)
        except Exception:  # a missing optional library: no command imports it either
            continue


def _receive(connection: socket.socket) -> tuple[Request, list[int]]:
    """One request: an 8-byte length, then that many bytes of JSON; the fds come first."""
    data, fds, _, _ = socket.recv_fds(connection, 1 << 16, 3)
    if len(data) < 8:
        raise EOFError("no request")
    size, body = int.from_bytes(data[:8], "big"), data[8:]
    while len(body) < size:
        chunk = connection.recv(size - len(body))
        if not chunk:
            raise EOFError("request cut short")
        body += chunk
    return json.loads(body), fds


def _compatible(request: Request) -> bool:
    """Whether the interpreter settings of the request's environment are this process's.

    ``PYTHON*`` variables, the locale's and ``TZ`` take effect when an interpreter starts
    (stdio encodings, flags, the time zone): a request with others runs in a new
    interpreter (the client's fallback), never here.
    """
    env = request["env"]
    assert isinstance(env, dict)
    if {"PYTHONWARNINGS", "PYTHONDEVMODE"} & env.keys():
        return False  # what the preloaded libraries warned of went to this process's stderr
    return _at_startup(env) == _at_startup(STARTUP_ENV)


def _at_startup(env: dict[str, str]) -> dict[str, str]:
    return {
        key: value
        for key, value in env.items()
        if key.startswith(("PYTHON", "LC_")) or key in {"LANG", "TZ"}
    }


def _wait(connection: socket.socket, pid: int) -> None:
    """Relay signals to the command, kill it when the client dies, report its exit code."""
    connection.sendall(f"{pid}\n".encode())
    process = os.pidfd_open(pid)
    watched: list[int | socket.socket] = [connection, process]
    pending = b""
    while True:
        ready, _, _ = select.select(watched, [], [])
        if process in ready:
            break
        data = connection.recv(64)
        if not data:  # the client is gone (killed on a timeout): so goes the command
            watched.remove(connection)
            os.kill(pid, signal.SIGKILL)
            continue
        pending += data
        *numbers, pending = pending.split(b"\n")
        for number in numbers:
            os.kill(pid, int(number))
    _, status = os.waitpid(pid, 0)
    try:
        connection.sendall(f"{os.waitstatus_to_exitcode(status)}\n".encode())
    finally:
        os._exit(0)


def _serve(listener: socket.socket) -> tuple[Request, list[int]]:
    """Serve connections; returns only in a process that is to run a request's command."""
    signal.signal(signal.SIGCHLD, signal.SIG_IGN)  # waiters are reaped by the kernel
    while True:
        connection, _ = listener.accept()
        if os.fork() == 0:
            break
        connection.close()
    listener.close()
    signal.signal(signal.SIGCHLD, signal.SIG_DFL)
    try:
        request, fds = _receive(connection)
    except (EOFError, OSError, ValueError):
        os._exit(1)
    if not _compatible(request):
        connection.sendall(b"fallback\n")
        os._exit(0)
    pid = os.fork()
    if pid == 0:
        connection.close()
        return request, fds
    for fd in fds:
        os.close(fd)
    _wait(connection, pid)
    raise AssertionError("unreachable")


def _become(request: Request, fds: list[int]) -> str:
    """Take the client's stdio, directory, environment and arguments.

    Returns:
        The script to run, or ``-m MODULE`` for ``python -m MODULE``.
    """
    for target, fd in enumerate(fds):
        os.dup2(fd, target)
    for fd in fds:
        if fd > 2:
            os.close(fd)
    cwd, env, argv = request["cwd"], request["env"], request["argv"]
    assert isinstance(cwd, str) and isinstance(env, dict) and isinstance(argv, list)
    os.chdir(cwd)
    os.environ.clear()
    os.environ.update(env)
    if argv[0] == "-m":  # python -m MODULE ARGS: runpy sets argv[0] to the module's file
        sys.argv = ["-m", *(str(arg) for arg in argv[2:])]
        sys.path.insert(0, os.getcwd())
        return f"-m {argv[1]}"
    sys.argv = [str(arg) for arg in argv]
    sys.path.insert(0, os.path.dirname(os.path.abspath(argv[0])))  # as ``python SCRIPT`` does
    return sys.argv[0]


STARTUP_ENV = dict(os.environ)

if __name__ == "__main__":
    _listener = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
    _listener.bind(sys.argv[1])
    _listener.listen(64)
    _preload()
    gc.freeze()  # the children's collections skip (and copy) none of the preloaded objects
    print("ready", flush=True)
    _script = _become(*_serve(_listener))
    if _script.startswith("-m "):
        runpy.run_module(_script[3:], run_name="__main__", alter_sys=True)
    else:
        runpy.run_path(_script, run_name="__main__")
