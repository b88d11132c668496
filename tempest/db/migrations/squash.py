"""Collapsing one app's revisions into one (``squashmigrations``).

The squashed revision is generated from the models, as ``makemigrations`` would write a
first revision on an empty database, and it keeps the revision id of the app's old head.
A database that has the old head applied is therefore already at the squashed revision:
nothing needs stamping. The old files move to ``<app>/migrations/_squashed_<head>/``
(Alembic does not look into sub-folders); revisions of other apps that depended on one of
the old revisions now depend on the squashed one.
"""

from __future__ import annotations

import ast
import shutil
import tempfile
from collections.abc import Sequence
from dataclasses import dataclass, field
from pathlib import Path

from alembic import command
from alembic.script import Script
from sqlalchemy.engine import Connection

from tempest.db.migration_hooks import reorder_base_columns_first
from tempest.db.migrations.environment import EnvironmentOptions
from tempest.db.migrations.errors import MigrationError
from tempest.db.migrations.project import MigratedApp, Migrations, _parents, ancestors

__all__ = ["SquashPlan", "plan_squash", "squash"]

_DATA_CALLS = frozenset({"execute", "bulk_insert", "run_async", "inline_literal"})


@dataclass
class SquashPlan:
    """What squashing an app changes.

    Attributes:
        label: The app.
        head: The app's head: the squashed revision keeps this id.
        revisions: The app's revisions, oldest first; they are replaced.
        depends_on: Revisions of other apps the squashed revision needs first.
        rewired: Other apps' revision files whose dependencies move to :attr:`head`.
        data_steps: Revisions that run statements of their own (``op.execute``, ...),
            which a revision generated from the models does not repeat.
        path: The squashed revision file, once written.
        backup: Where the old revision files were moved, once written.
    """

    label: str
    head: str
    revisions: list[Script]
    depends_on: list[str]
    rewired: list[Path] = field(default_factory=list)
    data_steps: list[str] = field(default_factory=list)
    path: Path | None = None
    backup: Path | None = None


def plan_squash(migrations: Migrations, label: str) -> SquashPlan:
    """Check that an app can be squashed, and say what it changes.

    The database must have the app's migrations applied (afterwards it is at the squashed
    revision, which keeps the head's id) and the app's models must match its migrations
    (compared in a scratch database, as ``makemigrations`` does): the squashed revision is
    generated from the models, so this is what makes it equal to the revisions it replaces.

    Raises:
        MigrationError: Unknown app, fewer than two revisions, two heads, a database that is
            behind, models with unmigrated changes, or a dependency cycle with another app.
    """
    from tempest.db.migrations.autogen import make_revisions

    script = migrations.script()
    revisions = migrations.revisions(label, script)
    head = migrations.head(label, script)
    if head is None or len(revisions) < 2:
        raise MigrationError(
            f"App {label!r} has {len(revisions)} revision(s); there is nothing to squash."
        )
    migrations.connect(lambda connection: _require_applied(migrations, connection, label))
    if make_revisions(migrations, [label], write=False):
        raise MigrationError(
            f"The models of app {label!r} have changes that no migration holds; run "
            f"`manage.py makemigrations {label}` and `manage.py migrate` first."
        )
    mine = {revision.revision for revision in revisions}
    depends_on = sorted({parent for revision in revisions for parent in _parents(revision)} - mine)
    needed_first = ancestors(script, depends_on)
    rewired: list[Path] = []
    for other in script.walk_revisions():
        if other.revision in mine or not set(_parents(other)) & (mine - {head}):
            continue
        if other.revision in needed_first:
            raise MigrationError(
                f"Cannot squash app {label!r}: revision {other.revision} of app "
                f"{migrations.app_of(other)!r} depends on an old revision of {label!r}, and "
                f"later revisions of {label!r} depend on it. Squash up to that point by hand."
            )
        rewired.append(Path(other.path))
    data_steps = [
        f"{revision.revision} ({Path(revision.path).name})"
        for revision in revisions
        if _runs_statements(Path(revision.path))
    ]
    return SquashPlan(label, head, revisions, depends_on, sorted(rewired), data_steps)


def squash(migrations: Migrations, plan: SquashPlan, message: str | None = None) -> SquashPlan:
    """Write the squashed revision, move the old ones aside and rewire dependents.

    Nothing in the project changes until the new revision has been generated; if moving
    the files fails half way, the old ones are put back.

    Args:
        migrations: The project's migrations.
        plan: From :func:`plan_squash`.
        message: The new revision's message (default ``squashed <n> revisions``).

    Returns:
        The plan with :attr:`SquashPlan.path` and :attr:`SquashPlan.backup` filled in.
    """
    app = migrations.app(plan.label)
    message = message or f"squashed {len(plan.revisions)} revisions"
    with tempfile.TemporaryDirectory(prefix="tempest-squash-") as scratch:
        generated = _generate(migrations, app, plan, message, Path(scratch))
        backup = app.directory / f"_squashed_{plan.head}"
        if backup.exists():
            raise MigrationError(f"{backup} already exists; move it away and run again.")
        rewritten = {path: _rewire(path, plan) for path in plan.rewired}
        moved: list[tuple[Path, Path]] = []
        try:
            backup.mkdir()
            for revision in plan.revisions:
                source = Path(revision.path)
                moved.append((source, backup / source.name))
                source.rename(backup / source.name)
            target = app.directory / generated.name
            shutil.copyfile(generated, target)
        except OSError:
            for source, destination in reversed(moved):
                destination.rename(source)
            backup.rmdir()
            raise
    for dependent, new_source in rewritten.items():
        dependent.write_text(new_source, encoding="utf-8")
    script = migrations.script()
    migrations.connect(lambda connection: migrations.tidy_version_table(connection, script))
    plan.path, plan.backup = target, backup
    return plan


def _generate(
    migrations: Migrations, app: MigratedApp, plan: SquashPlan, message: str, scratch: Path
) -> Path:
    """Autogenerate the app's tables against an empty SQLite database, in ``scratch``."""
    versions = scratch / "versions"
    versions.mkdir()
    empty = Migrations(
        f"sqlite+aiosqlite:///{scratch / 'empty.sqlite3'}",
        [MigratedApp(app.label, versions, app.tables)],
        migrations.metadata,
    )
    options = EnvironmentOptions(
        url=empty.database_url,
        metadata=migrations.metadata,
        tables=app.tables,
        process_revision_directives=reorder_base_columns_first,
    )

    def run(connection: Connection) -> Path:
        written = command.revision(
            empty.config(options, connection),
            message=message,
            autogenerate=True,
            head="base",
            branch_label=app.label,
            version_path=str(versions),
            rev_id=plan.head,
        )
        assert isinstance(written, Script)
        return Path(written.path)

    path = empty.connect(run)
    source = _set_assignment(path.read_text(encoding="utf-8"), "depends_on", plan.depends_on)
    path.write_text(source, encoding="utf-8")
    return path


def _require_applied(migrations: Migrations, connection: Connection, label: str) -> None:
    """The app's revisions must all be applied to the project database.

    A database part-way through the old revisions cannot use the squashed one; the
    developer's own database must not end up there.
    """
    script = migrations.script()
    migrations.tidy_version_table(connection, script)
    applied = migrations.applied(migrations.current_heads(connection), script)
    pending = [r for r in migrations.pending(applied, script) if migrations.app_of(r) == label]
    if pending:
        names = ", ".join(f"{label} {revision.revision}" for revision in pending[:5])
        raise MigrationError(
            f"The database has {len(pending)} unapplied migration(s) ({names}); run "
            f"`manage.py migrate {label}` first: a database part-way through the old "
            "revisions cannot use the squashed one."
        )


def _rewire(path: Path, plan: SquashPlan) -> str:
    """``path``'s source with every reference to a replaced revision pointing at the head."""
    source = path.read_text(encoding="utf-8")
    replaced = {revision.revision for revision in plan.revisions}
    for name in ("down_revision", "depends_on"):
        current = _assigned_ids(source, name)
        if set(current) & replaced:
            renamed = [plan.head if item in replaced else item for item in current]
            source = _set_assignment(source, name, list(dict.fromkeys(renamed)))
    return source


def _assignment(tree: ast.Module, name: str) -> ast.expr | None:
    for node in tree.body:
        if isinstance(node, ast.Assign) and any(
            isinstance(target, ast.Name) and target.id == name for target in node.targets
        ):
            return node.value
        if (
            isinstance(node, ast.AnnAssign)
            and isinstance(node.target, ast.Name)
            and node.target.id == name
        ):
            return node.value
    return None


def _assigned_ids(source: str, name: str) -> list[str]:
    value = _assignment(ast.parse(source), name)
    if value is None:
        return []
    literal = ast.literal_eval(value)
    if literal is None:
        return []
    return [literal] if isinstance(literal, str) else list(literal)


def _set_assignment(source: str, name: str, ids: Sequence[str]) -> str:
    """Replace the value assigned to ``name`` at module level with ``ids``."""
    value = _assignment(ast.parse(source), name)
    if value is None or value.end_lineno is None or value.end_col_offset is None:
        raise MigrationError(f"A revision file has no {name} assignment to update.")
    new = repr(None if not ids else ids[0] if len(ids) == 1 else tuple(ids))
    lines = source.splitlines(keepends=True)
    start = sum(len(line) for line in lines[: value.lineno - 1]) + _char_offset(
        lines[value.lineno - 1], value.col_offset
    )
    end = sum(len(line) for line in lines[: value.end_lineno - 1]) + _char_offset(
        lines[value.end_lineno - 1], value.end_col_offset
    )
    return source[:start] + new + source[end:]


def _char_offset(line: str, byte_offset: int) -> int:
    """Python's ast counts offsets in UTF-8 bytes; string slicing counts characters."""
    return len(line.encode("utf-8")[:byte_offset].decode("utf-8"))


def _runs_statements(path: Path) -> bool:
    """Whether a revision's ``upgrade()`` calls ``op.execute`` or a similar data step."""
    tree = ast.parse(path.read_text(encoding="utf-8"))
    for node in tree.body:
        if isinstance(node, ast.FunctionDef) and node.name == "upgrade":
            return any(
                isinstance(call, ast.Call)
                and isinstance(call.func, ast.Attribute)
                and call.func.attr in _DATA_CALLS
                for call in ast.walk(node)
            )
    return False
