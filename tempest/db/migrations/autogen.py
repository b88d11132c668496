"""New revisions from model changes, one app at a time (``makemigrations``)."""

from __future__ import annotations

import re
from collections.abc import Iterable, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from alembic import command
from alembic.operations import ops
from alembic.script import ScriptDirectory
from alembic.util import rev_id
from sqlalchemy import Table
from sqlalchemy.engine import Connection

from tempest.db.migration_hooks import reorder_base_columns_first
from tempest.db.migrations.environment import EnvironmentOptions
from tempest.db.migrations.errors import MigrationError
from tempest.db.migrations.executor import apply_plan, make_plan
from tempest.db.migrations.project import Migrations, multiple_heads_message
from tempest.db.migrations.scratch import scratch_database

__all__ = ["PlannedRevision", "describe_operations", "make_revisions", "merge_heads"]


@dataclass
class PlannedRevision:
    """A revision makemigrations wrote, or would write.

    Attributes:
        label: The app.
        message: The revision's message (its file name is made from it).
        operations: What it does, one line per operation.
        depends_on: Revisions of other apps it needs first.
        path: The file written (None on a dry run).
    """

    label: str
    message: str
    operations: list[str]
    depends_on: list[str] = field(default_factory=list)
    path: Path | None = None


def make_revisions(
    migrations: Migrations,
    labels: Sequence[str] = (),
    *,
    message: str | None = None,
    empty: bool = False,
    write: bool = True,
) -> list[PlannedRevision]:
    """Compare the models with the migrations and write one revision per changed app.

    What the migrations build is made in a scratch database of the project's dialect
    (:func:`~tempest.db.migrations.scratch.scratch_database`): every app's revisions are
    applied to it, autogenerate compares the models with it, and it is dropped. The project
    database is not opened, so it may be behind, empty or unreachable. Apps are handled so
    that an app comes after the apps its foreign keys point to, and its revision depends on
    their heads.

    Args:
        migrations: The project's migrations.
        labels: Only these apps (default: every app with models).
        message: The revision message (default: ``initial``, or one made from the changes).
        empty: Write a revision without operations (``labels`` required), for hand-written
            steps.
        write: False to only report what would be written (``--dry-run``, ``--check``).

    Returns:
        The revisions, in the order they were made.

    Raises:
        MigrationError: Unknown app, two heads, a revision that fails in the scratch
            database, no scratch database (see ``scratch_database``), or a foreign key to an
            app without migrations that is not part of this run.
    """
    chosen = [migrations.app(label) for label in labels] or list(migrations.apps.values())
    if empty and not labels:
        example = next(
            (label for label, app in migrations.apps.items() if not app.ships_with_tempest),
            "APP",
        )
        raise MigrationError(
            "makemigrations --empty needs the label of the app to add the revision to, "
            f"e.g. `manage.py makemigrations {example} --empty`."
        )
    script = migrations.script()
    for app in migrations.apps.values():
        heads = migrations.heads(app.label, script)
        if len(heads) > 1:
            raise MigrationError(multiple_heads_message(app.label, heads))
    owners = _table_owners(migrations)
    ordered = _dependency_order(migrations, [app.label for app in chosen], owners)
    planned: list[PlannedRevision] = []
    scripts: dict[str, ops.MigrationScript] = {}

    def split_by_app(context: Any, revision: Any, directives: list[Any]) -> None:
        reorder_base_columns_first(context, revision, directives)
        source = directives[0]
        upgrades = _by_owner(source.upgrade_ops.ops, owners, migrations)
        downgrades = _by_owner(source.downgrade_ops.ops, owners, migrations)
        new_heads: dict[str, str] = {}
        for label in ordered:
            operations = upgrades.get(label, [])
            if not operations and not empty:
                continue
            head = migrations.head(label, script)
            descriptions = describe_operations(operations)
            depends_on = _cross_app_dependencies(
                migrations, script, operations, label, owners, new_heads
            )
            text = message or ("initial" if head is None else _message_from(descriptions))
            new_heads[label] = rev_id()
            scripts[label] = ops.MigrationScript(
                new_heads[label],
                ops.UpgradeOps(ops=operations),
                ops.DowngradeOps(ops=downgrades.get(label, [])),
                message=text,
                imports=set(source.imports),
                head="base" if head is None else f"{label}@head",
                branch_label=label if head is None else None,
                version_path=str(migrations.app(label).directory) if head is None else None,
                depends_on=depends_on or None,
            )
            planned.append(PlannedRevision(label, text, descriptions, depends_on))
        directives[:] = [scripts[item.label] for item in planned] if write else []

    options = EnvironmentOptions(
        url=migrations.database_url,
        metadata=migrations.metadata,
        tables=frozenset(table for app in chosen for table in app.tables),
        dropped_tables=frozenset(
            table for app in chosen for table in app.created_tables() - _all_tables(migrations)
        ),
        process_revision_directives=split_by_app,
        compare_at_heads=tuple(revision.revision for revision in script.get_revisions("heads")),
    )

    def run(connection: Connection) -> None:
        if not empty:  # an empty revision compares nothing
            _build_schema(scratch, connection)
        config = migrations.config(options, connection)
        if empty:  # no autogenerate: env.py must still run, for the split_by_app hook
            config.set_main_option("revision_environment", "true")
        written = command.revision(config, autogenerate=not empty, head="heads")
        for item in written if isinstance(written, list) else [written]:
            if item is not None:
                label = migrations.app_of(item)
                for revision in planned:
                    if revision.label == label:
                        revision.path = Path(item.path)

    if write:
        for app in chosen:
            app.directory.mkdir(parents=True, exist_ok=True)
    with scratch_database(migrations.database_url) as scratch_url:
        scratch = Migrations(scratch_url, list(migrations.apps.values()), migrations.metadata)
        options.url = scratch_url
        scratch.connect(run)
    return planned


def _by_owner(
    operations: Iterable[Any], owners: dict[str, str], migrations: Migrations
) -> dict[str, list[Any]]:
    """Autogenerate's operations, grouped by the app that owns each one's table."""
    dropped = {
        table: app.label for app in migrations.apps.values() for table in app.created_tables()
    }
    grouped: dict[str, list[Any]] = {}
    for operation in operations:
        table = str(getattr(operation, "table_name", ""))
        owner = owners.get(table) or dropped.get(table)
        if owner is not None:
            grouped.setdefault(owner, []).append(operation)
    return grouped


def merge_heads(migrations: Migrations, labels: Sequence[str] = ()) -> list[PlannedRevision]:
    """Write a merge revision for every app (or the given apps) whose branch has two heads.

    Returns:
        The merge revisions written (none when no app has two heads).
    """
    chosen = [migrations.app(label) for label in labels] or list(migrations.apps.values())
    script = migrations.script()
    merged: list[PlannedRevision] = []
    for app in chosen:
        heads = migrations.heads(app.label, script)
        if len(heads) < 2:
            continue
        written = command.merge(migrations.config(), heads, message=f"merge {app.label}")
        path = Path(written.path) if written is not None else None
        merged.append(PlannedRevision(app.label, f"merge {app.label}", [], [], path))
    return merged


def describe_operations(operations: Iterable[Any]) -> list[str]:
    """One line per Alembic operation: ``create table order``, ``add column order.note``."""
    lines: list[str] = []
    for operation in operations:
        if isinstance(operation, ops.ModifyTableOps):
            lines.extend(describe_operations(operation.ops))
        elif isinstance(operation, ops.CreateTableOp):
            lines.append(f"create table {operation.table_name}")
        elif isinstance(operation, ops.DropTableOp):
            lines.append(f"drop table {operation.table_name}")
        elif isinstance(operation, ops.AddColumnOp):
            lines.append(f"add column {operation.table_name}.{operation.column.name}")
        elif isinstance(operation, ops.DropColumnOp):
            lines.append(f"drop column {operation.table_name}.{operation.column_name}")
        elif isinstance(operation, ops.AlterColumnOp):
            lines.append(f"alter column {operation.table_name}.{operation.column_name}")
        elif isinstance(operation, ops.CreateIndexOp):
            lines.append(f"create index {operation.index_name} on {operation.table_name}")
        elif isinstance(operation, ops.DropIndexOp):
            lines.append(f"drop index {operation.index_name}")
        elif isinstance(operation, ops.AddConstraintOp | ops.DropConstraintOp):
            verb = "add" if isinstance(operation, ops.AddConstraintOp) else "drop"
            name = getattr(operation, "constraint_name", None) or "constraint"
            lines.append(f"{verb} constraint {name} on {getattr(operation, 'table_name', '?')}")
        else:
            lines.append(re.sub(r"Op$", "", type(operation).__name__))
    return lines


def _message_from(operations: list[str]) -> str:
    first = operations[0] if operations else "changes"
    words = first.replace("column ", "").replace("table ", "").replace(".", " ")
    return words if len(operations) == 1 else f"{words} and more"


def _all_tables(migrations: Migrations) -> set[str]:
    return {table for app in migrations.apps.values() for table in app.tables}


def _table_owners(migrations: Migrations) -> dict[str, str]:
    return {table: app.label for app in migrations.apps.values() for table in app.tables}


def _referenced_tables(table: Table) -> set[str]:
    return {fk.column.table.name for fk in table.foreign_keys}


def _dependency_order(
    migrations: Migrations, labels: list[str], owners: dict[str, str]
) -> list[str]:
    """``labels`` with each app after the apps its tables point to (INSTALLED_APPS order else)."""
    needs: dict[str, set[str]] = {label: set() for label in labels}
    for label in labels:
        for table_name in migrations.app(label).tables:
            table = migrations.metadata.tables.get(table_name)
            if table is None:
                continue
            for target in _referenced_tables(table):
                owner = owners.get(target)
                if owner in needs and owner != label:
                    needs[label].add(owner)
    ordered: list[str] = []
    visiting: set[str] = set()

    def place(label: str) -> None:
        if label in ordered or label in visiting:
            return  # a cycle between apps: keep INSTALLED_APPS order for the rest
        visiting.add(label)
        for other in sorted(needs[label], key=labels.index):
            place(other)
        visiting.discard(label)
        ordered.append(label)

    for label in labels:
        place(label)
    return ordered


def _cross_app_dependencies(
    migrations: Migrations,
    script: ScriptDirectory,
    operations: Iterable[Any],
    label: str,
    owners: dict[str, str],
    new_heads: dict[str, str],
) -> list[str]:
    """Heads of the other apps whose tables the new operations point to.

    ``new_heads`` holds the revisions made earlier in this run: those apps' next heads.
    """
    targets: set[str] = set()
    for operation in _flatten(operations):
        if isinstance(operation, ops.CreateTableOp):
            table = migrations.metadata.tables.get(operation.table_name)
            if table is not None:
                targets |= _referenced_tables(table)
        elif isinstance(operation, ops.AddColumnOp):
            targets |= {fk.column.table.name for fk in operation.column.foreign_keys}
        elif isinstance(operation, ops.CreateForeignKeyOp):
            targets.add(operation.referent_table)
    depends_on: list[str] = []
    for owner in sorted({owners[t] for t in targets if t in owners} - {label}):
        head = new_heads.get(owner) or migrations.head(owner, script)
        if head is None:
            raise MigrationError(
                f"App {label!r} has a foreign key to a table of app {owner!r}, which has no "
                f"migrations yet: run `manage.py makemigrations {owner} {label}`."
            )
        depends_on.append(head)
    return depends_on


def _flatten(operations: Iterable[Any]) -> Iterable[Any]:
    for operation in operations:
        if isinstance(operation, ops.ModifyTableOps):
            yield from _flatten(operation.ops)
        else:
            yield operation


def _build_schema(scratch: Migrations, connection: Connection) -> None:
    """Apply every app's revisions to the scratch database, as ``migrate`` would.

    Raises:
        MigrationError: A revision fails on the empty database; the message names it.
    """
    plan = make_plan(scratch, connection)
    done: list[str] = []
    try:
        apply_plan(scratch, connection, plan, allow_destructive=True, progress=done.append)
    except MigrationError as error:
        failed = plan.steps[len(done)] if len(done) < len(plan.steps) else None
        where = f"{failed.label} {failed.revision} ({failed.path.name})" if failed else "?"
        cause = str(error.__cause__ or error).strip()
        reason = cause.splitlines()[0] if cause else type(error).__name__
        raise MigrationError(
            f"Migration {where} fails on a new database: {reason}. makemigrations applies "
            "every migration to a scratch database to compare the models with it; fix the "
            "revision and run makemigrations again."
        ) from error
