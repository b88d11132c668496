"""The admin with the audit trail installed: its writes leave audit rows, the detail page
shows a row's history with the diff, and a bulk action over 500 rows writes its 500 audit
rows with one INSERT statement after one SELECT of the rows."""

from __future__ import annotations

import html
import re
from collections.abc import Iterator
from typing import Any

import pytest
from sqlalchemy import func, select

from tempest.contrib.audit.models import AuditLog
from tempest.db.audit import set_default_audit_model
from tests.contrib.admin.conftest import ADMIN, AdminClient, AdminEnv
from tests.contrib.admin.models import Gadget

pytestmark = pytest.mark.anyio

GADGETS = "/m/admin_t_gadget/"
BULK_ROWS = 500


@pytest.fixture(scope="module", autouse=True)
def audit_installed() -> Iterator[None]:
    """What installing ``tempest.contrib.audit`` does: AuditLog is the audit table."""
    set_default_audit_model(AuditLog)
    yield
    set_default_audit_model(None)


async def audit_rows(env: AdminEnv, table: str, pk: Any = None) -> list[AuditLog]:
    async with env.db.get_session_context() as session:
        query = select(AuditLog).where(AuditLog.table_name == table)
        if pk is not None:
            query = query.where(AuditLog.object_pk == str(pk))
        query = query.order_by(AuditLog.created_at, AuditLog.id)
        return list((await session.scalars(query)).all())


def history(page: str) -> list[dict[str, Any]]:
    """The detail page's history: each change's action, who, and diff rows."""
    found = re.search(r'data-testid="audit-history">(.*?)</ol>', page, re.S)
    assert found is not None, page
    entries = []
    for item in re.findall(r'<li data-action="([^"]+)">(.*?)</li>', found.group(1), re.S):
        action, body = item
        who = re.search(r"· by ([^<]+)</p>", body)
        cells = re.findall(
            r'<tr data-column="([^"]+)"><td>[^<]*</td><td class="before">([^<]*)</td>'
            r'<td class="after">([^<]*)</td></tr>',
            body,
        )
        entries.append(
            {
                "action": action,
                "who": html.unescape(who.group(1)).strip() if who else None,
                "diff": {
                    column: (html.unescape(before), html.unescape(after))
                    for column, before, after in cells
                },
            }
        )
    return entries


async def test_create_edit_and_delete_write_audit_rows_the_panel_shows(
    env: AdminEnv, admin: AdminClient
) -> None:
    form = {"name": "audited-gadget", "quantity": "12", "kind": "toy"}
    created = await admin.post(GADGETS + "new", form)
    assert created.status_code == 303, created.text
    url = created.headers["location"].removeprefix("/admin")
    gadget_id = url.rstrip("/").rsplit("/", 1)[-1]
    edited = await admin.post(url + "/edit", {**form, "quantity": "13", "notes": "fragile"})
    assert edited.status_code == 303, edited.text

    rows = await audit_rows(env, "admin_t_gadget", gadget_id)
    assert [row.action for row in rows] == ["create", "update"]
    admin_id = str(env.operators[ADMIN].id)
    assert {(row.actor_kind, row.actor_id) for row in rows} == {("user", admin_id)}
    assert rows[0].changes["name"] == {"before": None, "after": "audited-gadget"}
    assert rows[0].changes["created_by"] == {"before": None, "after": admin_id}
    assert rows[1].changes == {
        "quantity": {"before": 12, "after": 13},
        "notes": {"before": None, "after": "fragile"},
    }

    page = await admin.get(url)
    assert page.status_code == 200
    shown = history(page.text)
    assert [entry["action"] for entry in shown] == ["update", "create"]  # newest first
    assert shown[0]["who"] == ADMIN
    assert shown[0]["diff"] == {"quantity": ("12", "13"), "notes": ("—", "fragile")}
    assert shown[1]["diff"]["name"] == ("—", "audited-gadget")

    deleted = await admin.post(url + "/delete", {})
    assert deleted.status_code == 303
    rows = await audit_rows(env, "admin_t_gadget", gadget_id)
    assert [row.action for row in rows] == ["create", "update", "delete"]
    assert rows[2].changes["quantity"] == {"before": 13, "after": None}


async def test_a_failed_edit_or_create_leaves_no_audit_row(
    env: AdminEnv, admin: AdminClient
) -> None:
    acme, globex = env.makers["Acme"], env.makers["Globex"]
    before = len(await audit_rows(env, "admin_t_maker"))
    taken = await admin.post(f"/m/admin_t_maker/{globex.id}/edit", {"name": "Acme"})
    assert taken.status_code == 422  # the name is unique: the UPDATE fails
    again = await admin.post("/m/admin_t_maker/new", {"name": "Acme"})
    assert again.status_code == 422
    assert len(await audit_rows(env, "admin_t_maker")) == before
    page = await admin.get(f"/m/admin_t_maker/{globex.id}")
    assert "No recorded changes." in page.text and "Acme" not in page.text.split("History")[1]
    assert (await admin.get(f"/m/admin_t_maker/{acme.id}")).status_code == 200


async def test_a_bulk_action_over_500_rows_writes_500_audit_rows_in_one_insert(
    env: AdminEnv, admin: AdminClient
) -> None:
    gadgets = [Gadget(name=f"mass-{i:03d}", quantity=i) for i in range(BULK_ROWS)]
    async with env.db.get_session_context() as session:
        session.add_all(gadgets)
    ids = [("ids", str(gadget.id)) for gadget in gadgets]

    env.statements.clear()
    response = await admin.post(GADGETS + "bulk", [("action", "deactivate"), *ids])
    assert response.status_code == 303, response.text
    inserts = [s for s in env.statements if s.lstrip().upper().startswith("INSERT")]
    assert len(inserts) == 1 and "audit_log" in inserts[0]
    reads = [s for s in env.statements if "FROM admin_t_gadget" in s]
    assert len(reads) == 1  # the rows before the change, all in one SELECT: no N+1

    rows = await audit_rows(env, "admin_t_gadget")
    changed = [row for row in rows if row.object_pk in {value for _, value in ids}]
    assert len(changed) == BULK_ROWS
    admin_id = str(env.operators[ADMIN].id)
    assert {row.action for row in changed} == {"update"}
    assert all(
        row.changes
        == {
            "is_active": {"before": True, "after": False},
            "updated_by": {"before": None, "after": admin_id},
        }
        and row.actor_id == admin_id
        for row in changed
    )

    page = await admin.get(f"{GADGETS}{gadgets[7].id}")
    [entry] = history(page.text)
    assert entry["action"] == "update" and entry["who"] == ADMIN
    assert entry["diff"]["is_active"] == ("Yes", "No")

    env.statements.clear()
    response = await admin.post(GADGETS + "bulk", [("action", "delete"), *ids])
    assert response.status_code == 303
    inserts = [s for s in env.statements if s.lstrip().upper().startswith("INSERT")]
    assert len(inserts) == 1
    async with env.db.get_session_context() as session:
        deleted = await session.scalar(
            select(func.count())
            .select_from(AuditLog)
            .where(
                AuditLog.table_name == "admin_t_gadget",
                AuditLog.action == "delete",
                AuditLog.object_pk.in_([value for _, value in ids]),
            )
        )
        left = await session.scalar(
            select(func.count()).select_from(Gadget).where(Gadget.name.like("mass-%"))
        )
    assert (deleted, left) == (BULK_ROWS, 0)


async def test_a_bulk_action_that_fails_leaves_no_audit_row(
    env: AdminEnv, admin: AdminClient
) -> None:
    held = env.makers["Initech"]
    async with env.db.get_session_context() as session:
        session.add(Gadget(name="holds-initech", quantity=1, maker_id=held.id))
    before = len(await audit_rows(env, "admin_t_maker"))
    response = await admin.post(
        "/m/admin_t_maker/bulk", [("action", "delete"), ("ids", str(held.id))]
    )
    assert response.status_code == 409
    assert len(await audit_rows(env, "admin_t_maker")) == before
