"""The scratch database makemigrations builds the migrations' schema in."""

from __future__ import annotations

import asyncio
from pathlib import Path

import pytest
from sqlalchemy.engine import make_url

from tempest.db.migrations import MigrationError
from tempest.db.migrations.scratch import scratch_database, scratch_database_name
from tests.conftest import service_url


def test_other_dialects_and_bad_urls_are_refused() -> None:
    mysql = scratch_database("mysql+aiomysql://app@localhost/shop")
    with pytest.raises(MigrationError, match="on SQLite and PostgreSQL, not on 'mysql'"), mysql:
        pass
    with pytest.raises(MigrationError, match="DATABASE_URL is not a database URL"):
        scratch_database("not a url").__enter__()


def test_the_name_fits_postgresql_identifiers() -> None:
    name = scratch_database_name("shop")
    assert name.startswith("shop_mm_") and len(name) == len("shop_mm_") + 12
    assert scratch_database_name("shop") != name
    assert len(scratch_database_name("x" * 80)) == 63
    assert scratch_database_name(None).startswith("tempest_mm_")


def test_sqlite_scratch_is_a_temporary_file_removed_even_on_failure(tmp_path: Path) -> None:
    project = f"sqlite+aiosqlite:///{tmp_path / 'db.sqlite3'}"
    with pytest.raises(RuntimeError), scratch_database(project) as url:
        scratch = Path(str(make_url(url).database))
        assert url.startswith("sqlite+aiosqlite:///") and scratch.parent != tmp_path
        scratch.write_bytes(b"")
        raise RuntimeError("the work failed")
    assert not scratch.parent.exists()
    assert list(tmp_path.iterdir()) == []  # the project database was not made


async def _databases(server_url: str, prefix: str) -> list[str]:
    import asyncpg

    connection = await asyncpg.connect(server_url.replace("postgresql+asyncpg", "postgresql"))
    try:
        rows = await connection.fetch(
            "SELECT datname FROM pg_database WHERE starts_with(datname, $1)", prefix
        )
    finally:
        await connection.close()
    return [row["datname"] for row in rows]


def test_postgresql_scratch_is_a_database_dropped_even_on_failure() -> None:
    server_url = service_url("TEMPEST_TEST_DATABASE_URL")
    server = make_url(server_url)
    missing = "tempest_scratch_probe_does_not_exist"  # the project database need not exist
    project = server.set(database=missing).render_as_string(hide_password=False)
    with pytest.raises(RuntimeError), scratch_database(project) as url:
        name = str(make_url(url).database)
        assert name.startswith(f"{missing}_mm_")
        assert make_url(url).drivername == server.drivername
        assert asyncio.run(_databases(server_url, name)) == [name]
        raise RuntimeError("the work failed")
    assert asyncio.run(_databases(server_url, missing)) == []
