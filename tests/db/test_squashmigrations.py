"""squashmigrations as a user runs it: manage.py subprocesses on SQLite and PostgreSQL."""

from __future__ import annotations

import re
import subprocess
from collections.abc import Callable
from pathlib import Path

import pytest

from tests.db.test_migration_commands import (
    add_note_field,
    add_shipping_app,
    error_line,
    made_project,
    ok,
    project,
    revision_files,
)

__all__ = ["made_project", "project"]  # the fixtures, shared with the migration command tests

pytestmark = pytest.mark.e2e

Run = Callable[..., subprocess.CompletedProcess[str]]

DATA_STEP = """    op.execute("UPDATE \\"order\\" SET note = 'legacy' WHERE note IS NULL")\n"""


def revision_id(path: Path) -> str:
    found = re.search(r"^revision(?:: str)? = ['\"](\w+)['\"]", path.read_text(), re.MULTILINE)
    assert found is not None, path
    return found[1]


def test_squashing_an_app(project: Run) -> None:
    run = project
    root: Path = run.root  # type: ignore[attr-defined]
    assert "has 0 revision(s); there is nothing to squash" in error_line(
        run("squashmigrations", "orders", "--noinput")
    )
    assert "No installed app with label 'ordrs'" in error_line(
        run("squashmigrations", "ordrs", "--noinput")
    )

    # orders: initial, note, a hand-written data step; shipping depends on "note"
    ok(run("makemigrations"))
    ok(run("migrate"))
    add_note_field(root)
    add_shipping_app(run)
    ok(run("makemigrations"))
    ok(run("migrate"))
    ok(run("makemigrations", "orders", "--empty", "-m", "data step"))
    [data] = [path for path in revision_files(root, "orders") if "data_step" in path.name]
    data.write_text(data.read_text().replace("    pass\n", DATA_STEP, 1))  # upgrade() comes first
    ok(run("migrate"))
    old = revision_files(root, "orders")
    [note] = [revision_id(path) for path in old if "note" in path.name]
    head = revision_id(data)
    [shipping] = revision_files(root, "shipping")
    assert f"'{note}'" in shipping.read_text()

    refused = run("squashmigrations", "orders", input="n\n")
    assert "Squash 3 revisions of 'orders' into " + head in refused.stdout
    assert "will depend on " + head in refused.stdout
    assert "runs its own statements" in refused.stderr
    assert refused.returncode == 1 and "Squash cancelled" in refused.stderr
    assert revision_files(root, "orders") == old

    squashed = ok(run("squashmigrations", "orders", "--noinput", "-m", "orders base"))
    [new] = revision_files(root, "orders")
    assert new.name.endswith(f"-{head}_orders_base.py") and "Wrote" in squashed
    assert revision_id(new) == head  # same id: a database at the old head needs nothing
    source = new.read_text()
    assert "create_table('order'" in source and "sa.Column('note'" in source
    assert "down_revision: str | Sequence[str] | None = None" in source
    backup = root / "orders" / "migrations" / f"_squashed_{head}"
    assert sorted(path.name for path in backup.glob("*.py")) == [path.name for path in old]
    assert f"depends_on: str | Sequence[str] | None = '{head}'" in shipping.read_text()

    listing = ok(run("showmigrations", "orders", "shipping"))
    assert listing.count("[X]") == 2 and "[ ]" not in listing
    assert "No changes detected" in ok(run("makemigrations", "--check"))

    # a new database gets the schema from the squashed revision (and gives it back)
    ok(run("migrate", "orders", "zero", "--noinput"))
    assert ok(run("showmigrations", "orders", "shipping")).count("[ ]") == 2
    ok(run("migrate"))
    assert "No changes detected" in ok(run("makemigrations", "--check"))

    # a database part-way through the old revisions is told where they are
    stamp_old = (
        "from sqlalchemy import text\n"
        "async with database.engine.begin() as c:\n"
        f"    await c.execute(text(\"UPDATE alembic_version SET version_num = '{note}'"
        f" WHERE version_num = '{revision_id(shipping)}'\"))"
    )
    ok(run("shell", "-c", stamp_old))
    behind = error_line(run("migrate"))
    assert f"was squashed into {head}" in behind and f"_squashed_{head}" in behind


def test_squash_refuses_a_database_behind_or_models_ahead(made_project: Run) -> None:
    run = made_project
    root: Path = run.root  # type: ignore[attr-defined]
    ok(run("makemigrations", "orders", "--empty", "-m", "second"))
    behind = error_line(run("squashmigrations", "orders", "--noinput"))
    assert "The database has 2 unapplied migration(s) (orders " in behind
    assert "run `manage.py migrate orders` first" in behind
    ok(run("migrate"))
    add_note_field(root)
    before = revision_files(root, "orders")
    refused = error_line(run("squashmigrations", "orders", "--noinput"))
    assert "have changes that no migration holds" in refused
    assert "makemigrations orders" in refused
    assert revision_files(root, "orders") == before
