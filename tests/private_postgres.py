"""A private PostgreSQL server for outage tests: ``initdb`` + ``pg_ctl`` on a free port.

The shared test server must never be stopped; a test that needs the database to go away
starts its own server in a temp folder, stops it (the port then refuses connections, as
when a real database goes down) and starts it again::

    from tests.private_postgres import PrivatePostgres

    with PrivatePostgres() as postgres:
        url = postgres.url            # postgresql+asyncpg://postgres@127.0.0.1:PORT/postgres
        postgres.stop()               # connections are refused now
        postgres.start()              # same port, same data

or, in a test module, a module-scoped fixture (``private_postgres`` below is one to import,
but ruff's F811 flags test arguments named after an imported fixture)::

    @pytest.fixture(scope="module")
    def postgres() -> Iterator[PrivatePostgres]:
        with PrivatePostgres() as server:
            yield server

The cluster is tuned for speed (``fsync=off``: what a commit wrote survives the server's
stop, not the machine's; small buffers; no Unix socket) and runs as
the current user; as root (``initdb`` refuses root) it runs as the ``postgres`` system
user through ``runuser``, with its folder owned by that user. ``initdb`` runs once per
process: later servers copy the first cluster's files (~0.1 s instead of ~1 s).
"""

from __future__ import annotations

import atexit
import glob
import os
import pwd
import shutil
import socket
import subprocess
import tempfile
import time
from collections.abc import Iterator
from pathlib import Path
from types import TracebackType

import pytest

from tests.helpers import free_port

__all__ = ["PrivatePostgres", "postgres_bin", "private_postgres"]

_SETTINGS = (
    "fsync=off",
    "full_page_writes=off",
    "shared_buffers=16MB",
    "max_connections=100",
    "unix_socket_directories=''",
    "listen_addresses='127.0.0.1'",
    "logging_collector=off",
    "log_min_messages=warning",
)
_TEMPLATE: dict[str, Path] = {}


def postgres_bin(name: str) -> str:
    """The path of a PostgreSQL server binary (``initdb``, ``pg_ctl``), newest version first.

    Raises:
        RuntimeError: When no PostgreSQL server binaries are installed.
    """
    found = sorted(glob.glob(f"/usr/lib/postgresql/*/bin/{name}"), key=_version, reverse=True)
    if found:
        return found[0]
    on_path = shutil.which(name)
    if on_path:
        return on_path
    raise RuntimeError(f"PostgreSQL binary {name!r} not found under /usr/lib/postgresql/*/bin")


def _version(path: str) -> int:
    part = Path(path).parent.parent.name
    return int(part) if part.isdigit() else 0


def _run_as() -> str | None:
    """The user to run the server as: None for the current user, 'postgres' under root."""
    if os.geteuid() != 0:
        return None
    try:
        pwd.getpwnam("postgres")
    except KeyError as missing:
        raise RuntimeError(
            "running as root and there is no 'postgres' user for initdb"
        ) from missing
    return "postgres"


def _command(args: list[str], user: str | None) -> list[str]:
    return ["runuser", "-u", user, "--", *args] if user else args


def _chown(path: Path, user: str | None) -> None:
    if user is None:
        return
    entry = pwd.getpwnam(user)
    for root, dirs, files in os.walk(path):
        os.chown(root, entry.pw_uid, entry.pw_gid)
        for name in dirs + files:
            os.lchown(os.path.join(root, name), entry.pw_uid, entry.pw_gid)


def _template(user: str | None) -> Path:
    """An initialised cluster, made once per process, that new servers copy."""
    cached = _TEMPLATE.get("dir")
    if cached is not None and (cached / "PG_VERSION").exists():
        return cached
    folder = Path(tempfile.mkdtemp(prefix="tempest-pg-template-"))
    data = folder / "data"
    data.mkdir()
    _chown(folder, user)
    result = subprocess.run(
        _command(
            [
                postgres_bin("initdb"),
                "-D",
                str(data),
                "-U",
                "postgres",
                "--auth=trust",
                "--no-sync",
                "-E",
                "UTF8",
                "--locale=C",
            ],
            user,
        ),
        capture_output=True,
        text=True,
        timeout=120,
    )
    if result.returncode != 0:
        shutil.rmtree(folder, ignore_errors=True)
        raise RuntimeError(f"initdb failed:\n{result.stdout}\n{result.stderr}")
    with (data / "postgresql.conf").open("a") as conf:
        conf.write("\n# tempest test server\n" + "\n".join(_SETTINGS) + "\n")
    _TEMPLATE["dir"] = data
    atexit.register(shutil.rmtree, folder, True)
    return data


class PrivatePostgres:
    """A throw-away PostgreSQL server on a free port (trust auth, superuser ``postgres``).

    Args:
        port: The TCP port; a free one when None.
        start: Start the server right away.
    """

    def __init__(self, port: int | None = None, *, start: bool = True) -> None:
        self.user = _run_as()
        self.port = port or free_port()
        self.folder = Path(tempfile.mkdtemp(prefix="tempest-pg-"))
        self.data = self.folder / "data"
        self.log = self.folder / "server.log"
        shutil.copytree(_template(self.user), self.data)
        _chown(self.folder, self.user)
        os.chmod(self.data, 0o700)
        self._cleaned = False
        if start:
            for attempt in range(3):
                try:
                    self.start()
                    break
                except RuntimeError:
                    # Another process may have taken the free port in the meantime.
                    if port is not None or attempt == 2:
                        shutil.rmtree(self.folder, ignore_errors=True)
                        raise
                    self.port = free_port()

    @property
    def url(self) -> str:
        """The SQLAlchemy URL of the ``postgres`` database (asyncpg driver)."""
        return self.database_url("postgres")

    def database_url(self, name: str) -> str:
        """The SQLAlchemy URL of database ``name`` on this server."""
        return f"postgresql+asyncpg://postgres@127.0.0.1:{self.port}/{name}"

    @property
    def running(self) -> bool:
        """Whether the server accepts TCP connections right now."""
        with socket.socket() as probe:
            probe.settimeout(0.5)
            return probe.connect_ex(("127.0.0.1", self.port)) == 0

    def _pg_ctl(self, *args: str, timeout: float = 60) -> subprocess.CompletedProcess[str]:
        return subprocess.run(
            _command([postgres_bin("pg_ctl"), "-D", str(self.data), *args], self.user),
            capture_output=True,
            text=True,
            timeout=timeout,
        )

    def start(self, timeout: float = 30) -> None:
        """Start the server and wait until it accepts connections.

        Raises:
            RuntimeError: When it does not start (the server log is in the message).
        """
        result = self._pg_ctl(
            "start", "-w", "-t", str(int(timeout)), "-l", str(self.log),
            "-o", f"-p {self.port} -h 127.0.0.1", timeout=timeout + 10,
        )  # fmt: skip
        if result.returncode != 0:
            log = self.log.read_text(errors="replace") if self.log.exists() else ""
            raise RuntimeError(f"pg_ctl start failed:\n{result.stdout}{result.stderr}\n{log}")
        deadline = time.monotonic() + timeout
        while not self.running:
            if time.monotonic() > deadline:
                raise RuntimeError(f"PostgreSQL on port {self.port} did not accept connections")
            time.sleep(0.05)

    def stop(self, mode: str = "immediate") -> None:
        """Stop the server (``immediate`` by default: connections drop at once, as in a crash)."""
        if not (self.data / "postmaster.pid").exists():
            return
        self._pg_ctl("stop", "-w", "-m", mode, timeout=60)

    def psql(self, sql: str, database: str = "postgres") -> str:
        """Run SQL with ``psql`` and return its output.

        Raises:
            RuntimeError: When psql fails.
        """
        psql = postgres_bin("psql")
        result = subprocess.run(
            [psql, "-h", "127.0.0.1", "-p", str(self.port), "-U", "postgres", "-d", database,
             "-v", "ON_ERROR_STOP=1", "-At", "-c", sql],
            capture_output=True,
            text=True,
            timeout=60,
        )  # fmt: skip
        if result.returncode != 0:
            raise RuntimeError(f"psql failed: {result.stderr.strip()}")
        return result.stdout

    def create_database(self, name: str) -> str:
        """Create database ``name`` and return its URL."""
        self.psql(f'CREATE DATABASE "{name}"')
        return self.database_url(name)

    def cleanup(self) -> None:
        """Stop the server and remove its folder (safe to call twice)."""
        if self._cleaned:
            return
        self._cleaned = True
        try:
            self.stop()
        finally:
            shutil.rmtree(self.folder, ignore_errors=True)

    def __enter__(self) -> PrivatePostgres:
        """Use as a context manager: cleaned up on exit."""
        return self

    def __exit__(
        self,
        kind: type[BaseException] | None,
        error: BaseException | None,
        traceback: TracebackType | None,
    ) -> None:
        """Stop the server and remove its files."""
        self.cleanup()


@pytest.fixture(scope="module")
def private_postgres() -> Iterator[PrivatePostgres]:
    """A running private PostgreSQL for the test module, removed afterwards.

    Tests that stop it must start it again (``postgres.start()``) before they end.
    """
    server = PrivatePostgres()
    try:
        yield server
    finally:
        server.cleanup()
