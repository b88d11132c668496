"""Read the audit trail: the recorded changes of one row."""

from __future__ import annotations

import json
from datetime import datetime
from typing import TYPE_CHECKING, Any

import click

from tempest.core.management.base import CommandError

if TYPE_CHECKING:
    from sqlalchemy import Table

    from tempest.db.audit import BaseAuditLogModel

USAGE_ERROR = 2
"""Exit status of a wrong command line (an unknown model or table, a malformed key)."""


@click.group()
def command() -> None:
    """Read the audit trail (needs tempest.contrib.audit in INSTALLED_APPS)."""


@command.command()
@click.argument("target", metavar="APP.Model|TABLE")
@click.argument("pk", nargs=-1, required=True, metavar="PK...")
@click.option(
    "--limit",
    type=click.IntRange(min=1),
    default=100,
    show_default=True,
    help="Show at most this many of the latest changes.",
)
@click.option("--json", "as_json", is_flag=True, help="Print a JSON array, one object per change.")
async def history(target: str, pk: tuple[str, ...], limit: int, as_json: bool) -> None:
    """List the recorded changes of one row, oldest first.

    TARGET is a model (APP.Model, the class name in any case) or a table name; PK is the
    row's primary key (one value per column of a composite key, in the key's order).
    """
    from sqlalchemy import select

    from tempest.db import get_database
    from tempest.db.audit import get_audit_model
    from tempest.db.audit_snapshots import pk_text
    from tempest.exceptions import ImproperlyConfigured

    try:
        audit = get_audit_model()
    except ImproperlyConfigured as error:
        raise CommandError(str(error)) from None
    assert audit is not None
    table_name, values = await _target(target, pk, audit)
    key = pk_text(values)
    query = (
        select(audit)
        .where(audit.table_name == table_name, audit.object_pk == key)
        .order_by(audit.created_at.desc(), audit.id.desc())
        .limit(limit)
    )
    async with get_database().request_session() as session:
        rows = list(reversed((await session.scalars(query)).all()))
    if as_json:
        click.echo(json.dumps([_as_dict(row) for row in rows], indent=2))
        return
    if not rows:
        click.echo(f"No recorded changes of {target} {key}.")
        return
    for row in rows:
        click.echo(_line(row))
        for column, change in (row.changes or {}).items():
            before, after = change.get("before"), change.get("after")
            click.echo(f"    {column}: {_shown(before)} -> {_shown(after)}")


async def _target(
    target: str, pk: tuple[str, ...], audit: type[BaseAuditLogModel]
) -> tuple[str, list[Any]]:
    """The table named by ``target`` and ``pk`` as its key's values.

    Raises:
        CommandError: (status 2) An unknown model or table, or a key that does not fit.
    """
    if "." in target:
        from tempest.core.management.fixtures import models_of_labels

        try:
            [info] = models_of_labels([target])
        except CommandError as error:
            raise CommandError(str(error), USAGE_ERROR) from None
        return info.table.name, _key_values(target, info.table, pk)
    from sqlalchemy import func, select

    from tempest.db import BaseModel, get_database

    table = BaseModel.metadata.tables.get(target)
    if table is not None:
        return table.name, _key_values(target, table, pk)
    async with get_database().request_session() as session:
        known = await session.scalar(
            select(func.count()).select_from(audit).where(audit.table_name == target)
        )
    if not known:  # a table dropped since keeps its history; a typo has none
        raise CommandError(
            f"Unknown model or table {target!r}: give APP.Model (e.g. orders.OrderModel) or "
            "the name of a table.",
            USAGE_ERROR,
        )
    return target, list(pk)


def _key_values(target: str, table: Table, pk: tuple[str, ...]) -> list[Any]:
    from tempest.db import coerce_value

    columns = list(table.primary_key.columns)
    if not columns:
        raise CommandError(f"{target} has no primary key, so it has no audit trail.", USAGE_ERROR)
    if len(pk) != len(columns):
        names = ", ".join(column.name for column in columns)
        raise CommandError(
            f"{target} has a primary key of {len(columns)} column(s) ({names}); "
            f"{len(pk)} value(s) given.",
            USAGE_ERROR,
        )
    values = []
    for column, raw in zip(columns, pk, strict=True):
        try:
            kind = column.type.python_type
        except NotImplementedError:
            kind = str
        try:
            values.append(int(raw) if kind is int else coerce_value(column, raw))
        except ValueError:
            raise CommandError(
                f"{raw!r} is not a valid value of {target}'s key column {column.name!r}.",
                USAGE_ERROR,
            ) from None
    return values


def _line(row: BaseAuditLogModel) -> str:
    at = row.created_at.isoformat(sep=" ", timespec="seconds")
    who = f"{row.actor_kind} {row.actor_id}" if row.actor_kind else "unknown"
    return f"{at}  {_action(row):<6}  by {who}"


def _action(row: BaseAuditLogModel) -> str:
    return str(getattr(row.action, "value", row.action))


def _shown(value: Any) -> str:
    return "-" if value is None else json.dumps(value, ensure_ascii=False)


def _as_dict(row: BaseAuditLogModel) -> dict[str, Any]:
    at: datetime = row.created_at
    return {
        "at": at.isoformat(),
        "action": _action(row),
        "actor_kind": row.actor_kind,
        "actor_id": row.actor_id,
        "request_id": row.request_id,
        "changes": row.changes,
    }
