"""Load JSON fixtures into the database, in one transaction."""

from __future__ import annotations

import json
from collections.abc import Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING, Any

import click

from tempest.core.management.base import CommandError, echo
from tempest.core.management.progress import Progress, progress

if TYPE_CHECKING:
    from sqlalchemy import Column
    from sqlalchemy.ext.asyncio import AsyncConnection
    from sqlalchemy.sql.dml import Insert

    from tempest.core.management.fixtures import ModelInfo

BATCH_SIZE = 500
"""Rows sent to the database in one executemany."""


@click.command()
@click.argument("fixtures", nargs=-1, required=True, metavar="FIXTURE...")
async def command(fixtures: tuple[str, ...]) -> None:
    """Load the JSON FIXTUREs (as written by dumpdata) into the database.

    A FIXTURE is a file path, or a bare name (`orders` or `orders.json`) looked up in
    the fixtures/ folder of every installed app. Rows are saved in foreign-key order
    whatever the order of the files; a row whose primary key exists is updated. The
    whole load is one transaction: if any row fails, nothing is loaded.
    """
    from tempest.core.management.fixtures import installed_models

    models = {info.label.lower(): info for info in installed_models()}
    files = [path for name in fixtures for path in _find(name)]
    rows: list[_Row] = []
    with progress(len(files)) as status:
        for path in files:
            status.step(f"Reading {_shown(path)}")
            loaded = _parse(path, models)
            status.echo(f"Read {len(loaded)} object(s) from {_shown(path)}.")
            rows.extend(loaded)
    await _save(rows)
    echo(f"Installed {len(rows)} object(s) from {len(files)} fixture(s).")


@dataclass
class _Row:
    """One object of a fixture, converted to column values."""

    path: Path
    index: int
    info: ModelInfo
    values: dict[str, Any]
    pk: Any

    def where(self) -> str:
        pk = "" if self.pk is None else f", pk {self.pk}"
        return f"{_shown(self.path)}, object {self.index} ({self.info.label}{pk})"


@dataclass
class _Batch:
    """Rows of one model with the same fields, saved by one statement."""

    info: ModelInfo
    keys: tuple[str, ...]
    rows: list[_Row] = field(default_factory=list)


def _shown(path: Path) -> str:
    try:
        return str(path.relative_to(Path.cwd()))
    except ValueError:
        return str(path)


def _find(name: str) -> list[Path]:
    """The files a FIXTURE argument names."""
    from tempest.apps import apps

    path = Path(name)
    if path.is_file():
        return [path.resolve()]
    if path.exists():
        raise CommandError(f"Fixture {name!r} is not a file.")
    if len(path.parts) != 1:
        raise CommandError(f"Fixture file {name!r} does not exist.")
    candidates = [name] if name.endswith(".json") else [name, f"{name}.json"]
    found = [
        config.path / "fixtures" / candidate
        for config in apps.get_app_configs()
        for candidate in candidates
        if (config.path / "fixtures" / candidate).is_file()
    ]
    if not found:
        labels = ", ".join(config.label for config in apps.get_app_configs()) or "none"
        raise CommandError(
            f"No fixture named {name!r}: it is not a file here, and no installed app "
            f"({labels}) has fixtures/{candidates[-1]}."
        )
    return found


def _parse(path: Path, models: dict[str, ModelInfo]) -> list[_Row]:
    try:
        text = path.read_text(encoding="utf-8")
    except UnicodeDecodeError as error:
        raise CommandError(f"{_shown(path)} is not UTF-8 text: {error.reason}.") from error
    except OSError as error:
        raise CommandError(f"Cannot read {_shown(path)}: {error.strerror}.") from error
    try:
        data = json.loads(text)
    except json.JSONDecodeError as error:
        raise CommandError(
            f"{_shown(path)} is not valid JSON: {error.msg} at line {error.lineno}, "
            f"column {error.colno}."
        ) from error
    if not isinstance(data, list):
        raise CommandError(
            f"{_shown(path)} must hold a JSON list of objects like "
            '{"model": "orders.OrderModel", "pk": ..., "fields": {...}}.'
        )
    return [_row(path, index, item, models) for index, item in enumerate(data, start=1)]


def _row(path: Path, index: int, item: Any, models: dict[str, ModelInfo]) -> _Row:
    from tempest.core.management.fixtures import from_json_value

    where = f"{_shown(path)}, object {index}"
    if not isinstance(item, dict) or not isinstance(item.get("model"), str):
        raise CommandError(f'{where}: expected an object with "model" and "fields".')
    label = item["model"]
    info = models.get(label.lower())
    if info is None:
        raise CommandError(f"{where}: {_unknown_model(label, list(models.values()))}")
    where = f"{where} ({info.label})"
    fields = item.get("fields", {})
    if not isinstance(fields, dict):
        raise CommandError(f'{where}: "fields" must be an object.')
    unknown = [name for name in fields if name not in info.fields]
    if unknown:
        raise CommandError(
            f"{where}: unknown field {unknown[0]!r}; the fields of {info.label} are "
            f"{', '.join(info.fields)}."
        )
    # (field, value, what to call it in messages)
    raw = [(name, value, f"field {name!r}") for name, value in fields.items()]
    pk = item.get("pk")
    if pk is not None:
        pk_values = pk if len(info.pk_fields) > 1 else [pk]
        if not isinstance(pk_values, list) or len(pk_values) != len(info.pk_fields):
            raise CommandError(f'{where}: "pk" must be a list of {len(info.pk_fields)} values.')
        raw += [
            (name, value, '"pk"') for name, value in zip(info.pk_fields, pk_values, strict=True)
        ]
    values: dict[str, Any] = {}
    for name, value, shown in raw:
        column = info.fields[name]
        try:
            values[column.key] = from_json_value(value, column)
        except ValueError as error:
            raise CommandError(f"{where}: {shown}: {error}.") from error
    return _Row(path, index, info, values, pk)


def _unknown_model(label: str, infos: Sequence[ModelInfo]) -> str:
    from tempest.apps import apps

    app_label = label.partition(".")[0]
    if app_label not in {config.label for config in apps.get_app_configs()}:
        from tempest.core.management.fixtures import unknown_app_message

        return f"unknown model {label!r}. {unknown_app_message(app_label)}"
    names = ", ".join(info.label for info in infos if info.label.startswith(app_label + "."))
    return f"unknown model {label!r}; the models of {app_label!r} are {names or 'none'}."


def _batches(rows: list[_Row]) -> list[_Batch]:
    """Rows grouped by model in foreign-key order, file order kept within a model."""
    from tempest.core.management.fixtures import sort_by_dependency

    by_model: dict[str, list[_Row]] = {}
    infos: dict[str, ModelInfo] = {}
    for row in rows:
        by_model.setdefault(row.info.label, []).append(row)
        infos[row.info.label] = row.info
    batches: list[_Batch] = []
    for info in sort_by_dependency(infos.values()):
        for row in by_model[info.label]:
            keys = tuple(row.values)
            last = batches[-1] if batches else None
            if (
                last is None
                or last.info is not info
                or last.keys != keys
                or len(last.rows) >= BATCH_SIZE
            ):
                last = _Batch(info, keys)
                batches.append(last)
            last.rows.append(row)
    return batches


def _upsert(connection: AsyncConnection, batch: _Batch) -> Insert:
    """``INSERT ... ON CONFLICT (pk) DO UPDATE`` for the batch's columns."""
    dialect = connection.dialect.name
    if dialect == "postgresql":
        from sqlalchemy.dialects.postgresql import insert
    elif dialect == "sqlite":
        from sqlalchemy.dialects.sqlite import insert  # type: ignore[assignment]
    else:
        raise CommandError(f"loaddata supports SQLite and PostgreSQL, not {dialect}.")
    table = batch.info.table
    statement = insert(table)
    updated: dict[Column[Any], Any] = {
        table.c[key]: statement.excluded[key] for key in batch.keys if not table.c[key].primary_key
    }
    pk_keys = list(batch.info.primary_key)
    if updated:
        return statement.on_conflict_do_update(index_elements=pk_keys, set_=updated)
    return statement.on_conflict_do_nothing(index_elements=pk_keys)


async def _save(rows: list[_Row]) -> None:
    batches = _batches(rows)
    per_model: dict[str, int] = {}
    for row in rows:
        per_model[row.info.label] = per_model.get(row.info.label, 0) + 1
    with progress(len(per_model)) as status:
        await _save_batches(batches, per_model, status)


async def _save_batches(batches: list[_Batch], per_model: dict[str, int], status: Progress) -> None:
    from sqlalchemy.exc import StatementError

    from tempest.core.management.fixtures import database_error_message
    from tempest.db import get_database

    async with get_database().engine.connect() as connection:
        transaction = await connection.begin()
        current = 0
        try:
            saved = 0
            for number, batch in enumerate(batches):
                current = number
                label = batch.info.label
                if saved == 0:
                    status.step(f"Saving {label}")
                await connection.execute(
                    _upsert(connection, batch), [row.values for row in batch.rows]
                )
                saved += len(batch.rows)
                status.update(f"Saving {label}: {saved}/{per_model[label]} object(s)")
                following = batches[number + 1].info if number + 1 < len(batches) else None
                if following is not batch.info:
                    status.echo(f"  Saved {saved} {label} object(s).")
                    saved = 0
            current = len(batches)
            await transaction.commit()
        except StatementError as error:
            await transaction.rollback()
            where = "Saving the fixtures"
            cause: BaseException = error
            if current < len(batches):
                # Find the row that failed (batches hide it), in a transaction rolled back too.
                where = f"{batches[current].info.label} rows"
                row, row_error = await _find_failing_row(connection, batches, current)
                if row is not None and row_error is not None:
                    where, cause = row.where(), row_error
            raise CommandError(
                f"{where}: {database_error_message(cause)}. Nothing was loaded."
            ) from cause
        except BaseException:
            await transaction.rollback()
            raise


async def _find_failing_row(
    connection: AsyncConnection, batches: list[_Batch], failed: int
) -> tuple[_Row | None, BaseException | None]:
    from sqlalchemy.exc import StatementError

    transaction = await connection.begin()
    try:
        for batch in batches[:failed]:
            await connection.execute(_upsert(connection, batch), [row.values for row in batch.rows])
        batch = batches[failed]
        for row in batch.rows:
            try:
                await connection.execute(_upsert(connection, batch), [row.values])
            except StatementError as error:
                return row, error
    except StatementError:
        pass
    finally:
        await transaction.rollback()
    return None, None
