"""seed, dumpdata, loaddata and flush, run as ``manage.py`` in a generated project.

One project for the module: ``shop`` with the example app ``orders``, an app ``shipping``
whose model has a foreign key to orders and a column of every type fixtures convert, and
an app ``notes`` with no models and no seeds; ``makemigrations`` writes its migrations
once and each database gets them with ``migrate``. The commands that touch data run on SQLite
and on PostgreSQL (a database of its own, made for the module); mistakes in the command
line or in fixture files are reported before the database is used and run on SQLite only.
"""

from __future__ import annotations

import asyncio
import json
import os
import sqlite3
import subprocess
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pytest

from tests.helpers import PYTHON, clean_env, one_line_error, without_contrib_apps
from tests.warm import (  # manage.py processes forked warm
    warm_manage as manage,
    warm_run,
    warm_tempest as tempest,
)

pytestmark = pytest.mark.e2e

SHIPPING_MODELS = '''
"""Shipments: a foreign key to orders and one column of each type fixtures convert."""

import enum
import uuid
from datetime import date
from decimal import Decimal
from typing import Any

from sqlalchemy import (
    JSON, Column, Date, Enum, ForeignKey, LargeBinary, Numeric, String, Table, Text
)
from sqlalchemy.orm import Mapped, mapped_column
from tempest.db import BaseModel


class Carrier(enum.Enum):
    POST = "post"
    COURIER = "courier"


class ShipmentModel(BaseModel):
    order_id: Mapped[uuid.UUID] = mapped_column(ForeignKey("order.id"))
    address: Mapped[str] = mapped_column(String(200))
    parcels: Mapped[int] = mapped_column(default=1)
    weight: Mapped[Decimal | None] = mapped_column(Numeric(10, 3), default=None)
    shipped_on: Mapped[date | None] = mapped_column(Date, default=None)
    carrier: Mapped[Carrier | None] = mapped_column(Enum(Carrier), default=None)
    label: Mapped[bytes | None] = mapped_column(LargeBinary, default=None)
    extra: Mapped[dict[str, Any] | None] = mapped_column(JSON, default=None)
    note: Mapped[str | None] = mapped_column(Text, default=None)


# A table without a model (a many-to-many link): flush empties it, dumpdata leaves it out.
shipment_tag = Table(
    "shipment_tag",
    BaseModel.metadata,
    Column("shipment_id", ForeignKey("shipment.id"), primary_key=True),
    Column("tag", String(20), primary_key=True),
)
'''

SHIPPING_SEEDS = '''
"""One shipment per order that has none; fails on demand after writing."""

import os
from datetime import date
from decimal import Decimal

from orders.models import OrderModel
from sqlalchemy import select
from sqlalchemy.ext.asyncio import AsyncSession

from shipping.models import Carrier, ShipmentModel


async def seed(session: AsyncSession) -> None:
    shipped = select(ShipmentModel.order_id)
    query = select(OrderModel).where(OrderModel.id.not_in(shipped)).order_by(OrderModel.name)
    for number, order in enumerate((await session.scalars(query)).all()):
        full = number % 2 == 0
        session.add(
            ShipmentModel(
                order_id=order.id,
                address=f"Rua São João {number}, Lisboa — 🚚",
                weight=Decimal("1.250") if full else None,
                shipped_on=date(2024, 2, 29) if full else None,
                carrier=Carrier.POST if full else None,
                label=b"\\x00\\xffPDF" if full else None,
                extra={"gift": True, "tags": ["fragile", "ü"]} if full else None,
            )
        )
    await session.flush()
    if os.environ.get("SHIPPING_SEED_FAIL"):
        raise RuntimeError("carrier API unreachable")
'''

DEMO_SEEDS = '''
"""A seed callable outside the apps' seeds.py, and a plain (sync) function."""

from orders.models import OrderModel


def two_orders(session):
    session.add_all([OrderModel(name="Demo tea"), OrderModel(name="Demo coffee")])
'''

FIRST = "00000000-0000-4000-8000-000000000001"
SECOND = "00000000-0000-4000-8000-000000000002"
SHIPMENT = "00000000-0000-4000-8000-0000000000aa"

SAMPLE_FIXTURE = [
    {"model": "orders.OrderModel", "pk": FIRST, "fields": {"name": "Espresso beans"}},
    {
        "model": "orders.ordermodel",
        "pk": SECOND,
        "fields": {"name": "Café com leite ☕", "description": None},
    },
]


@pytest.fixture(scope="module")
def project(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """The module's project; tests may write files in it but not change its apps."""
    root = tmp_path_factory.mktemp("datacmd")
    assert tempest(root, "startproject", "shop").returncode == 0
    project = root / "shop"
    without_contrib_apps(project)
    for args in (["orders"], ["shipping", "--empty"], ["notes", "--empty"]):
        result = manage(project, "startapp", *args)
        assert result.returncode == 0, result.stderr
    (project / "shipping" / "models.py").write_text(SHIPPING_MODELS.lstrip())
    (project / "shipping" / "seeds.py").write_text(SHIPPING_SEEDS.lstrip())
    (project / "notes" / "seeds.py").unlink()
    (project / "shop" / "demo_seeds.py").write_text(DEMO_SEEDS.lstrip())
    (project / "orders" / "fixtures").mkdir()
    _write_json(project / "orders" / "fixtures" / "sample.json", SAMPLE_FIXTURE)
    migrations = manage(project, "makemigrations")
    assert migrations.returncode == 0, migrations.stderr
    return project


@dataclass
class Database:
    """The project on one database: ``run`` is ``manage.py`` with its DATABASE_URL."""

    backend: str
    project: Path
    url: str

    def run(self, *args: str, **env: str) -> subprocess.CompletedProcess[str]:
        return manage(self.project, *args, DATABASE_URL=self.url, **env)

    def answer(self, text: str, *args: str) -> subprocess.CompletedProcess[str]:
        """Run with ``text`` on standard input (a confirmation prompt's answer)."""
        env = clean_env(DATABASE_URL=self.url)
        return warm_run([PYTHON, "manage.py", *args], self.project, 60, env, text)

    def empty(self) -> None:
        """Delete every row directly (faster than ``manage.py flush``, which one test runs)."""
        if self.backend == "sqlite":
            with sqlite3.connect(self.url.partition(":///")[2]) as connection:
                connection.executescript(
                    'DELETE FROM shipment_tag; DELETE FROM shipment; DELETE FROM "order";'
                )
        else:
            asyncio.run(_execute(self.url, 'TRUNCATE shipment_tag, shipment, "order"'))

    def count(self, table: str) -> int:
        """Rows in ``table``, read directly."""
        if self.backend == "sqlite":
            with sqlite3.connect(self.url.partition(":///")[2]) as connection:
                return int(connection.execute(f"SELECT count(*) FROM {table}").fetchone()[0])
        return asyncio.run(_fetch_count(self.url, table))

    def dump(self, *labels: str) -> list[dict[str, Any]]:
        result = self.run("dumpdata", *labels)
        assert result.returncode == 0, result.stderr
        assert result.stderr == ""
        data: list[dict[str, Any]] = json.loads(result.stdout)
        return data


@pytest.fixture(scope="module", params=["sqlite", "postgresql"])
def database(
    request: pytest.FixtureRequest, project: Path, tmp_path_factory: pytest.TempPathFactory
) -> Iterator[Database]:
    """The project on an empty SQLite file, then on a PostgreSQL database of its own."""
    if request.param == "sqlite":
        url = f"sqlite+aiosqlite:///{tmp_path_factory.mktemp('sqlite') / 'data.sqlite3'}"
        admin_url = None
    else:
        from sqlalchemy.engine import make_url

        from tests.conftest import service_url

        base = make_url(service_url("TEMPEST_TEST_DATABASE_URL"))
        name = f"tempest_datacmd_test_{os.getpid()}"
        admin_url = base.set(drivername="postgresql").render_as_string(hide_password=False)
        url = base.set(database=name).render_as_string(hide_password=False)
        drop = f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)'
        asyncio.run(_execute(admin_url, drop, f'CREATE DATABASE "{name}"'))
    database = Database(str(request.param), project, url)
    try:
        migrated = database.run("migrate")
        assert migrated.returncode == 0, migrated.stderr
        yield database
    finally:  # also when migrate fails
        if admin_url is not None:
            asyncio.run(_execute(admin_url, drop))


async def _execute(url: str, *statements: str) -> None:
    import asyncpg

    connection = await asyncpg.connect(url.replace("+asyncpg", "", 1))
    try:
        for statement in statements:
            await connection.execute(statement)
    finally:
        await connection.close()


async def _fetch_count(url: str, table: str) -> int:
    import asyncpg

    connection = await asyncpg.connect(url.replace("+asyncpg", "", 1))
    try:
        return int(await connection.fetchval(f"SELECT count(*) FROM {table}"))
    finally:
        await connection.close()


def _write_json(path: Path, data: Any) -> Path:
    path.write_text(json.dumps(data, ensure_ascii=False), encoding="utf-8")
    return path


def _ok(result: subprocess.CompletedProcess[str]) -> str:
    assert result.returncode == 0, result.stderr
    return result.stdout


def _by_model(dump: list[dict[str, Any]], label: str) -> list[dict[str, Any]]:
    return [item for item in dump if item["model"] == label]


# --- Mistakes: each exits non-zero with one line that says what to fix. ---------------


@pytest.mark.parametrize(
    ("args", "message"),
    [
        (
            ["seed", "ordres"],
            "Error: No installed app with label 'ordres'. Did you mean 'orders'? "
            "Installed apps: orders, shipping, notes.",
        ),
        (
            ["seed", "notes"],
            "Error: App 'notes' has no seeds.py; create notes/seeds.py with "
            "`async def seed(session)`.",
        ),
        (
            ["seed", "--seed", "shop.demo_seeds"],
            "Error: --seed takes MODULE:CALLABLE, e.g. orders.seeds:demo_data, "
            "not 'shop.demo_seeds'.",
        ),
        (
            ["dumpdata", "orders", "billing"],
            "Error: No installed app with label 'billing'. Installed apps: orders, shipping, notes.",
        ),
        (
            ["dumpdata", "orders.Order"],
            "Error: Unknown model 'orders.Order': the models of 'orders' are OrderModel.",
        ),
        (
            ["loaddata", "menu"],
            "Error: No fixture named 'menu': it is not a file here, and no installed app "
            "(orders, shipping, notes) has fixtures/menu.json.",
        ),
    ],
    ids=[
        "seed-unknown-app",
        "seed-app-without-seeds",
        "seed-callable-malformed",
        "dumpdata-unknown-app",
        "dumpdata-unknown-model",
        "loaddata-unknown-name",
    ],
)
def test_command_line_mistakes(project: Path, args: list[str], message: str) -> None:
    assert one_line_error(manage(project, *args)) == message


@pytest.mark.parametrize(
    ("content", "message"),
    [
        (
            '[\n  {"model": "orders.OrderModel", "fields": {"name": "Tea"}},\n]\n',
            "Error: broken.json is not valid JSON: Expecting value at line 3, column 1.",
        ),
        (
            json.dumps([SAMPLE_FIXTURE[0], {"model": "orders.Invoice", "fields": {}}]),
            "Error: broken.json, object 2: unknown model 'orders.Invoice'; the models of "
            "'orders' are orders.OrderModel.",
        ),
        (
            json.dumps([{"model": "orders.OrderModel", "fields": {"name": "Tea", "size": 2}}]),
            "Error: broken.json, object 1 (orders.OrderModel): unknown field 'size'; the fields "
            "of orders.OrderModel are id, is_active, created_at, updated_at, name, description.",
        ),
        (
            json.dumps([{"model": "orders.OrderModel", "pk": "42", "fields": {"name": "Tea"}}]),
            "Error: broken.json, object 1 (orders.OrderModel): \"pk\": '42' is not a valid UUID "
            "(badly formed hexadecimal UUID string).",
        ),
    ],
    ids=["invalid-json", "unknown-model", "unknown-field", "bad-pk"],
)
def test_broken_fixtures(project: Path, content: str, message: str) -> None:
    (project / "broken.json").write_text(content, encoding="utf-8")
    assert one_line_error(manage(project, "loaddata", "broken.json")) == message


# --- The commands on SQLite and on PostgreSQL. -----------------------------------------


def test_seed_dump_flush_load_round_trip(database: Database, tmp_path: Path) -> None:
    database.empty()
    seeded = _ok(database.run("seed")).splitlines()
    assert [line.split("(")[0] for line in seeded] == [
        "Seeding orders... done ",
        "Seeding shipping... done ",
    ]
    again = _ok(database.run("seed", "-v", "2"))  # both seeds only fill what is missing
    assert "Skipping notes: no seeds.py." in again

    first = tmp_path / "first.json"
    assert _ok(database.run("dumpdata", "--indent", "2", "-o", str(first))).splitlines() == [
        "Dumped 3 object(s) of orders.OrderModel.",
        "Dumped 3 object(s) of shipping.ShipmentModel.",
        f"Wrote 6 object(s) to {first}.",
    ]
    dumped = json.loads(first.read_text(encoding="utf-8"))
    assert database.dump() == dumped  # to standard output: only the JSON
    orders, shipments = (
        _by_model(dumped, "orders.OrderModel"),
        _by_model(dumped, "shipping.ShipmentModel"),
    )
    assert [item["model"] for item in dumped] == ["orders.OrderModel"] * 3 + [
        "shipping.ShipmentModel"
    ] * 3
    assert [item["pk"] for item in orders] == sorted(item["pk"] for item in orders)
    assert sorted(item["fields"]["name"] for item in orders) == [
        f"Example order {n}" for n in (1, 2, 3)
    ]
    assert orders[0]["fields"]["created_at"].endswith("+00:00")
    assert {item["fields"]["order_id"] for item in shipments} == {item["pk"] for item in orders}
    full = next(
        item["fields"] for item in shipments if item["fields"]["address"].endswith("0, Lisboa — 🚚")
    )
    assert {
        key: full[key]
        for key in ("parcels", "weight", "shipped_on", "carrier", "label", "extra", "note")
    } == {
        "parcels": 1,
        "weight": "1.250",
        "shipped_on": "2024-02-29",
        "carrier": "post",
        "label": "AP9QREY=",  # b"\x00\xffPDF"
        "extra": {"gift": True, "tags": ["fragile", "ü"]},
        "note": None,
    }
    assert "Rua São João 0, Lisboa — 🚚" in first.read_text(encoding="utf-8")  # not \u-escaped

    assert (
        _ok(database.run("flush", "--noinput"))
        == "Flushed 3 table(s): order, shipment, shipment_tag.\n"
    )
    assert database.run("dumpdata").stdout == "[]\n"
    assert database.count("alembic_version") > 0  # the migration history stays
    assert _ok(database.run("loaddata", str(first))).splitlines() == [  # progress per file, model
        f"Read 6 object(s) from {first}.",
        "  Saved 3 orders.OrderModel object(s).",
        "  Saved 3 shipping.ShipmentModel object(s).",
        "Installed 6 object(s) from 1 fixture(s).",
    ]
    second = tmp_path / "second.json"
    assert _ok(database.run("dumpdata", "--indent", "2", "-o", str(second), "-v", "0")) == ""
    assert second.read_bytes() == first.read_bytes()


def test_loaddata_orders_rows_by_foreign_key_and_updates_existing_ones(
    database: Database, tmp_path: Path
) -> None:
    database.empty()
    shipment_first = _write_json(
        tmp_path / "shipment_first.json",
        [
            {
                "model": "shipping.ShipmentModel",
                "pk": SHIPMENT,
                "fields": {"order_id": FIRST, "address": "Quay 1"},
            },
            {
                "model": "orders.OrderModel",
                "pk": FIRST,
                "fields": {"name": "Old name", "description": "keep"},
            },
        ],
    )
    loaded = _ok(database.run("loaddata", str(shipment_first)))
    assert loaded.endswith("\nInstalled 2 object(s) from 1 fixture(s).\n")
    # A bare name is looked up in every app's fixtures/ folder: orders/fixtures/sample.json.
    loaded = _ok(database.run("loaddata", "sample"))
    assert loaded.endswith("\nInstalled 2 object(s) from 1 fixture(s).\n")
    dumped = database.dump("orders.ordermodel", "shipping")
    assert [
        (item["pk"], item["fields"]["name"], item["fields"]["description"]) for item in dumped[:2]
    ] == [
        (FIRST, "Espresso beans", "keep"),  # updated; the fields the fixture leaves out stay
        (SECOND, "Café com leite ☕", None),
    ]
    assert [(item["pk"], item["fields"]["order_id"]) for item in dumped[2:]] == [(SHIPMENT, FIRST)]


def test_a_row_that_breaks_a_constraint_loads_nothing(database: Database, tmp_path: Path) -> None:
    unknown_order = "00000000-0000-4000-8000-0000000000ff"
    fixture = _write_json(
        tmp_path / "dangling.json",
        [
            {
                "model": "orders.OrderModel",
                "pk": unknown_order[:-2] + "ee",
                "fields": {"name": "Kept?"},
            },
            {
                "model": "shipping.ShipmentModel",
                "pk": SHIPMENT,
                "fields": {"order_id": unknown_order, "address": "Nowhere"},
            },
        ],
    )
    message = one_line_error(database.run("loaddata", str(fixture)))
    assert message.startswith(
        f"Error: {fixture}, object 2 (shipping.ShipmentModel, pk {SHIPMENT}): "
    )
    assert message.endswith(". Nothing was loaded.")
    assert "foreign key" in message.lower()
    assert "INSERT" not in message
    assert all(item["fields"]["name"] != "Kept?" for item in database.dump("orders"))


def test_a_failing_seed_keeps_nothing_of_its_app(database: Database) -> None:
    database.empty()
    result = database.run("seed", SHIPPING_SEED_FAIL="1")
    assert one_line_error(result) == (
        "Error: Seeding shipping failed, nothing it wrote was saved: "
        "RuntimeError: carrier API unreachable"
    )
    assert result.stdout.startswith("Seeding orders... done (")
    assert result.stdout.endswith("Seeding shipping... failed\n")
    dumped = database.dump()
    assert len(_by_model(dumped, "orders.OrderModel")) == 3  # the earlier app's seed is saved
    assert _by_model(dumped, "shipping.ShipmentModel") == []


def test_flush_asks_first(database: Database) -> None:
    seeded = _ok(database.run("seed", "--seed", "shop.demo_seeds:two_orders"))
    assert seeded.startswith("Seeding shop.demo_seeds:two_orders... done (")
    refused = database.answer("n\n", "flush")
    assert refused.returncode == 1
    assert "Are you sure?" in refused.stdout and "(order, shipment, shipment_tag)" in refused.stdout
    assert refused.stderr == "Aborted.\n"
    names = {item["fields"]["name"] for item in database.dump("orders")}
    assert {"Demo tea", "Demo coffee"} <= names
    accepted = database.answer("y\n", "flush")
    assert accepted.returncode == 0, accepted.stderr
    assert accepted.stdout.endswith("Flushed 3 table(s): order, shipment, shipment_tag.\n")
