"""Applying and unapplying revisions (``migrate``), with a plan shown before it runs."""

from __future__ import annotations

import time
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Literal

from alembic import command
from alembic.script import Script, ScriptDirectory
from sqlalchemy.engine import Connection

from tempest.db.internals import all_down_revisions, upgrade_steps
from tempest.db.migrations.destructive import destructive_operations
from tempest.db.migrations.environment import EnvironmentOptions
from tempest.db.migrations.errors import DestructiveMigrationError, MigrationError
from tempest.db.migrations.project import Migrations, multiple_heads_message

__all__ = ["MigrationPlan", "PlanStep", "apply_plan", "make_plan"]


@dataclass(frozen=True)
class PlanStep:
    """One revision to apply or unapply.

    Attributes:
        label: The app that owns it.
        revision: The revision id.
        message: Its message (the docstring's first line).
        path: Its file.
    """

    label: str
    revision: str
    message: str
    path: Path

    def __str__(self) -> str:
        return f"{self.label} {self.revision} {self.message}"


@dataclass
class MigrationPlan:
    """What ``migrate`` will do.

    Attributes:
        direction: ``upgrade`` or ``downgrade``.
        target: The Alembic target (``heads``, ``orders@head``, a revision id, ...).
        steps: Revisions in the order they run.
        label: The app the user named, if any.
    """

    direction: Literal["upgrade", "downgrade"]
    target: str
    steps: list[PlanStep]
    label: str | None = None

    def other_apps(self) -> list[PlanStep]:
        """Steps of apps other than the one named (what a downgrade drags along)."""
        return [step for step in self.steps if self.label and step.label != self.label]

    def destructive(self) -> list[str]:
        """The data-losing operations of the plan, each prefixed with its revision."""
        function = "upgrade" if self.direction == "upgrade" else "downgrade"
        return [
            f"{step.label} {step.revision}: {operation}"
            for step in self.steps
            for operation in destructive_operations(step.path, function)
        ]


def make_plan(
    migrations: Migrations,
    connection: Connection,
    label: str | None = None,
    target: str | None = None,
) -> MigrationPlan:
    """Work out what ``migrate [label] [target]`` does on this database.

    Args:
        migrations: The project's migrations.
        connection: The database.
        label: Only this app (and what it depends on, or what depends on it).
        target: A revision id (or prefix) of the app, or ``zero``.

    Raises:
        MigrationError: Unknown app or revision, two heads in an app, or a database at a
            revision no app has.
    """
    script = migrations.script()
    for app in migrations.apps.values():
        heads = migrations.heads(app.label, script)
        if len(heads) > 1:
            raise MigrationError(multiple_heads_message(app.label, heads))
    applied = migrations.applied(migrations.current_heads(connection), script)

    def steps(revisions: list[Script]) -> list[PlanStep]:
        return [_step(migrations, revision) for revision in revisions]

    if label is None:
        return MigrationPlan("upgrade", "heads", steps(migrations.pending(applied, script)))
    mine = migrations.revisions(label, script)
    if target is None:
        if not mine:
            return MigrationPlan("upgrade", "heads", [], label)
        return _upgrade_to(migrations, applied, script, mine[-1], label, f"{label}@head")
    if target == "zero":
        plan = migrations.unapply_plan(applied, [r.revision for r in mine], script)
        return MigrationPlan("downgrade", f"{label}@base", steps(plan), label)
    chosen = migrations.resolve(label, target, script)
    if chosen.revision in applied:
        later = [r.revision for r in mine if r.revision in applied]
        after = later[later.index(chosen.revision) + 1 :] if chosen.revision in later else []
        plan = migrations.unapply_plan(applied, after, script)
        return MigrationPlan("downgrade", chosen.revision, steps(plan), label)
    return _upgrade_to(migrations, applied, script, chosen, label, chosen.revision)


def _upgrade_to(
    migrations: Migrations,
    applied: set[str],
    script: ScriptDirectory,
    revision: Script,
    label: str,
    target: str,
) -> MigrationPlan:
    needed: dict[str, Script] = {}
    pending = [revision]
    while pending:
        current = pending.pop()
        if current.revision in applied or current.revision in needed:
            continue
        needed[current.revision] = current
        pending.extend(script.get_revision(parent) for parent in all_down_revisions(current))
    ordered = [r for r in migrations.pending(applied, script) if r.revision in needed]
    return MigrationPlan("upgrade", target, [_step(migrations, r) for r in ordered], label)


def _step(migrations: Migrations, revision: Script) -> PlanStep:
    return PlanStep(
        label=migrations.app_of(revision),
        revision=revision.revision,
        message=(revision.doc or "").strip().splitlines()[0] if revision.doc else "",
        path=Path(revision.path),
    )


def apply_plan(
    migrations: Migrations,
    connection: Connection,
    plan: MigrationPlan,
    *,
    fake: bool = False,
    allow_destructive: bool = False,
    progress: Callable[[str], None] = lambda line: None,
) -> None:
    """Run a plan made by :func:`make_plan`, one transaction per revision.

    Args:
        migrations: The project's migrations.
        connection: The database (the same as for the plan).
        plan: What to run.
        fake: Only record the revisions as applied (or unapplied); run nothing.
        allow_destructive: Run upgrades that drop tables or columns or narrow types.
        progress: Called with one line per revision done.

    Raises:
        DestructiveMigrationError: The upgrade loses data and ``allow_destructive`` is off.
        MigrationError: A revision failed; the message names it. On PostgreSQL its
            changes are rolled back; the revisions before it stay applied.
    """
    if not plan.steps:
        return
    if plan.direction == "upgrade" and not allow_destructive and not fake:
        found = plan.destructive()
        if found:
            raise DestructiveMigrationError(found)
    by_revision = {step.revision: step for step in plan.steps}
    done: list[str] = []
    started = [time.perf_counter()]

    def on_version_apply(*, step: Any, **_: Any) -> None:
        item = by_revision.get(step.up_revision_id)
        elapsed = time.perf_counter() - started[0]
        verb = "Applied" if plan.direction == "upgrade" else "Unapplied"
        if item is not None:
            progress(f"  {verb} {item.label} {item.revision} {item.message} ({elapsed:.2f} s)")
            done.append(item.revision)
        started[0] = time.perf_counter()

    options = EnvironmentOptions(
        url=migrations.database_url,
        metadata=migrations.metadata,
        on_version_apply=on_version_apply,
    )
    config = migrations.config(options, connection)
    if connection.in_transaction():
        connection.commit()  # each revision gets its own transaction
    try:
        if fake:
            command.stamp(config, plan.target)
            for item in plan.steps:
                progress(f"  Faked {item}")
        elif plan.direction == "upgrade":
            _upgrade_in_plan_order(config, plan)
        else:
            command.downgrade(config, plan.target)
    except MigrationError:
        raise
    except Exception as error:
        failed = next((step for step in plan.steps if step.revision not in done), None)
        where = f"{failed.label} {failed.revision} ({failed.path.name})" if failed else "?"
        reason = str(error).strip().splitlines()[0] if str(error).strip() else type(error).__name__
        raise MigrationError(
            f"Migration {where} failed: {reason}. Revisions before it stay applied; "
            "fix the revision and run migrate again."
        ) from error


def _upgrade_in_plan_order(config: Any, plan: MigrationPlan) -> None:
    """``alembic upgrade`` to the plan's target, running the revisions in the plan's order.

    Alembic's own order between branches depends on set iteration, so two runs could apply
    independent apps in different orders; the plan's order (dependencies first, then by
    file date) is what ``migrate --plan`` showed.
    """
    from alembic.runtime.environment import EnvironmentContext

    script = ScriptDirectory.from_config(config)
    position = {step.revision: index for index, step in enumerate(plan.steps)}

    def upgrade(current: Any, context: Any) -> list[Any]:
        steps = upgrade_steps(script, plan.target, current)
        return sorted(steps, key=lambda step: position.get(step.revision.revision, len(position)))

    with EnvironmentContext(config, script, fn=upgrade, destination_rev=plan.target):
        script.run_env()
