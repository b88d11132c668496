"""A registration with can_create / can_edit / can_delete all False has no bulk actions:
its list shows no selection boxes and no action menu, and POST /bulk is a 404 like every
other disabled view."""

from __future__ import annotations

from typing import Any

import pytest
from sqlalchemy import select

from tests.contrib.admin.conftest import AdminClient, AdminEnv, csrf_of
from tests.contrib.admin.models import Gadget

pytestmark = pytest.mark.anyio

GADGETS = "/m/admin_t_gadget/"


async def signed_in(new_client: Any, prefix: str) -> AdminClient:
    client: AdminClient = new_client(prefix)
    assert (await client.login()).status_code == 303
    return client


async def test_a_read_only_list_has_no_selection_boxes_and_no_action_menu(
    env: AdminEnv, new_client: Any
) -> None:
    async with env.db.get_session_context() as session:
        session.add(Gadget(name="read-only-row", quantity=1))
    locked = await signed_in(new_client, "/locked")
    page = await locked.get(GADGETS)
    assert page.status_code == 200
    assert "read-only-row" in page.text
    assert 'name="ids"' not in page.text and "data-select-all" not in page.text
    assert 'name="action"' not in page.text and ">Go</button>" not in page.text
    assert 'rel="next"' in page.text or "Page" in page.text  # the pager is still there


async def test_a_writable_list_keeps_them(env: AdminEnv, new_client: Any) -> None:
    locked = await signed_in(new_client, "/locked")
    page = await locked.get("/m/admin_t_maker/")  # registered with the defaults
    assert 'name="ids"' in page.text and "data-select-all" in page.text
    assert '<option value="delete">' in page.text and '<option value="activate">' in page.text


@pytest.mark.parametrize("action", ["delete", "activate", "deactivate", "", "explode"])
async def test_posting_a_bulk_action_to_a_read_only_model_is_404(
    env: AdminEnv, new_client: Any, action: str
) -> None:
    async with env.db.get_session_context() as session:
        row = Gadget(name=f"bulk-locked-{action}", quantity=1)
        session.add(row)
    locked = await signed_in(new_client, "/locked")
    locked.token = csrf_of((await locked.get(GADGETS)).text)
    response = await locked.post(GADGETS + "bulk", [("action", action), ("ids", str(row.id))])
    assert response.status_code == 404
    assert "There is no such page in the admin." in response.text
    async with env.db.get_session_context() as session:
        kept = await session.scalar(select(Gadget).where(Gadget.id == row.id))
    assert kept is not None and kept.is_active


async def test_the_404_comes_before_the_form_is_read(env: AdminEnv, new_client: Any) -> None:
    locked = await signed_in(new_client, "/locked")
    response = await locked.post(GADGETS + "bulk", [("action", "delete")], token=False)
    assert response.status_code == 404  # not 403 for the missing token: there is no page
