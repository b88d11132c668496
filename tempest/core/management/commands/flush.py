"""Empty the tables of the installed models (the tables stay)."""

from __future__ import annotations

from typing import TYPE_CHECKING

import click

from tempest.core.management.base import CommandError, echo

if TYPE_CHECKING:
    from sqlalchemy import Table
    from sqlalchemy.ext.asyncio import AsyncConnection


@click.command()
@click.option("--noinput", "--no-input", is_flag=True, help="Do not ask for confirmation.")
async def command(noinput: bool) -> None:
    """Delete every row of the installed models' tables; the tables stay.

    Tables without a model of their own (many-to-many links) are emptied too; the
    migration history is left alone. Asks for confirmation first unless --noinput. On
    PostgreSQL one TRUNCATE empties the tables (and restarts their sequences); elsewhere
    one transaction deletes the rows, children first.
    """
    from sqlalchemy.exc import DBAPIError

    from tempest.core.management.fixtures import database_error_message
    from tempest.db import get_database

    database = get_database()
    candidates = _project_tables()
    if not candidates:
        echo("Nothing to flush: the installed apps have no models.")
        return
    async with database.engine.connect() as connection:
        tables = await _existing_tables(connection, candidates)
        await connection.rollback()
    for table in candidates:
        if table not in tables:
            echo(f"Skipping table {table.name!r}: it does not exist.", level=2)
    if not tables:
        echo("Nothing to flush: no table of the installed models exists yet (run migrate).")
        return
    names = ", ".join(table.name for table in tables)
    if not noinput:
        click.confirm(
            f"This deletes every row of {len(tables)} table(s) ({names}) in "
            f"{database.db_url_safe}. Are you sure?",
            abort=True,
        )
    try:
        async with database.engine.begin() as connection:
            await _empty(connection, tables)
    except DBAPIError as error:
        raise CommandError(
            f"Flushing failed, nothing was deleted: {database_error_message(error)}."
        ) from error
    echo(f"Flushed {len(tables)} table(s): {names}.")


def _project_tables() -> list[Table]:
    """The installed models' tables and the tables without a model (many-to-many links).

    In dependency order: a table comes before the tables that refer to it.
    """
    from tempest.core.management.fixtures import installed_models, sorted_tables
    from tempest.db import BaseModel

    mapped = {mapper.local_table for mapper in BaseModel.registry.mappers}
    installed = {info.table for info in installed_models()}
    return [
        table
        for table in sorted_tables()
        if table in installed or (installed and table not in mapped)
    ]


async def _existing_tables(connection: AsyncConnection, tables: list[Table]) -> list[Table]:
    from sqlalchemy import inspect

    def exists(sync_connection: object) -> list[Table]:
        inspector = inspect(sync_connection)
        return [table for table in tables if inspector.has_table(table.name, schema=table.schema)]

    found: list[Table] = await connection.run_sync(exists)
    return found


async def _empty(connection: AsyncConnection, tables: list[Table]) -> None:
    """Delete the rows of ``tables`` (in dependency order) in the connection's transaction."""
    from sqlalchemy import delete, text

    if connection.dialect.name == "postgresql":
        preparer = connection.dialect.identifier_preparer
        names = ", ".join(preparer.format_table(table) for table in tables)
        await connection.execute(text(f"TRUNCATE TABLE {names} RESTART IDENTITY"))
        return
    for table in reversed(tables):
        await connection.execute(delete(table))
