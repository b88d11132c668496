"""makemigrations, migrate, showmigrations and sqlmigrate as a user runs them: manage.py
subprocesses on a generated project, on SQLite and on PostgreSQL."""

from __future__ import annotations

import asyncio
import json
import os
import re
import subprocess
from collections.abc import Callable, Iterator
from pathlib import Path

import pytest

from tests.conftest import service_url
from tests.db.conftest import copy_project
from tests.helpers import PYTHON, clean_env
from tests.warm import warm_run

pytestmark = pytest.mark.e2e

NOTE_FIELD = "    note: Mapped[str | None] = mapped_column(String(200), default=None)\n"
SHIPPING_FK = '    order_id: Mapped[uuid.UUID] = mapped_column(ForeignKey("order.id"))\n'


SCENARIO_SEEDS = """
from orders.models import OrderModel
from shipping.models import ShippingModel


async def orders_and_shipping(session):
    coffee = OrderModel(name="Coffee", note="Ring twice ☕")
    session.add_all([coffee, OrderModel(name="Tea")])
    await session.flush()
    session.add(ShippingModel(name="Parcel", order_id=coffee.id))
"""

UNKNOWN_VERSION = (
    "from sqlalchemy import text\n"
    "async with database.engine.begin() as c:\n"
    "    await c.execute(text(\"INSERT INTO alembic_version VALUES ('feedfacecafe')\"))"
)


async def _recreate_database(server_url: str, name: str, *, create: bool = True) -> str:
    import asyncpg

    dsn = server_url.replace("postgresql+asyncpg://", "postgresql://")
    connection = await asyncpg.connect(dsn)
    try:
        await connection.execute(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')
        if create:
            await connection.execute(f'CREATE DATABASE "{name}"')
    finally:
        await connection.close()
    return server_url.rsplit("/", 1)[0] + f"/{name}"


async def _scratch_databases(server_url: str, name: str) -> list[str]:
    import asyncpg

    dsn = server_url.replace("postgresql+asyncpg://", "postgresql://")
    connection = await asyncpg.connect(dsn)
    try:
        rows = await connection.fetch(
            "SELECT datname FROM pg_database WHERE starts_with(datname, $1)", f"{name}_mm_"
        )
    finally:
        await connection.close()
    return [row["datname"] for row in rows]


Run = Callable[..., subprocess.CompletedProcess[str]]


def _manage_py(request: pytest.FixtureRequest, root: Path, tmp_path: Path) -> Iterator[Run]:
    """``run(*args)`` = manage.py in ``root``, on SQLite or on a new PostgreSQL database.

    ``run.root`` is the project, ``run.database`` the PostgreSQL database's name (None on
    SQLite), ``run.server`` the URL of its server; the subprocesses' temporary files go to
    ``run.tmp``, which starts empty.
    """
    env: dict[str, str] = {}
    server_url = None
    name = f"tempest_migrations_test_{os.getpid()}"  # runs in parallel do not share it
    if request.param == "postgresql":
        server_url = service_url("TEMPEST_TEST_DATABASE_URL")
        env["DATABASE_URL"] = asyncio.run(_recreate_database(server_url, name))
    scratch = tmp_path / "tmp"
    scratch.mkdir()
    env["TMPDIR"] = str(scratch)

    def run(*args: str, input: str | None = None) -> subprocess.CompletedProcess[str]:
        return warm_run([PYTHON, "manage.py", *args], root, 60, clean_env(**env), input)

    run.root = root  # type: ignore[attr-defined]
    run.database = name if server_url else None  # type: ignore[attr-defined]
    run.server = server_url  # type: ignore[attr-defined]
    run.tmp = scratch  # type: ignore[attr-defined]
    yield run
    left: list[str] = []
    try:
        if server_url is not None:
            left = asyncio.run(_scratch_databases(server_url, name))
        # whatever the test did, makemigrations left no scratch database behind
        assert list(scratch.iterdir()) == []
        assert left == []
    finally:  # dropped also when an assertion above fails
        if server_url is not None:
            for database in [*left, name]:
                asyncio.run(_recreate_database(server_url, database, create=False))


@pytest.fixture(params=["sqlite", "postgresql"])
def project(
    request: pytest.FixtureRequest, orders_project_template: Path, tmp_path: Path
) -> Iterator[Run]:
    """A new project shop + orders (a copy); yields ``run(*args)`` = manage.py on its database."""
    yield from _manage_py(request, copy_project(orders_project_template, tmp_path), tmp_path)


@pytest.fixture(params=["sqlite", "postgresql"])
def made_project(
    request: pytest.FixtureRequest, made_project_template: Path, tmp_path: Path
) -> Iterator[Run]:
    """Like ``project``, after ``makemigrations``: orders' initial revision, not applied."""
    yield from _manage_py(request, copy_project(made_project_template, tmp_path), tmp_path)


@pytest.fixture(params=["sqlite", "postgresql"])
def bare_project(
    request: pytest.FixtureRequest, bare_project_template: Path, tmp_path: Path
) -> Iterator[Run]:
    """Like ``project``, without any app of the project's own."""
    yield from _manage_py(request, copy_project(bare_project_template, tmp_path), tmp_path)


def ok(result: subprocess.CompletedProcess[str]) -> str:
    assert result.returncode == 0, result.stdout + result.stderr
    return result.stdout


def error_line(result: subprocess.CompletedProcess[str]) -> str:
    assert result.returncode != 0, result.stdout
    lines = [line for line in result.stderr.splitlines() if line.strip()]
    assert len(lines) == 1, result.stderr  # one line, no traceback
    return lines[0]


def revision_files(root: Path, app: str) -> list[Path]:
    return sorted((root / app / "migrations").glob("*.py"))


def add_note_field(root: Path) -> None:
    models = root / "orders" / "models.py"
    models.write_text(models.read_text() + NOTE_FIELD)


def add_shipping_app(run: Callable[..., subprocess.CompletedProcess[str]]) -> None:
    root: Path = run.root  # type: ignore[attr-defined]
    ok(run("startapp", "shipping"))
    models = root / "shipping" / "models.py"
    source = models.read_text().replace(
        "from sqlalchemy import String\n",
        "import uuid\n\nfrom sqlalchemy import ForeignKey, String\n",
    )
    models.write_text(source + SHIPPING_FK)


def test_the_migration_workflow(project: Callable[..., subprocess.CompletedProcess[str]]) -> None:
    run = project
    root: Path = run.root  # type: ignore[attr-defined]

    made = ok(run("makemigrations"))
    assert "Migrations for 'orders':" in made and "create table order" in made
    [initial] = revision_files(root, "orders")
    assert re.fullmatch(r"\d{4}_\d\d_\d\d_\d{4}-[0-9a-f]{12}_initial\.py", initial.name)
    assert "Applied orders" in ok(run("migrate"))
    assert "No changes detected" in ok(run("makemigrations"))
    assert revision_files(root, "orders") == [initial]

    add_note_field(root)
    add_shipping_app(run)
    drift = run("makemigrations", "--check")
    assert drift.returncode == 1 and "add column order.note" in drift.stdout
    assert len(revision_files(root, "orders")) == 1  # --check writes nothing
    made = ok(run("makemigrations"))
    assert made.index("'orders'") < made.index("'shipping'")
    [shipping] = revision_files(root, "shipping")
    [note] = [path for path in revision_files(root, "orders") if "note" in path.name]
    orders_head = note.name.split("-")[1].split("_")[0]
    assert f"depends_on: str | Sequence[str] | None = '{orders_head}'" in shipping.read_text()

    plan = ok(run("migrate", "--plan"))
    assert plan.count("Apply ") == 2 and "Applied" not in plan
    applied = ok(run("migrate")).splitlines()  # one line per revision, as it is applied
    assert applied[0] == "Running migrations:" and len(applied) == 3
    assert re.fullmatch(
        rf"  Applied orders {orders_head} add order note \(\d+\.\d\d s\)", applied[1]
    )
    assert applied[2].startswith("  Applied shipping ")
    listing = ok(run("showmigrations", "orders", "shipping"))
    assert listing.count("[X]") == 3 and "[ ]" not in listing
    assert "shipping" in listing

    refused = run("migrate", "orders", "zero", input="n\n")
    assert "Unapply shipping" in refused.stdout  # the dependent app's revision is listed
    assert error_line(refused) == "Error: Migration cancelled; nothing was changed."
    assert ok(run("showmigrations", "orders", "shipping")).count("[X]") == 3

    unapplied = ok(run("migrate", "orders", "zero", "--noinput"))
    assert unapplied.count("  Unapplied ") == 3
    assert ok(run("showmigrations", "orders", "shipping")).count("[ ]") == 3
    quiet = run("migrate", "-v", "0")
    assert ok(quiet) == "" and quiet.stderr == ""  # -v 0: nothing but errors
    assert ok(run("showmigrations", "orders", "shipping")).count("[X]") == 3

    sql = ok(run("sqlmigrate", "shipping", shipping.name.split("-")[1][:6]))
    assert "CREATE TABLE shipping" in sql and "REFERENCES" in sql

    # The data survives a dump, a flush and a load: an order and a shipping row referring to it.
    (root / "shop" / "scenario_seeds.py").write_text(SCENARIO_SEEDS)
    seeded = run("seed", "--seed", "shop.scenario_seeds:orders_and_shipping", "-v", "0")
    assert ok(seeded) == "" and seeded.stderr == ""
    assert ok(run("dumpdata", "orders", "shipping", "-o", "dump.json")).splitlines() == [
        "Dumped 2 object(s) of orders.OrderModel.",
        "Dumped 1 object(s) of shipping.ShippingModel.",
        "Wrote 3 object(s) to dump.json.",
    ]
    dump = (root / "dump.json").read_text(encoding="utf-8")
    rows = {row["fields"]["name"]: row for row in json.loads(dump)}
    assert rows["Coffee"]["fields"]["note"] == "Ring twice ☕"
    assert rows["Parcel"]["fields"]["order_id"] == rows["Coffee"]["pk"]
    flushed = ok(run("flush", "--noinput"))
    assert flushed.startswith("Flushed 7 table(s): ")  # with auth's tables
    assert "order, " in flushed and " shipping." in flushed
    assert ok(run("dumpdata")) == "[]\n"
    loaded = run("loaddata", "dump.json", "-v", "0")
    assert ok(loaded) == "" and loaded.stderr == ""
    assert ok(run("dumpdata", "orders", "shipping")) == dump  # the same rows, byte for byte
    assert "No changes detected" in ok(run("makemigrations", "--check"))


def test_bad_input(project: Callable[..., subprocess.CompletedProcess[str]]) -> None:
    run = project
    root: Path = run.root  # type: ignore[attr-defined]
    assert "tempest.W022" in ok(run("check"))

    assert error_line(run("makemigrations", "ordrs")) == (
        "Error: No installed app with label 'ordrs'; installed: auth, admin, orders."
    )
    assert error_line(run("sqlmigrate", "ordrs", "0123")) == (
        "Error: No installed app with label 'ordrs'; installed: auth, admin, orders."
    )
    assert error_line(run("makemigrations", "--empty")) == (
        "Error: makemigrations --empty needs the label of the app to add the revision to, "
        "e.g. `manage.py makemigrations orders --empty`."
    )
    assert revision_files(root, "orders") == []
    ok(run("startapp", "empty", "--empty"))
    assert "has no models and no migrations" in error_line(run("makemigrations", "empty"))

    ok(run("makemigrations"))
    [initial] = revision_files(root, "orders")
    initial_id = initial.name.split("-")[1].split("_")[0]
    assert error_line(run("sqlmigrate", "orders", "deadbeef")) == (
        f"Error: 'deadbeef' is not a revision of app 'orders'; its revisions: {initial_id}."
    )
    assert "tempest.W023" in ok(run("check"))  # made, not applied
    add_note_field(root)  # the new revision needs no migrate of the first one
    assert "add column order.note" in ok(run("makemigrations"))
    ok(run("migrate"))
    assert "W023" not in ok(run("check"))

    unknown = error_line(run("migrate", "orders", "deadbeef"))
    assert "'deadbeef' is not a revision of app 'orders'" in unknown

    # two heads: a second revision on the same parent
    assert "No changes detected" in ok(run("makemigrations"))
    [first] = [path for path in revision_files(root, "orders") if "initial" in path.name]
    parent = re.search(r"revision: str = '(\w+)'", first.read_text())
    assert parent is not None
    fork = root / "orders" / "migrations" / "2099_01_01_0000-f0f0f0f0f0f0_fork.py"
    fork.write_text(
        f'"""fork"""\n\nrevision = "f0f0f0f0f0f0"\ndown_revision = "{parent[1]}"\n'
        "branch_labels = None\ndepends_on = None\n\n\n"
        "def upgrade() -> None:\n    pass\n\n\ndef downgrade() -> None:\n    pass\n"
    )
    two_heads = error_line(run("migrate"))
    assert "2 migration heads" in two_heads and "f0f0f0f0f0f0" in two_heads
    assert "makemigrations --merge orders" in two_heads
    checked = run("check")
    assert checked.returncode == 1 and "tempest.E021" in checked.stdout + checked.stderr
    assert "Merged the heads of 'orders'" in ok(run("makemigrations", "--merge", "orders"))
    ok(run("migrate"))
    assert "[ ]" not in ok(run("showmigrations", "orders"))

    broken = root / "orders" / "migrations" / "2099_01_02_0000-abcabcabcabc_broken.py"
    broken.write_text("revision = 'abcabcabcabc'\ndef upgrade(:\n")
    assert "2099_01_02_0000-abcabcabcabc_broken.py" in error_line(run("migrate"))
    broken.unlink()

    # the version table names a revision that no app has (a deleted file, a removed app)
    ok(run("shell", "-c", UNKNOWN_VERSION))
    unknown_version = (
        "Error: The database is at revision 'feedfacecafe', which no installed app has; "
        "restore the revision file, or reinstall the app that owns it."
    )
    assert error_line(run("migrate")) == unknown_version
    assert error_line(run("showmigrations")) == unknown_version
    checked = run("check")
    assert checked.returncode == 1 and "tempest.E024" in checked.stdout + checked.stderr


def test_destructive_revisions_need_consent(
    project: Callable[..., subprocess.CompletedProcess[str]],
) -> None:
    run = project
    root: Path = run.root  # type: ignore[attr-defined]
    add_note_field(root)
    ok(run("makemigrations"))
    ok(run("migrate"))
    models = root / "orders" / "models.py"
    models.write_text(models.read_text().replace(NOTE_FIELD, ""))
    assert "drop column order.note" in ok(run("makemigrations"))

    refused = error_line(run("migrate"))
    assert "Refusing to run destructive migrations" in refused
    assert "drop column order.note" in refused and "--allow-destructive" in refused
    assert ok(run("showmigrations")).count("[ ]") == 1
    ok(run("migrate", "--allow-destructive"))
    assert "[ ]" not in ok(run("showmigrations"))

    ok(run("makemigrations", "orders", "--empty", "-m", "data fix"))
    [data_fix] = [path for path in revision_files(root, "orders") if "data_fix" in path.name]
    assert '"""data fix' in data_fix.read_text() and "op." not in data_fix.read_text()
    ok(run("migrate"))

    # fake: recorded without running
    ok(run("migrate", "orders", "zero", "--noinput", "--fake"))
    assert "[X]" not in ok(run("showmigrations", "orders"))
    ok(run("migrate", "--fake"))
    assert "No changes detected" in ok(run("makemigrations", "--check"))


@pytest.mark.parametrize("made_project", ["postgresql"], indirect=True)  # SQLite: DDL commits
def test_a_failing_migration_leaves_the_schema_unchanged_on_postgresql(made_project: Run) -> None:
    run = made_project
    root: Path = run.root  # type: ignore[attr-defined]
    ok(run("migrate"))
    [initial] = revision_files(root, "orders")
    parent = re.search(r"revision: str = '(\w+)'", initial.read_text())
    assert parent is not None
    half_way = root / "orders" / "migrations" / "2099_01_01_0000-aaaabbbbcccc_half_way.py"
    half_way.write_text(
        f'"""half way"""\n\nimport sqlalchemy as sa\nfrom alembic import op\n\n'
        f'revision = "aaaabbbbcccc"\ndown_revision = "{parent[1]}"\n'
        "branch_labels = None\ndepends_on = None\n\n\n"
        "def upgrade() -> None:\n"
        "    op.add_column('order', sa.Column('extra', sa.Integer()))\n"
        "    op.execute('SELECT * FROM no_such_table')\n\n\n"
        "def downgrade() -> None:\n    pass\n"
    )
    failed = error_line(run("migrate"))
    assert half_way.name in failed and "no_such_table" in failed
    made = error_line(run("makemigrations"))  # its scratch database meets the same revision
    assert made.startswith(f"Error: Migration orders aaaabbbbcccc ({half_way.name}) fails on a ")
    assert "no_such_table" in made and "fix the revision and run makemigrations again" in made
    columns = ok(run("shell", "-c", _COLUMNS))
    assert "extra" not in columns and "name" in columns
    assert ok(run("showmigrations")).count("[ ]") == 1


_COLUMNS = (
    "from sqlalchemy import inspect\n"
    "async with database.engine.connect() as c:\n"
    "    print(await c.run_sync(lambda s: [x['name'] for x in inspect(s).get_columns('order')]))"
)


PRODUCT_MODEL = '''

class ProductModel(BaseModel):
    """A product of the catalog."""

    title: Mapped[str] = mapped_column(String(100))
'''

ORDER_MODEL = '''

class OrderModel(BaseModel):
    """An order of one product."""

    product_id: Mapped[uuid.UUID] = mapped_column(ForeignKey("product.id"))
'''


def test_makemigrations_twice_before_any_migrate(bare_project: Run) -> None:
    """catalog, then sales with a foreign key to catalog, then migrate: as in Django."""
    run = bare_project
    root: Path = run.root  # type: ignore[attr-defined]
    server: str | None = run.server  # type: ignore[attr-defined]
    database: str | None = run.database  # type: ignore[attr-defined]
    if server and database:
        # makemigrations never opens the project database: it need not even exist
        asyncio.run(_recreate_database(server, database, create=False))
    ok(run("startapp", "catalog"))
    with (root / "catalog" / "models.py").open("a") as models:
        models.write(PRODUCT_MODEL)

    made = ok(run("makemigrations", "catalog"))
    assert "Migrations for 'catalog':" in made and "create table product" in made
    [catalog] = revision_files(root, "catalog")
    catalog_id = catalog.name.split("-")[1].split("_")[0]

    ok(run("startapp", "sales"))
    sales_models = root / "sales" / "models.py"
    source = sales_models.read_text().replace(
        "from sqlalchemy import String\n",
        "import uuid\n\nfrom sqlalchemy import ForeignKey, String\n",
    )
    sales_models.write_text(source + ORDER_MODEL)
    made = ok(run("makemigrations", "-v", "2"))
    assert "'catalog'" not in made and "Migrations for 'sales':" in made
    assert f"depends on {catalog_id}" in made
    assert revision_files(root, "catalog") == [catalog]  # nothing regenerated
    [sales] = revision_files(root, "sales")
    created = re.findall(r"create_table\('(\w+)'", sales.read_text())
    assert sorted(created) == ["order", "sale"]  # sales' tables only
    assert f"depends_on: str | Sequence[str] | None = '{catalog_id}'" in sales.read_text()
    assert ok(run("makemigrations")) == "No changes detected.\n"

    # no scratch database is left (the fixture checks that too); the project's was never made
    assert list(run.tmp.iterdir()) == []  # type: ignore[attr-defined]
    if server and database:
        assert asyncio.run(_scratch_databases(server, database)) == []
        asyncio.run(_recreate_database(server, database))
    else:
        assert not (root / "db.sqlite3").exists()

    applied = ok(run("migrate"))  # both, catalog's first
    assert applied.index(f"Applied catalog {catalog_id} initial") < applied.index("Applied sales ")
    listing = ok(run("showmigrations", "catalog", "sales"))
    assert listing.count("[X]") == 2 and "[ ]" not in listing


async def _role(server_url: str, role: str, *, create: bool = True) -> None:
    import asyncpg

    dsn = server_url.replace("postgresql+asyncpg://", "postgresql://")
    connection = await asyncpg.connect(dsn)
    try:
        await connection.execute(f'DROP ROLE IF EXISTS "{role}"')
        if create:
            await connection.execute(f'CREATE ROLE "{role}" LOGIN NOCREATEDB')
    finally:
        await connection.close()


@pytest.mark.parametrize("project", ["postgresql"], indirect=True)
def test_makemigrations_without_a_scratch_database(project: Run) -> None:
    """No server to make the scratch database on, or a user who may not: one clear line."""
    from sqlalchemy.engine import make_url

    from tests.helpers import free_port

    root: Path = project.root  # type: ignore[attr-defined]

    def makemigrations(database_url: str) -> subprocess.CompletedProcess[str]:
        env = clean_env(DATABASE_URL=database_url)
        return warm_run([PYTHON, "manage.py", "makemigrations"], root, 60, env)

    port = free_port()
    down = error_line(makemigrations(f"postgresql+asyncpg://app@127.0.0.1:{port}/shop"))
    assert down.startswith(
        f"Error: makemigrations could not create its scratch database on the PostgreSQL "
        f"server 127.0.0.1:{port}: "
    )
    assert down.endswith("Check that the server of DATABASE_URL is running.")
    other = error_line(makemigrations("mysql+aiomysql://app@127.0.0.1/shop"))
    assert "on SQLite and PostgreSQL, not on 'mysql'" in other
    server = make_url(project.server)  # type: ignore[attr-defined]
    role = f"tempest_nocreatedb_{os.getpid()}"
    asyncio.run(_role(project.server, role))  # type: ignore[attr-defined]
    try:
        url = server.set(username=role, password=None, database="shop")
        refused = error_line(makemigrations(url.render_as_string(hide_password=False)))
    finally:
        asyncio.run(_role(project.server, role, create=False))  # type: ignore[attr-defined]
    assert refused.startswith("Error: makemigrations builds the migrations' schema in a scratch ")
    assert refused.endswith(
        f"PostgreSQL user {role!r} may not create databases on {server.host}:{server.port or 5432}:"
        f" grant it with `ALTER ROLE {role} CREATEDB;`."
    )
    assert revision_files(root, "orders") == []
