"""Back up and restore the project database with its own tools, and open its shell.

PostgreSQL goes through the client programs (``pg_dump``, ``pg_restore``, ``psql``), which
receive the password in ``PGPASSWORD``, never on their command line. SQLite goes through
SQLite's online backup API (the standard library's :mod:`sqlite3`), which copies a
consistent snapshot even while other connections write.

Example:
    ```python
    target = database_target(settings.DATABASE_URL)
    backup(target, Path("backups/nightly.dump"))
    restore(target, open_backup(target, Path("backups/nightly.dump")))
    ```
"""

from __future__ import annotations

import os
import re
import shutil
import sqlite3
import subprocess
from collections.abc import Callable, Mapping, Sequence
from contextlib import closing
from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import Path
from typing import Literal

__all__ = [
    "SQLITE_HEADER",
    "BackupError",
    "BackupFile",
    "ClientCommand",
    "DatabaseTarget",
    "backup",
    "client_command",
    "database_target",
    "default_backup_path",
    "find_client",
    "open_backup",
    "restore",
]

SQLITE_HEADER = b"SQLite format 3\x00"
"""The first 16 bytes of every SQLite database file."""

_POSTGRESQL_CLIENT = (
    "the PostgreSQL client tools (apt-get install postgresql-client on Debian/Ubuntu, "
    "dnf install postgresql on Fedora, brew install libpq on macOS)"
)
_INSTALL = {
    "psql": _POSTGRESQL_CLIENT,
    "pg_dump": _POSTGRESQL_CLIENT,
    "pg_restore": _POSTGRESQL_CLIENT,
    "sqlite3": (
        "the SQLite command-line shell (apt-get install sqlite3 on Debian/Ubuntu, "
        "dnf install sqlite on Fedora, brew install sqlite on macOS)"
    ),
}
_ERROR_LINE = re.compile(r"\b(ERROR|FATAL|PANIC|error):")
_TABLE_LINE = re.compile(r'(dumping contents of|processing data for) table "?([^"]+?)"?$')
_SQLITE_PAGES_PER_STEP = 256
_SNIFF_BYTES = 65536

BackupFormat = Literal["sqlite", "custom", "sql"]


class BackupError(Exception):
    """A backup, restore or database client cannot run; the message says why and what to do."""


@dataclass(frozen=True)
class DatabaseTarget:
    """The project database, in the terms of its command-line tools.

    Build it with :func:`database_target`.

    Attributes:
        backend: ``"postgresql"`` or ``"sqlite"``.
        safe_url: The SQLAlchemy URL with the password masked, for messages.
        name: The database name (PostgreSQL) or the file's stem (SQLite), for file names.
        host: Server host or socket directory (PostgreSQL); None for libpq's default.
        port: Server port (PostgreSQL).
        user: User name (PostgreSQL).
        password: Password (PostgreSQL); handed to the tools in ``PGPASSWORD``.
        database: Database name (PostgreSQL).
        sslmode: libpq's ``sslmode`` from the URL's ``ssl``/``sslmode`` parameter.
        path: The database file (SQLite), relative to the current directory if the URL is.
    """

    backend: Literal["postgresql", "sqlite"]
    safe_url: str
    name: str
    host: str | None = None
    port: int | None = None
    user: str | None = None
    password: str | None = None
    database: str | None = None
    sslmode: str | None = None
    path: Path | None = None

    @property
    def backup_suffix(self) -> str:
        """Extension of a default backup: ``.dump`` (pg_dump custom format) or ``.sqlite3``."""
        return ".dump" if self.backend == "postgresql" else ".sqlite3"

    def libpq_options(self) -> list[str]:
        """Connection options for psql, pg_dump and pg_restore (no password among them)."""
        options: list[str] = []
        if self.host:
            options += ["--host", self.host]
        if self.port is not None:
            options += ["--port", str(self.port)]
        if self.user:
            options += ["--username", self.user]
        if self.database:
            options += ["--dbname", self.database]
        return options

    def client_env(self, base: Mapping[str, str] | None = None) -> dict[str, str]:
        """The environment for a client program: ``base`` plus the password and SSL mode.

        Args:
            base: The environment to start from; defaults to this process's.
        """
        env = dict(os.environ if base is None else base)
        if self.password is not None:
            env["PGPASSWORD"] = self.password
        if self.sslmode is not None:
            env["PGSSLMODE"] = self.sslmode
        return env

    def sqlite_path(self) -> Path:
        """The SQLite database file.

        Raises:
            BackupError: The target is not SQLite.
        """
        if self.path is None:
            raise BackupError(f"{self.safe_url} is not a SQLite database.")
        return self.path


@dataclass(frozen=True)
class ClientCommand:
    """A database client to run: the program found on PATH, its arguments, its environment.

    Attributes:
        executable: Absolute path of the program.
        argv: Its arguments, ``argv[0]`` being the program's name.
        env: The environment to run it in (with ``PGPASSWORD`` when there is a password).
    """

    executable: str
    argv: list[str]
    env: dict[str, str]

    def display(self) -> str:
        """The command line as a shell would take it (it never holds the password)."""
        import shlex

        return shlex.join(self.argv)


@dataclass(frozen=True)
class BackupFile:
    """A file checked by :func:`open_backup`, ready for :func:`restore`.

    Attributes:
        path: The file.
        format: ``"sqlite"`` (a SQLite database), ``"custom"`` (a pg_dump archive, restored
            with pg_restore) or ``"sql"`` (plain SQL, run by psql).
    """

    path: Path
    format: BackupFormat


def database_target(url: str) -> DatabaseTarget:
    """Describe the database of a SQLAlchemy URL for its command-line tools.

    Args:
        url: The project's ``DATABASE_URL`` (``postgresql+asyncpg://...`` or
            ``sqlite+aiosqlite:///path``); the driver part is dropped.

    Returns:
        The target.

    Raises:
        BackupError: The URL is malformed, in-memory SQLite, or of another database.
    """
    from sqlalchemy.engine import make_url
    from sqlalchemy.exc import ArgumentError

    try:
        parsed = make_url(url)
    except (ArgumentError, ValueError) as error:
        raise BackupError(
            "DATABASE_URL is not a database URL: use e.g. "
            "postgresql+asyncpg://user:password@127.0.0.1:5432/name or "
            "sqlite+aiosqlite:///./db.sqlite3."
        ) from error
    safe_url = parsed.render_as_string(hide_password=True)
    backend = parsed.get_backend_name()
    query = {key: value for key, value in parsed.query.items() if isinstance(value, str)}
    if backend == "postgresql":
        host = parsed.host or query.get("host")
        sslmode = query.get("sslmode") or query.get("ssl")
        if sslmode in ("true", "True", "1"):
            sslmode = "require"
        return DatabaseTarget(
            backend="postgresql",
            safe_url=safe_url,
            name=parsed.database or parsed.username or "postgres",
            host=host,
            port=parsed.port,
            user=parsed.username,
            password=parsed.password,
            database=parsed.database,
            sslmode=sslmode,
        )
    if backend == "sqlite":
        database = parsed.database or ""
        if database in ("", ":memory:") or query.get("mode") == "memory":
            raise BackupError(
                "DATABASE_URL is an in-memory SQLite database, which has no file: "
                "use a file URL such as sqlite+aiosqlite:///./db.sqlite3."
            )
        if database.startswith("file:"):
            database = database.removeprefix("file:")
        path = Path(database)
        return DatabaseTarget(
            backend="sqlite", safe_url=safe_url, name=path.stem or "db", path=path
        )
    raise BackupError(
        f"DATABASE_URL uses {backend}; backup, restore and dbshell support PostgreSQL and SQLite."
    )


def find_client(name: str) -> str:
    """Find a database client program on PATH.

    Args:
        name: ``psql``, ``pg_dump``, ``pg_restore`` or ``sqlite3``.

    Returns:
        The program's absolute path.

    Raises:
        BackupError: It is not installed; the message says how to install it.
    """
    found = shutil.which(name)
    if found is None:
        what = _INSTALL.get(name, name)
        raise BackupError(f"{name} was not found on PATH: install {what}, or add it to PATH.")
    return os.path.abspath(found)


def client_command(target: DatabaseTarget, arguments: Sequence[str] = ()) -> ClientCommand:
    """The interactive client of the database: ``psql`` or ``sqlite3``.

    Args:
        target: The database.
        arguments: Extra arguments for the client (``["-c", "select 1"]``).

    Returns:
        The command to run.

    Raises:
        BackupError: The client is not installed.
    """
    if target.backend == "postgresql":
        executable = find_client("psql")
        argv = ["psql", *target.libpq_options(), *arguments]
    else:
        executable = find_client("sqlite3")
        argv = ["sqlite3", str(target.sqlite_path()), *arguments]
    return ClientCommand(executable, argv, target.client_env())


def default_backup_path(target: DatabaseTarget, now: datetime | None = None) -> Path:
    """``backups/<name>_<UTC timestamp><suffix>``, relative to the current directory.

    Args:
        target: The database.
        now: The time to stamp; defaults to the current time.
    """
    stamp = (now or datetime.now(UTC)).astimezone(UTC).strftime("%Y%m%dT%H%M%SZ")
    return Path("backups") / f"{target.name}_{stamp}{target.backup_suffix}"


def backup(
    target: DatabaseTarget, output: Path, progress: Callable[[str], None] | None = None
) -> None:
    """Write a backup of the database to ``output``.

    PostgreSQL: ``pg_dump`` in its custom format, or plain SQL (with ``DROP ... IF EXISTS``
    before each object and no ownership) when ``output`` ends in ``.sql``. SQLite: a
    consistent copy made with the online backup API. The file is written under a
    temporary name and renamed when complete, so a failed backup leaves no file behind
    and an existing ``output`` is only replaced by a complete backup.

    Args:
        target: The database.
        output: The backup file; missing folders are created.
        progress: Called with a short status while the backup runs (the table being
            dumped, the SQLite pages copied); with it, ``pg_dump`` runs ``--verbose``.

    Raises:
        BackupError: The client is missing, the database cannot be read, or the file
            cannot be written.
    """
    if target.backend == "sqlite" and _same_file(output, target.sqlite_path()):
        raise BackupError(f"{output} is the project database itself: choose another file with -o.")
    partial = output.with_name(output.name + ".partial")
    try:
        output.parent.mkdir(parents=True, exist_ok=True)
        if target.backend == "sqlite":
            what = f"the SQLite database {target.path}"
            _copy_sqlite(target.sqlite_path(), partial, what=what, shown=output, progress=progress)
        else:
            _pg_dump(target, partial, plain=output.suffix.lower() == ".sql", progress=progress)
        os.replace(partial, output)
    except OSError as error:
        raise BackupError(
            f"Cannot write the backup {output}: {error.strerror or error}; "
            "choose another file with -o."
        ) from error
    finally:
        partial.unlink(missing_ok=True)


def open_backup(target: DatabaseTarget, path: Path) -> BackupFile:
    """Check that ``path`` is a backup this database can be restored from.

    Nothing touches the database. SQLite: the file must start with SQLite's header and
    pass ``PRAGMA integrity_check``. PostgreSQL: a ``.sql`` file must be readable text and
    ``psql`` installed; any other file must be an archive that ``pg_restore --list`` reads.

    Args:
        target: The database to restore.
        path: The backup file.

    Returns:
        The checked file.

    Raises:
        BackupError: The file is missing, unreadable or not a backup, or a client is
            missing.
    """
    if not path.exists():
        raise BackupError(
            f"{path} does not exist: give the path of a file made by the backup command."
        )
    if not path.is_file():
        raise BackupError(
            f"{path} is not a file: give the path of a file made by the backup command."
        )
    try:
        with path.open("rb") as file:
            head = file.read(_SNIFF_BYTES)
    except OSError as error:
        raise BackupError(f"Cannot read {path}: {error.strerror or error}.") from error
    is_sqlite = head.startswith(SQLITE_HEADER)
    if target.backend == "sqlite":
        if not is_sqlite:
            raise BackupError(
                f"{path} is not a SQLite database (no 'SQLite format 3' header): "
                "give a file made by the backup command of a SQLite project."
            )
        _check_sqlite(path)
        return BackupFile(path, "sqlite")
    if is_sqlite:
        raise BackupError(
            f"{path} is a SQLite database but the project database is PostgreSQL "
            f"({target.safe_url}): give a .dump or .sql file made by the backup command."
        )
    if path.suffix.lower() == ".sql":
        find_client("psql")
        if not head.strip():
            raise BackupError(f"{path} is empty: give a .sql file made by the backup command.")
        if b"\x00" in head:
            raise BackupError(
                f"{path} is not a SQL file (it holds binary data): give a .sql file made by "
                "the backup command, or a pg_dump archive named .dump."
            )
        return BackupFile(path, "sql")
    pg_restore = find_client("pg_restore")
    listed = _run([pg_restore, "--list", str(path)], target.client_env())
    if listed.returncode != 0:
        problem = _failure_line("pg_restore", listed)
        hint = "give a .dump file made by the backup command"
        if "text format dump" in problem:
            hint = "a plain SQL backup must be named .sql to be restored with psql"
        raise BackupError(f"{path} is not a pg_dump archive ({problem}): {hint}.")
    return BackupFile(path, "custom")


def restore(
    target: DatabaseTarget, backup_file: BackupFile, progress: Callable[[str], None] | None = None
) -> None:
    """Replace the database's tables with those of a backup.

    PostgreSQL: ``pg_restore --clean --if-exists --no-owner --single-transaction`` for an
    archive, ``psql -v ON_ERROR_STOP=1 --single-transaction -f`` for SQL, so a failure
    changes nothing. Tables that are not in the backup are left alone. SQLite: the whole
    file is replaced through the online backup API.

    Args:
        target: The database.
        backup_file: A file checked by :func:`open_backup`.
        progress: Called with a short status while the restore runs (the table being
            restored from an archive, the SQLite pages copied).

    Raises:
        BackupError: The restore failed; the database is unchanged.
    """
    path = backup_file.path
    if backup_file.format == "sqlite":
        database = target.sqlite_path()
        if _same_file(path, database):
            raise BackupError(f"{path} is the project database itself: give a backup file.")
        try:
            database.parent.mkdir(parents=True, exist_ok=True)
        except OSError as error:
            raise BackupError(f"Cannot create {database.parent}: {error.strerror}.") from error
        _copy_sqlite(path, database, what=f"the backup {path}", shown=database, progress=progress)
        return
    if backup_file.format == "sql":
        argv = [
            find_client("psql"),
            "--no-psqlrc",
            "--quiet",
            "--set",
            "ON_ERROR_STOP=1",
            "--single-transaction",
            "--file",
            str(path),
            *target.libpq_options(),
        ]
        name = "psql"
        progress = None  # psql has no per-table messages
    else:
        argv = [
            find_client("pg_restore"),
            "--clean",
            "--if-exists",
            "--no-owner",
            "--single-transaction",
            *target.libpq_options(),
            str(path),
        ]
        name = "pg_restore"
    completed = _run(argv, target.client_env(), progress)
    if completed.returncode != 0:
        raise BackupError(
            f"{name} failed, the database is unchanged: {_failure_line(name, completed)}"
        )


def _pg_dump(
    target: DatabaseTarget,
    output: Path,
    *,
    plain: bool,
    progress: Callable[[str], None] | None,
) -> None:
    options = ["--format=plain", "--clean", "--if-exists", "--no-owner"] if plain else []
    argv = [
        find_client("pg_dump"),
        *(options or ["--format=custom"]),
        "--file",
        str(output),
        *target.libpq_options(),
    ]
    completed = _run(argv, target.client_env(), progress)
    if completed.returncode != 0:
        raise BackupError(f"pg_dump failed: {_failure_line('pg_dump', completed)}")


def _copy_sqlite(
    source: Path,
    destination: Path,
    *,
    what: str,
    shown: Path,
    progress: Callable[[str], None] | None = None,
) -> None:
    if not source.is_file():
        raise BackupError(
            f"{what[0].upper()}{what[1:]} does not exist: check DATABASE_URL, and run the "
            "command from the project's folder."
        )
    try:
        reader = sqlite3.connect(_read_only_uri(source), uri=True)
    except sqlite3.Error as error:
        raise BackupError(f"Cannot open {what}: {error}.") from error
    with closing(reader):
        try:
            writer = sqlite3.connect(destination)
        except sqlite3.Error as error:
            raise BackupError(f"Cannot write {shown}: {error}.") from error
        with closing(writer):
            try:
                if progress is None:
                    reader.backup(writer)
                else:
                    report = progress

                    def pages(_: int, remaining: int, total: int) -> None:
                        report(f"Copied {total - remaining}/{total} pages")

                    reader.backup(writer, pages=_SQLITE_PAGES_PER_STEP, progress=pages)
            except sqlite3.Error as error:
                raise BackupError(f"Copying {what} to {shown} failed: {error}.") from error


def _check_sqlite(path: Path) -> None:
    try:
        with closing(sqlite3.connect(_read_only_uri(path), uri=True)) as connection:
            rows = connection.execute("PRAGMA integrity_check").fetchall()
    except sqlite3.Error as error:
        raise BackupError(
            f"{path} is not a usable SQLite database ({error}): "
            "give a file made by the backup command."
        ) from error
    if rows != [("ok",)]:
        first = rows[0][0] if rows else "no answer"
        raise BackupError(
            f"{path} is a damaged SQLite database (integrity_check: {first}): give another backup."
        )


def _same_file(first: Path, second: Path) -> bool:
    return first.resolve() == second.resolve()


def _read_only_uri(path: Path) -> str:
    return path.resolve().as_uri() + "?mode=ro"


def _run(
    argv: list[str], env: dict[str, str], progress: Callable[[str], None] | None = None
) -> subprocess.CompletedProcess[str]:
    if progress is not None:
        return _run_verbose(argv, env, progress)
    return subprocess.run(
        argv,
        env=env,
        stdin=subprocess.DEVNULL,
        capture_output=True,
        text=True,
        encoding="utf-8",
        errors="replace",
        check=False,
    )


def _run_verbose(
    argv: list[str], env: dict[str, str], progress: Callable[[str], None]
) -> subprocess.CompletedProcess[str]:
    """Run pg_dump or pg_restore ``--verbose``, reporting each table it reaches."""
    argv = [argv[0], "--verbose", *argv[1:]]
    lines: list[str] = []
    tables = 0
    with subprocess.Popen(
        argv,
        env=env,
        stdin=subprocess.DEVNULL,
        stdout=subprocess.DEVNULL,
        stderr=subprocess.PIPE,
        text=True,
        encoding="utf-8",
        errors="replace",
    ) as process:
        for line in process.stderr or ():
            lines.append(line)
            found = _TABLE_LINE.search(line.strip())
            if found:
                tables += 1
                verb = "Dumping" if found.group(1).startswith("dumping") else "Restoring"
                progress(f"{verb} table {found.group(2)} (table {tables})")
    return subprocess.CompletedProcess(argv, process.returncode, "", "".join(lines))


def _failure_line(name: str, completed: subprocess.CompletedProcess[str]) -> str:
    """The line of a client's standard error that says what went wrong."""
    lines = [line.strip() for line in completed.stderr.splitlines() if line.strip()]
    if not lines:
        return f"{name} exited with status {completed.returncode}"
    line = next((line for line in reversed(lines) if _ERROR_LINE.search(line)), lines[-1])
    line = re.sub(rf"^{re.escape(name)}: (error: )?", "", line)
    if "connection to server" in line:
        line += " (check DATABASE_URL and that the server is running)"
    return line
