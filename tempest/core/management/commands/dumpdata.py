"""Write the rows of installed models as a JSON fixture."""

from __future__ import annotations

import json
import os
import sys
from pathlib import Path
from typing import IO, TYPE_CHECKING, Any

import click

from tempest.core.management.base import CommandError, echo
from tempest.core.management.progress import Progress, progress

if TYPE_CHECKING:
    from sqlalchemy.ext.asyncio import AsyncConnection

    from tempest.core.management.fixtures import ModelInfo

BATCH_SIZE = 1000
"""Rows fetched from the database at a time."""


@click.command()
@click.argument("labels", nargs=-1, metavar="[APP[.Model]]...")
@click.option(
    "-o",
    "--output",
    type=click.Path(dir_okay=False, writable=True, path_type=Path),
    help="Write the fixture to this file instead of standard output.",
)
@click.option(
    "--indent",
    type=click.IntRange(min=0),
    metavar="N",
    help="Pretty-print with this many spaces per level (default: one object per line).",
)
async def command(labels: tuple[str, ...], output: Path | None, indent: int | None) -> None:
    """Write the rows of the installed models as a JSON fixture for loaddata.

    With no argument every model is dumped; APP dumps an app's models and APP.Model one
    model (its class name, in any case). Models come in foreign-key order, rows by primary
    key. Progress goes to standard output with -o, and to standard error at -v 2 otherwise.
    """
    from tempest.core.management.fixtures import models_of_labels, sort_by_dependency

    infos = sort_by_dependency(models_of_labels(labels))
    if output is None:
        stream = sys.stdout.buffer
        await _dump(infos, stream, indent, progress_level=2, progress_err=True)
        stream.flush()
        return
    directory = output.resolve().parent
    if not directory.is_dir():
        raise CommandError(f"Cannot write {output}: the folder {directory} does not exist.")
    # Written beside the target and renamed at the end: a failed dump leaves no half file.
    temporary = directory / f".{output.name}.{os.getpid()}.partial"
    try:
        with temporary.open("wb") as stream:
            total = await _dump(infos, stream, indent, progress_level=1, progress_err=False)
        temporary.replace(output)
    except BaseException:
        temporary.unlink(missing_ok=True)
        raise
    echo(f"Wrote {total} object(s) to {output}.")


async def _dump(
    infos: list[ModelInfo],
    stream: IO[bytes],
    indent: int | None,
    *,
    progress_level: int,
    progress_err: bool,
) -> int:
    from tempest.db import get_database

    engine = get_database().engine
    options: dict[str, Any] = {}
    if engine.dialect.name == "postgresql":  # one snapshot for every table
        options["isolation_level"] = "REPEATABLE READ"
    writer = _JSONArrayWriter(stream, indent)
    async with engine.connect() as connection:
        if options:
            connection = await connection.execution_options(**options)
        with progress(len(infos)) as status:
            total = await _dump_models(
                connection, infos, writer, status, progress_level, progress_err
            )
        await connection.rollback()
    writer.close()
    return total


async def _dump_models(
    connection: AsyncConnection,
    infos: list[ModelInfo],
    writer: _JSONArrayWriter,
    status: Progress,
    progress_level: int,
    progress_err: bool,
) -> int:
    from sqlalchemy.exc import DBAPIError

    from tempest.core.management.fixtures import database_error_message

    total = 0
    for info in infos:
        status.step(f"Dumping {info.label}")
        try:
            count = await _dump_model(connection, info, writer, status)
        except DBAPIError as error:
            raise CommandError(
                f"Cannot read {info.label} (table {info.table.name!r}): "
                f"{database_error_message(error)}. Are the tables created (migrate)?"
            ) from error
        total += count
        status.echo(
            f"Dumped {count} object(s) of {info.label}.", level=progress_level, err=progress_err
        )
    return total


async def _dump_model(
    connection: AsyncConnection, info: ModelInfo, writer: _JSONArrayWriter, status: Progress
) -> int:
    from sqlalchemy import select

    from tempest.core.management.fixtures import to_json_value

    names = list(info.fields)
    columns = [info.fields[name] for name in names]
    statement = select(*columns).order_by(*info.primary_key).execution_options(yield_per=BATCH_SIZE)
    single_pk = len(info.pk_fields) == 1
    count = 0
    result = await connection.stream(statement)
    async for row in result:
        values = dict(zip(names, row, strict=True))
        try:
            pk_values = [
                to_json_value(values.pop(name), info.fields[name]) for name in info.pk_fields
            ]
            fields = {
                name: to_json_value(value, info.fields[name]) for name, value in values.items()
            }
        except TypeError as error:
            raise CommandError(f"Cannot dump {info.label}: {error}.") from error
        writer.write(
            {"model": info.label, "pk": pk_values[0] if single_pk else pk_values, "fields": fields}
        )
        count += 1
        if count % BATCH_SIZE == 0:
            status.update(f"Dumping {info.label}: {count} object(s)")
    return count


class _JSONArrayWriter:
    """Write a JSON array one object at a time, as ``json.dumps(list, indent)`` would."""

    def __init__(self, stream: IO[bytes], indent: int | None) -> None:
        self.stream = stream
        self.indent = indent
        self.count = 0

    def write(self, item: dict[str, Any]) -> None:
        """Append one object."""
        if self.indent is None:
            text = json.dumps(item, ensure_ascii=False)
        else:
            pad = " " * self.indent
            text = pad + json.dumps(item, ensure_ascii=False, indent=self.indent).replace(
                "\n", "\n" + pad
            )
        self.stream.write((("[\n" if self.count == 0 else ",\n") + text).encode("utf-8"))
        self.count += 1

    def close(self) -> None:
        """End the array."""
        self.stream.write(b"[]\n" if self.count == 0 else b"\n]\n")
