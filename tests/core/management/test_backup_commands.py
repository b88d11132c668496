"""backup, restore and dbshell: real manage.py runs on SQLite and on PostgreSQL.

One project (``shop`` with the example app ``orders``) serves the whole module; each
backend test starts by resetting the ``order`` table to known rows. PostgreSQL runs on a
database of its own, ``tempest_backup_test``, created on the test server for this module.
"""

from __future__ import annotations

import asyncio
import os
import re
import shutil
import sqlite3
import subprocess
from collections.abc import Iterator
from contextlib import closing
from dataclasses import dataclass, field
from datetime import UTC, datetime
from pathlib import Path

import pytest

from tempest.core.management.commands.backup import format_size
from tempest.db.backup import (
    BackupError,
    DatabaseTarget,
    _failure_line,
    database_target,
    default_backup_path,
)
from tests.conftest import SERVICES_REQUIRED, service_url
from tests.helpers import one_line_error, without_contrib_apps
from tests.warm import (  # manage.py processes forked warm
    warm_manage as manage,
    warm_tempest as tempest,
)

pytestmark = pytest.mark.e2e

PG_DATABASE = f"tempest_backup_test_{os.getpid()}"  # one per test run: parallel runs do not clash
ORDERS = ["Coffee", "Tea"]

RESET = """
await database.drop_tables()
await database.create_tables()
async with database.get_session_context() as session:
    session.add_all([OrderModel(name=name) for name in {names!r}])
"""


@dataclass
class Backend:
    """The shared project, run against one database."""

    name: str
    project: Path
    env: dict[str, str] = field(default_factory=dict)

    def manage(
        self, *args: str, input: str | None = None, **env: str
    ) -> subprocess.CompletedProcess[str]:
        """``manage.py ARGS`` with this backend's DATABASE_URL."""
        return manage(self.project, *args, input=input, **{**self.env, **env})

    def shell(self, code: str) -> str:
        """Run ``code`` in ``manage.py shell -c`` and return what it printed."""
        result = self.manage("shell", "-c", code)
        assert result.returncode == 0, result.stderr
        return result.stdout

    def reset(self, *names: str) -> None:
        """Recreate the tables with these orders."""
        self.shell(RESET.format(names=list(names or ORDERS)))

    def names(self) -> list[str] | None:
        """The names of the orders, or None when the table is gone (read in this process)."""
        if self.name == "sqlite":
            return _sqlite_names(self.project / "db.sqlite3")
        return asyncio.run(_postgresql_names(self.env["DATABASE_URL"]))

    @property
    def safe_url(self) -> str:
        """The database URL as messages show it (no password)."""
        from sqlalchemy.engine import make_url

        url = self.env.get("DATABASE_URL") or f"sqlite+aiosqlite:///{self.project / 'db.sqlite3'}"
        return make_url(url).render_as_string(hide_password=True)

    @property
    def suffix(self) -> str:
        return ".dump" if self.name == "postgresql" else ".sqlite3"


def _sqlite_names(path: Path) -> list[str] | None:
    with closing(sqlite3.connect(path)) as connection:
        if (
            connection.execute(
                "select 1 from sqlite_master where type = 'table' and name = 'order'"
            ).fetchone()
            is None
        ):
            return None
        return sorted(row[0] for row in connection.execute('select name from "order"'))


async def _postgresql_names(url: str) -> list[str] | None:
    import asyncpg

    connection = await asyncpg.connect(_asyncpg_dsn(url))
    try:
        if await connection.fetchval("select to_regclass('public.\"order\"')") is None:
            return None
        return sorted(await connection.fetchval('select array_agg(name) from "order"') or [])
    finally:
        await connection.close()


def _asyncpg_dsn(url: str) -> str:
    from sqlalchemy.engine import make_url

    return make_url(url).set(drivername="postgresql").render_as_string(hide_password=False)


@pytest.fixture(scope="module")
def project(tmp_path_factory: pytest.TempPathFactory) -> Path:
    root = tmp_path_factory.mktemp("backup")
    created = tempest(root, "startproject", "shop")
    assert created.returncode == 0, created.stderr
    project = root / "shop"
    without_contrib_apps(project)
    app = manage(project, "startapp", "orders")
    assert app.returncode == 0, app.stderr
    return project


def _require_client(name: str) -> None:
    if shutil.which(name) is None:
        message = f"{name} is not installed (apt-get install postgresql-client sqlite3)"
        if SERVICES_REQUIRED:
            pytest.fail(message + " (TEMPEST_REQUIRE_SERVICES=1)")
        pytest.skip(message)


async def _recreate_database(server_url: str, name: str, *, create: bool = True) -> None:
    import asyncpg

    connection = await asyncpg.connect(_asyncpg_dsn(server_url))
    try:
        await connection.execute(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')
        if create:
            await connection.execute(f'CREATE DATABASE "{name}"')
    finally:
        await connection.close()


@pytest.fixture(scope="module")
def postgresql_url() -> Iterator[str]:
    """A database of this module's own on the test server; dropped afterwards."""
    from sqlalchemy.engine import make_url

    server_url = service_url("TEMPEST_TEST_DATABASE_URL")
    for client in ("psql", "pg_dump", "pg_restore"):
        _require_client(client)
    asyncio.run(_recreate_database(server_url, PG_DATABASE))
    yield make_url(server_url).set(database=PG_DATABASE).render_as_string(hide_password=False)
    asyncio.run(_recreate_database(server_url, PG_DATABASE, create=False))


@pytest.fixture(scope="module")
def sqlite(project: Path) -> Backend:
    """The project on its default database: db.sqlite3 beside manage.py."""
    _require_client("sqlite3")
    return Backend("sqlite", project)


@pytest.fixture(scope="module")
def postgresql(project: Path, postgresql_url: str) -> Backend:
    """The project on this module's PostgreSQL database."""
    return Backend("postgresql", project, {"DATABASE_URL": postgresql_url})


@pytest.fixture(scope="module", params=["sqlite", "postgresql"])
def backend(request: pytest.FixtureRequest) -> Backend:
    """Each backend in turn."""
    value: Backend = request.getfixturevalue(str(request.param))
    return value


@pytest.fixture
def empty_bin(tmp_path: Path) -> str:
    """A PATH without any database client (python runs by its absolute path)."""
    directory = tmp_path / "bin"
    directory.mkdir()
    return str(directory)


# --- round trips -----------------------------------------------------------------------


def test_backup_to_the_default_file_and_restore_a_dropped_table(backend: Backend) -> None:
    backend.reset()
    before = set((backend.project / "backups").glob("*"))
    result = backend.manage("backup")
    assert result.returncode == 0, result.stderr
    created = set((backend.project / "backups").glob("*")) - before
    assert len(created) == 1
    path = created.pop()
    name = PG_DATABASE if backend.name == "postgresql" else "db"
    assert re.fullmatch(rf"{name}_\d{{8}}T\d{{6}}Z{re.escape(backend.suffix)}", path.name)
    relative = f"backups/{path.name}"
    start, finished = result.stdout.splitlines()
    assert start.startswith("Backing up ") and start.endswith(f" to {relative}...")
    assert re.fullmatch(
        rf"Backup finished: {re.escape(relative)} \(\d+(\.\d)? (bytes|kB|MB)"
        r" in \d+\.\d\ds\)\.",
        finished,
    )
    assert not list((backend.project / "backups").glob("*.partial"))

    backend.shell("await database.drop_tables()")
    assert backend.names() is None
    restored = backend.manage("restore", relative, "--yes")
    assert restored.returncode == 0, restored.stderr
    assert restored.stdout.splitlines()[0].startswith("Restoring ")
    assert restored.stdout.splitlines()[1].startswith("Restore finished: ")
    assert backend.names() == ORDERS


def test_backup_to_a_named_file_quietly_and_restore_deleted_rows(backend: Backend) -> None:
    backend.reset()
    output = f"named/orders{backend.suffix}"
    result = backend.manage("backup", "-o", output, "-v", "0")
    assert result.returncode == 0, result.stderr
    assert result.stdout == "" and result.stderr == ""
    assert (backend.project / output).is_file()

    backend.reset("Late")  # other rows now, and a row that the backup does not have
    restored = backend.manage("restore", output, "--yes", "-v", "0")
    assert restored.returncode == 0, restored.stderr
    assert restored.stdout == ""
    assert backend.names() == ORDERS


def test_plain_sql_backup_on_postgresql(postgresql: Backend) -> None:
    backend = postgresql
    backend.reset()
    result = backend.manage("backup", "-o", "plain.sql")
    assert result.returncode == 0, result.stderr
    text = (backend.project / "plain.sql").read_text()
    assert 'CREATE TABLE public."order"' in text and "DROP TABLE IF EXISTS" in text
    assert "OWNER TO" not in text

    backend.shell("await database.drop_tables()")
    restored = backend.manage("restore", "plain.sql", "--yes")
    assert restored.returncode == 0, restored.stderr
    assert backend.names() == ORDERS
    backend.reset("Late")
    assert backend.manage("restore", "plain.sql", "--yes").returncode == 0  # over existing rows
    assert backend.names() == ORDERS


def test_restore_asks_first_and_a_refusal_changes_nothing(backend: Backend) -> None:
    backend.reset()
    output = f"asked{backend.suffix}"
    assert backend.manage("backup", "-o", output).returncode == 0
    backend.reset("Late")

    refused = backend.manage("restore", output, input="n\n")
    assert refused.returncode == 1
    which = " that the backup holds" if backend.name == "postgresql" else ""
    question = f"Restore {output}? This replaces every table of {backend.safe_url}{which}."
    assert refused.stdout.startswith(question + " [y/N]: ")
    assert refused.stderr.strip() == "Aborted."
    assert backend.names() == ["Late"]

    no_answer = backend.manage("restore", output, input="")  # no terminal: never assume yes
    assert no_answer.returncode == 1
    assert backend.names() == ["Late"]

    accepted = backend.manage("restore", output, input="y\n")
    assert accepted.returncode == 0, accepted.stderr
    assert backend.names() == ORDERS


# --- bad input ------------------------------------------------------------------------


def test_restore_refuses_files_that_are_not_backups(backend: Backend) -> None:
    backend.reset()
    project = backend.project
    (project / "notes.txt").write_text("not a backup\n")
    (project / f"notes{backend.suffix}").write_text("not a backup either\n")
    (project / f"random{backend.suffix}").write_bytes(os.urandom(4096))
    (project / "folder").mkdir(exist_ok=True)
    kind = "pg_dump archive" if backend.name == "postgresql" else "SQLite database"

    missing = one_line_error(backend.manage("restore", "missing.dump", "--yes"))
    assert missing == (
        "Error: missing.dump does not exist: give the path of a file made by the backup command."
    )
    assert "is not a file" in one_line_error(backend.manage("restore", "folder", "--yes"))
    for name in ("notes.txt", f"notes{backend.suffix}", f"random{backend.suffix}"):
        error = one_line_error(backend.manage("restore", name, "--yes"))
        assert error.startswith(f"Error: {name} is not a {kind}"), error
    # without --yes the file is checked before the question
    unasked = backend.manage("restore", "notes.txt", input="y\n")
    assert "Restore" not in unasked.stdout
    one_line_error(unasked)
    assert backend.names() == ORDERS


def test_restore_refuses_a_backup_of_the_other_database(backend: Backend) -> None:
    backend.reset()
    if backend.name == "sqlite":
        dump = backend.project / "other.dump"
        dump.write_bytes(b"PGDMP\x01\x0e\x00" + os.urandom(512))
        error = one_line_error(backend.manage("restore", "other.dump", "--yes"))
        assert "is not a SQLite database" in error
    else:
        with sqlite3.connect(backend.project / "other.sqlite3") as connection:
            connection.execute("create table t (x)")
        connection.close()
        error = one_line_error(backend.manage("restore", "other.sqlite3", "--yes"))
        assert "is a SQLite database but the project database is PostgreSQL" in error
    assert backend.names() == ORDERS


def test_a_damaged_sqlite_backup_is_refused(sqlite: Backend) -> None:
    backend = sqlite
    backend.reset()
    assert backend.manage("backup", "-o", "good.sqlite3").returncode == 0
    good = (backend.project / "good.sqlite3").read_bytes()
    (backend.project / "damaged.sqlite3").write_bytes(good[:100] + os.urandom(len(good) - 100))
    error = one_line_error(backend.manage("restore", "damaged.sqlite3", "--yes"))
    assert error.startswith("Error: damaged.sqlite3 is ")
    assert backend.names() == ORDERS


def test_bad_sql_files_leave_postgresql_unchanged(postgresql: Backend) -> None:
    backend = postgresql
    backend.reset()
    project = backend.project
    (project / "binary.sql").write_bytes(os.urandom(2048) + b"\x00")
    (project / "empty.sql").write_text("\n")
    (project / "broken.sql").write_text(
        'DELETE FROM public."order";\nthis is not SQL;\n'  # the DELETE must be undone
    )
    (project / "text.dump").write_text("-- a SQL script\nselect 1;\n")

    assert "holds binary data" in one_line_error(backend.manage("restore", "binary.sql", "-y"))
    assert "is empty" in one_line_error(backend.manage("restore", "empty.sql", "-y"))
    broken = one_line_error(backend.manage("restore", "broken.sql", "-y"))
    assert broken.startswith("Error: psql failed, the database is unchanged: ")
    assert 'syntax error at or near "this"' in broken
    assert "is not a pg_dump archive" in one_line_error(
        backend.manage("restore", "text.dump", "-y")
    )
    assert backend.names() == ORDERS

    assert backend.manage("backup", "-o", "plain-named.dump.sql").returncode == 0
    shutil.copy(project / "plain-named.dump.sql", project / "plain.txt")
    renamed = one_line_error(backend.manage("restore", "plain.txt", "-y"))
    assert "must be named .sql" in renamed


def test_a_pg_dump_failure_is_one_line_and_leaves_no_file(postgresql: Backend) -> None:
    backend = postgresql
    from sqlalchemy.engine import make_url

    url = make_url(backend.env["DATABASE_URL"]).set(database="tempest_backup_missing")
    result = backend.manage(
        "backup", "-o", "missing.dump", DATABASE_URL=url.render_as_string(hide_password=False)
    )
    error = one_line_error(result)
    assert error.startswith("Error: pg_dump failed: ")
    assert 'database "tempest_backup_missing" does not exist' in error
    assert "check DATABASE_URL" in error
    assert not (backend.project / "missing.dump").exists()
    assert not (backend.project / "missing.dump.partial").exists()


def test_backup_refuses_to_overwrite_the_sqlite_database(sqlite: Backend) -> None:
    backend = sqlite
    backend.reset()
    error = one_line_error(backend.manage("backup", "-o", "db.sqlite3"))
    assert error == "Error: db.sqlite3 is the project database itself: choose another file with -o."
    assert backend.names() == ORDERS


# --- missing clients ------------------------------------------------------------------


def test_missing_clients_are_named_with_how_to_install_them(
    backend: Backend, empty_bin: str
) -> None:
    backend.reset()
    if backend.name == "postgresql":
        install = "apt-get install postgresql-client"
        for args, client in (
            (["dbshell"], "psql"),
            (["backup", "-o", "never.dump"], "pg_dump"),
            (["restore", "README.md", "--yes"], "pg_restore"),
            (["restore", "some.sql", "--yes"], "psql"),
        ):
            if args[-2:] == ["some.sql", "--yes"]:
                (backend.project / "some.sql").write_text("select 1;\n")
            result = backend.manage(*args, PATH=empty_bin)
            error = one_line_error(result)
            assert error.startswith(f"Error: {client} was not found on PATH: install "), error
            assert install in error
            assert result.stdout == ""  # nothing started
        assert not (backend.project / "never.dump").exists()
    else:
        error = one_line_error(backend.manage("dbshell", PATH=empty_bin))
        assert error.startswith("Error: sqlite3 was not found on PATH: install ")
        assert "apt-get install sqlite3" in error
        # backups of SQLite need no client: Python's sqlite3 module makes them
        result = backend.manage("backup", "-o", "no-client.sqlite3", PATH=empty_bin)
        assert result.returncode == 0, result.stderr
        restored = backend.manage("restore", "no-client.sqlite3", "--yes", PATH=empty_bin)
        assert restored.returncode == 0, restored.stderr
    assert backend.names() == ORDERS


# --- dbshell --------------------------------------------------------------------------


def test_dbshell_runs_the_client_with_the_arguments_after_the_double_dash(
    backend: Backend,
) -> None:
    backend.reset()
    if backend.name == "postgresql":
        result = backend.manage("dbshell", "--", "-c", "select 1")
        assert result.returncode == 0, result.stderr
        assert result.stdout.split() == ["?column?", "----------", "1", "(1", "row)"]
        count = backend.manage("dbshell", "--", "-At", "-c", 'select count(*) from "order"')
        assert count.stdout == "2\n"
        failed = backend.manage("dbshell", "--", "-c", "select nope")
        assert failed.returncode == 1  # psql's status
        assert 'column "nope" does not exist' in failed.stderr
    else:
        tables = backend.manage("dbshell", "--", ".tables")
        assert tables.returncode == 0, tables.stderr
        assert tables.stdout.split() == ["order"]
        piped = backend.manage("dbshell", input='select 1;\nselect count(*) from "order";\n')
        assert piped.stdout == "1\n2\n"
        failed = backend.manage("dbshell", "--", "select nope;")
        assert failed.returncode != 0  # sqlite3's status
        assert "no such column: nope" in failed.stderr


def test_dbshell_passes_the_password_in_the_environment(postgresql: Backend) -> None:
    backend = postgresql
    from sqlalchemy.engine import make_url

    url = make_url(backend.env["DATABASE_URL"]).set(password="s3cret-pw")
    result = backend.manage(
        "dbshell",
        "-v",
        "2",
        "--",
        "-At",
        "-c",
        r'\! echo "password=$PGPASSWORD"',
        DATABASE_URL=url.render_as_string(hide_password=False),
    )
    assert result.returncode == 0, result.stderr
    assert result.stdout == "password=s3cret-pw\n"
    shown = result.stderr.strip()  # -v 2 shows the command line
    assert shown.startswith("psql --host ") and f"--dbname {PG_DATABASE}" in shown
    assert "s3cret" not in shown


def test_help_lists_the_commands(project: Path) -> None:
    result = manage(project, "--help")
    for name, line in (
        ("backup", "Back up the project database to a file"),
        ("restore", "Restore the project database from a file made by backup"),
        ("dbshell", "Open the database's own shell (psql or sqlite3)"),
    ):
        assert re.search(rf"^\s+{name}\s+{re.escape(line)}", result.stdout, re.M), result.stdout
    assert "-- -c" in manage(project, "dbshell", "--help").stdout


# --- in process: URLs, names, messages --------------------------------------------------


def test_postgresql_urls_become_client_options_and_environment() -> None:
    target = database_target(
        "postgresql+asyncpg://shop:p%40ss@db.example.com:5433/shop?ssl=require"
    )
    assert target.backend == "postgresql" and target.name == "shop"
    assert target.safe_url == "postgresql+asyncpg://shop:***@db.example.com:5433/shop?ssl=require"
    assert target.libpq_options() == [
        "--host", "db.example.com", "--port", "5433", "--username", "shop", "--dbname", "shop"
    ]  # fmt: skip
    env = target.client_env({"PATH": "/bin"})
    assert env == {"PATH": "/bin", "PGPASSWORD": "p@ss", "PGSSLMODE": "require"}
    bare = database_target("postgresql://postgres@/shop?host=/run/postgresql")
    assert bare.libpq_options() == [
        "--host", "/run/postgresql", "--username", "postgres", "--dbname", "shop"
    ]  # fmt: skip
    assert "PGPASSWORD" not in bare.client_env({})


def test_sqlite_urls_and_unsupported_ones() -> None:
    target = database_target("sqlite+aiosqlite:///./data/app.sqlite3")
    assert (target.backend, target.path, target.name) == ("sqlite", Path("data/app.sqlite3"), "app")
    assert database_target("sqlite:////srv/db.sqlite3").path == Path("/srv/db.sqlite3")
    for url in ("sqlite+aiosqlite://", "sqlite+aiosqlite:///:memory:"):
        with pytest.raises(BackupError, match="in-memory SQLite database"):
            database_target(url)
    with pytest.raises(BackupError, match="uses mysql; backup, restore and dbshell support"):
        database_target("mysql+aiomysql://root:pw@localhost/shop")
    with pytest.raises(BackupError, match="is not a database URL"):
        database_target("not a url")


def test_default_backup_names() -> None:
    when = datetime(2026, 3, 4, 5, 6, 7, tzinfo=UTC)
    pg = DatabaseTarget(backend="postgresql", safe_url="", name="shop")
    sqlite = DatabaseTarget(backend="sqlite", safe_url="", name="db", path=Path("db.sqlite3"))
    assert default_backup_path(pg, when) == Path("backups/shop_20260304T050607Z.dump")
    assert default_backup_path(sqlite, when) == Path("backups/db_20260304T050607Z.sqlite3")


def test_sizes_and_failure_lines() -> None:
    assert [format_size(n) for n in (0, 999, 1000, 24_576, 3_100_000, 10**13)] == [
        "0 bytes", "999 bytes", "1.0 kB", "24.6 kB", "3.1 MB", "10.0 TB"
    ]  # fmt: skip
    stderr = 'psql:x.sql:2: ERROR:  syntax error at or near "this"\nLINE 1: this\n        ^\n'
    completed = subprocess.CompletedProcess(["psql"], 3, "", stderr)
    assert (
        _failure_line("psql", completed) == 'psql:x.sql:2: ERROR:  syntax error at or near "this"'
    )
    dumped = subprocess.CompletedProcess(["pg_dump"], 1, "", "pg_dump: error: disk full\n")
    assert _failure_line("pg_dump", dumped) == "disk full"
    silent = subprocess.CompletedProcess(["pg_dump"], 2, "", "")
    assert _failure_line("pg_dump", silent) == "pg_dump exited with status 2"


def test_sqlite_backups_hold_committed_data_and_restore_creates_a_missing_file(
    tmp_path: Path,
) -> None:
    from tempest.db.backup import backup, open_backup, restore

    live = tmp_path / "live.sqlite3"
    with closing(sqlite3.connect(live, isolation_level=None)) as writer:
        writer.execute("pragma journal_mode=wal")
        writer.execute("create table t (x)")
        writer.execute("insert into t values (1)")
        writer.execute("begin")
        writer.execute("insert into t values (2)")  # not committed while the backup runs
        backup(database_target(f"sqlite+aiosqlite:///{live}"), tmp_path / "out" / "b.sqlite3")
        writer.execute("commit")
    assert not list((tmp_path / "out").glob("*.partial"))

    fresh = database_target(f"sqlite+aiosqlite:///{tmp_path / 'new' / 'db.sqlite3'}")
    restore(fresh, open_backup(fresh, tmp_path / "out" / "b.sqlite3"))
    with closing(sqlite3.connect(tmp_path / "new" / "db.sqlite3")) as restored:
        assert restored.execute("select x from t").fetchall() == [(1,)]


def test_dbshell_without_exec_passes_the_client_status_on() -> None:
    """Where there is no exec (Windows), dbshell runs the client and returns its status."""
    from tempest.core.management.commands.dbshell import _run_and_wait

    _require_client("sqlite3")
    sqlite3_path = shutil.which("sqlite3")
    assert sqlite3_path is not None
    env = dict(os.environ)
    assert _run_and_wait(sqlite3_path, ["sqlite3", ":memory:", "select 1;"], env) == 0
    assert _run_and_wait(sqlite3_path, ["sqlite3", ":memory:", "select nope;"], env) != 0
