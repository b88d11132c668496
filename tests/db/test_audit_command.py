"""``manage.py audit history`` in a project with tempest.contrib.audit, and the command
that made a change as its actor."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from tests.db.conftest import copy_project
from tests.warm import warm_manage as manage

ORDER_ID = "7f1b0c3e-2a4d-4e5f-9a6b-1c2d3e4f5a6b"
SAVE_ORDER = """
import uuid

import click
from tempest.db import BaseRepository, get_database

from orders.models import OrderModel


@click.command()
@click.argument("order_id", type=click.UUID)
@click.argument("name")
async def command(order_id: uuid.UUID, name: str) -> None:
    async with get_database().request_session() as session:
        repository = BaseRepository(session, model=OrderModel)
        order = await repository.get_or_none({"id": order_id})
        if order is None:
            await repository.add_audited(OrderModel(id=order_id, name=name))
        else:
            await repository.update_audited(order, {"name": name})
"""


@pytest.fixture(scope="module")
def project(orders_project_template: Path, tmp_path_factory: pytest.TempPathFactory) -> Path:
    """``shop`` + ``orders`` + the audit app, migrated, with an order created and renamed."""
    project = copy_project(orders_project_template, tmp_path_factory.mktemp("audit"))
    settings = project / "shop" / "settings.py"
    settings.write_text(
        settings.read_text().replace(
            '"tempest.contrib.admin",', '"tempest.contrib.admin",\n        "tempest.contrib.audit",'
        )
    )
    commands = project / "orders" / "management" / "commands"
    commands.mkdir(parents=True)
    (commands / "save_order.py").write_text(SAVE_ORDER)
    for args in (
        ["makemigrations"],
        ["migrate"],
        ["save_order", ORDER_ID, "Coffee"],
        ["save_order", ORDER_ID, "Iced coffee"],
    ):
        result = manage(project, *args)
        assert result.returncode == 0, (args, result.stderr)
    return project


def test_history_lists_the_changes_and_the_command_that_made_them(project: Path) -> None:
    shown = manage(project, "audit", "history", "orders.OrderModel", ORDER_ID)
    assert shown.returncode == 0, shown.stderr
    lines = shown.stdout.splitlines()
    assert lines[0].endswith("create  by command save_order")
    assert '    name: - -> "Coffee"' in lines
    assert lines[-2].endswith("update  by command save_order")
    assert lines[-1] == '    name: "Coffee" -> "Iced coffee"'
    by_table = manage(project, "audit", "history", "order", ORDER_ID.upper(), "--json")
    assert by_table.returncode == 0, by_table.stderr
    changes = json.loads(by_table.stdout)
    assert [change["action"] for change in changes] == ["create", "update"]
    assert {(c["actor_kind"], c["actor_id"]) for c in changes} == {("command", "save_order")}
    latest = manage(project, "audit", "history", "orders.ordermodel", ORDER_ID, "--limit", "1")
    assert latest.stdout.splitlines()[0].endswith("update  by command save_order")


def test_a_row_without_changes_says_so(project: Path) -> None:
    other = "00000000-0000-0000-0000-000000000001"
    shown = manage(project, "audit", "history", "orders.OrderModel", other)
    assert shown.returncode == 0
    assert shown.stdout.strip() == f"No recorded changes of orders.OrderModel {other}."


@pytest.mark.parametrize(
    ("args", "message"),
    [
        (["orders.Nope", ORDER_ID], "Error: Unknown model 'orders.Nope': the models of"),
        (["nope.OrderModel", ORDER_ID], "Error: No installed app with label 'nope'"),
        (["no_such_table", ORDER_ID], "Error: Unknown model or table 'no_such_table'"),
        (["orders.OrderModel", "42"], "Error: '42' is not a valid value of orders.OrderModel"),
        (["orders.OrderModel", ORDER_ID, "x"], "has a primary key of 1 column(s) (id); 2 value"),
        (["orders.OrderModel"], "Error: Missing argument 'PK...'"),
        (["orders.OrderModel", ORDER_ID, "--limit", "0"], "Error: Invalid value for '--limit'"),
    ],
)
def test_bad_arguments_are_one_line_and_exit_2(
    project: Path, args: list[str], message: str
) -> None:
    result = manage(project, "audit", "history", *args)
    assert result.returncode == 2, result.stderr
    assert message in result.stderr
    assert len(result.stderr.strip().splitlines()) == 1 and "Traceback" not in result.stderr


def test_without_the_audit_app_the_error_says_what_to_install(
    orders_project_template: Path, tmp_path: Path
) -> None:
    project = copy_project(orders_project_template, tmp_path)
    result = manage(project, "audit", "history", "orders.OrderModel", ORDER_ID)
    assert result.returncode == 1
    assert "add 'tempest.contrib.audit' to INSTALLED_APPS" in result.stderr
    assert len(result.stderr.strip().splitlines()) == 1


def test_the_shipped_migration_matches_the_model(project: Path) -> None:
    result = manage(project, "makemigrations", "--check", "audit")
    assert result.returncode == 0, result.stdout + result.stderr
    assert "No changes detected" in result.stdout
