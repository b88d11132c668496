"""A throwaway database holding the schema the migration files build (for ``makemigrations``).

``makemigrations`` compares the models with what the apps' revisions create, not with the
project database: it builds that schema in a scratch database of the project's dialect,
compares, and drops it. The project database is never opened, so it may be empty, behind
or unreachable.
"""

from __future__ import annotations

import asyncio
import secrets
import tempfile
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

from sqlalchemy.engine import URL, make_url
from sqlalchemy.exc import ArgumentError, DBAPIError

from tempest.db.migrations.errors import MigrationError

__all__ = ["scratch_database", "scratch_database_name"]

SCRATCH_MARKER = "_mm_"
"""Scratch PostgreSQL databases are named ``<project database>_mm_<random hex>``."""

_INSUFFICIENT_PRIVILEGE = "42501"
_MAINTENANCE_DATABASES = ("postgres",)


@contextmanager
def scratch_database(database_url: str) -> Iterator[str]:
    """An empty database of the same dialect as ``database_url``, dropped on exit.

    SQLite: a file in a temporary directory. PostgreSQL: ``CREATE DATABASE
    <name>_mm_<random>`` on the same server, as the same user (who needs the ``CREATEDB``
    privilege); the database is dropped even when the work fails.

    Args:
        database_url: The project's database URL (async SQLAlchemy); only its dialect,
            driver and server are used.

    Yields:
        The URL of the scratch database, with the same driver.

    Raises:
        MigrationError: Another dialect, a server that cannot be reached, or a user who may
            not create databases (the message says how to grant it).
    """
    url = _parse(database_url)
    backend = url.get_backend_name()
    if backend == "sqlite":
        with tempfile.TemporaryDirectory(prefix="tempest-makemigrations-") as directory:
            yield url.set(database=str(Path(directory) / "scratch.sqlite3")).render_as_string(
                hide_password=False
            )
        return
    if backend != "postgresql":
        raise MigrationError(
            f"makemigrations builds the migrations' schema in a scratch database, which it "
            f"can make on SQLite and PostgreSQL, not on {backend!r} (DATABASE_URL)."
        )
    name = scratch_database_name(url.database)
    admin = asyncio.run(_create_postgresql(url, name))
    try:
        yield url.set(database=name).render_as_string(hide_password=False)
    finally:
        asyncio.run(_drop_postgresql(admin, name))


def scratch_database_name(project_database: str | None) -> str:
    """``<project database>_mm_<12 random hex digits>``, within PostgreSQL's 63 characters."""
    base = (project_database or "tempest")[: 63 - len(SCRATCH_MARKER) - 12]
    return f"{base}{SCRATCH_MARKER}{secrets.token_hex(6)}"


def _parse(database_url: str) -> URL:
    try:
        return make_url(database_url)
    except ArgumentError as error:
        raise MigrationError(f"DATABASE_URL is not a database URL: {error}.") from error


def _quote(name: str) -> str:
    return '"' + name.replace('"', '""') + '"'


async def _create_postgresql(url: URL, name: str) -> URL:
    """Create ``name`` from a maintenance database; return the URL it was created from.

    The ``postgres`` database is tried first, so the project database is not opened; a
    server without it is asked from the project database instead.
    """
    from sqlalchemy import text
    from sqlalchemy.ext.asyncio import create_async_engine
    from sqlalchemy.pool import NullPool

    candidates = [url.set(database=database) for database in _MAINTENANCE_DATABASES]
    if url.database and url.database not in _MAINTENANCE_DATABASES:
        candidates.append(url)
    where = f"{url.host or 'localhost'}:{url.port or 5432}"
    reason = ""
    for admin in candidates:
        engine = create_async_engine(admin, poolclass=NullPool, isolation_level="AUTOCOMMIT")
        try:
            async with engine.connect() as connection:
                await connection.execute(text(f"CREATE DATABASE {_quote(name)}"))
            return admin
        except DBAPIError as error:
            if _sqlstate(error) == _INSUFFICIENT_PRIVILEGE:
                user = url.username or "the DATABASE_URL user"
                raise MigrationError(
                    f"makemigrations builds the migrations' schema in a scratch database "
                    f"({name}, dropped afterwards), and PostgreSQL user {user!r} may not "
                    f"create databases on {where}: grant it with `ALTER ROLE {user} CREATEDB;`."
                ) from error
            reason = _first_line(error)
        except OSError as error:
            reason = _first_line(error)
        finally:
            await engine.dispose()
    raise MigrationError(
        f"makemigrations could not create its scratch database on the PostgreSQL server "
        f"{where}: {reason}. Check that the server of DATABASE_URL is running."
    )


async def _drop_postgresql(admin: URL, name: str) -> None:
    from sqlalchemy import text
    from sqlalchemy.ext.asyncio import create_async_engine
    from sqlalchemy.pool import NullPool

    engine = create_async_engine(admin, poolclass=NullPool, isolation_level="AUTOCOMMIT")
    try:
        async with engine.connect() as connection:
            version = connection.dialect.server_version_info or (0,)
            force = " WITH (FORCE)" if version >= (13,) else ""
            await connection.execute(text(f"DROP DATABASE IF EXISTS {_quote(name)}{force}"))
    except (DBAPIError, OSError) as error:
        raise MigrationError(
            f"makemigrations could not drop its scratch database {name}: "
            f"{_first_line(error)}; drop it with `DROP DATABASE {_quote(name)};`."
        ) from error
    finally:
        await engine.dispose()


def _sqlstate(error: DBAPIError) -> str | None:
    original = error.orig
    code = getattr(original, "sqlstate", None) or getattr(original, "pgcode", None)
    return str(code) if code else None


def _first_line(error: BaseException) -> str:
    orig = getattr(error, "orig", None)
    text = str(orig if orig is not None else error).strip()
    return text.splitlines()[0] if text else type(error).__name__
