"""Create, detail, edit, delete and bulk actions; the can_* flags; pages that do not exist."""

from __future__ import annotations

import html
import re
import uuid
from datetime import UTC, date, datetime
from decimal import Decimal
from typing import Any

import pytest
from sqlalchemy import func, select

from tests.contrib.admin.conftest import ADMIN, VICTIM, AdminClient, AdminEnv, csrf_of
from tests.contrib.admin.models import Gadget, Kind, Maker

pytestmark = pytest.mark.anyio

GADGETS = "/m/admin_t_gadget/"
REF = "123e4567-e89b-12d3-a456-426614174000"


def valid_form(env: AdminEnv, name: str) -> dict[str, str]:
    return {
        "name": name,
        "notes": "line one\nline two",
        "quantity": "12",
        "ratio": "0.5",
        "price": "19.99",
        "flag": "on",
        "released_on": "2024-06-01",
        "launch_at": "2024-06-01T10:30",
        "kind": "toy",
        "specs": '{"a": [1, 2]}',
        "ref": REF,
        "maker_id": str(env.makers["Acme"].id),
    }


def field_error(page: str, name: str) -> str | None:
    found = re.search(rf'<p class="field-error" id="e-{name}" role="alert">([^<]*)</p>', page)
    return html.unescape(found.group(1)) if found else None


def input_value(page: str, name: str) -> str:
    found = re.search(rf'<input id="f-{name}" name="{name}" value="([^"]*)"', page)
    assert found is not None, name
    return html.unescape(found.group(1))


def textarea(page: str, name: str) -> str:
    found = re.search(rf'<textarea id="f-{name}" name="{name}"[^>]*>(.*?)</textarea>', page, re.S)
    assert found is not None, name
    return html.unescape(found.group(1))


async def load(env: AdminEnv, name: str) -> Gadget | None:
    async with env.db.get_session_context() as session:
        return await session.scalar(select(Gadget).where(Gadget.name == name))


async def count(env: AdminEnv, name: str) -> int:
    async with env.db.get_session_context() as session:
        return int(await session.scalar(select(func.count()).where(Gadget.name == name)) or 0)


async def make(env: AdminEnv, *names: str) -> list[Gadget]:
    rows = [Gadget(name=name, quantity=1) for name in names]
    async with env.db.get_session_context() as session:
        session.add_all(rows)
    return rows


def utc(value: datetime) -> datetime:
    return value if value.tzinfo else value.replace(tzinfo=UTC)


# -- create -------------------------------------------------------------------------------


async def test_the_create_form_has_a_widget_per_column_type(
    env: AdminEnv, admin: AdminClient
) -> None:
    page = await admin.get(GADGETS + "new")
    assert page.status_code == 200
    text = page.text
    assert re.search(r'name="name" value=""\s+type="text"\s+maxlength="40">', text)
    assert 'type="number" step="1"' in text  # quantity
    assert 'type="number" step="any"' in text  # ratio
    assert 'type="number" step="0.01"' in text  # price, Numeric(10, 2)
    assert '<input id="f-flag" type="checkbox" name="flag" value="on" >' in text
    assert 'type="date"' in text and 'type="datetime-local" step="1"' in text
    assert textarea(text, "notes") == "" and textarea(text, "specs") == ""
    assert '<option value="tool" selected>tool</option>' in text  # the column default
    assert '<option value="spare" >spare</option>' in text
    for name, maker in env.makers.items():
        assert f'<option value="{maker.id}" >{name}</option>' in text
    for auto in ("id", "created_at", "updated_at", "created_by", "updated_by"):
        assert f'name="{auto}"' not in text  # filled in by tempest, not typed
    assert 'name="is_active" value="on" checked>' in text  # the column default
    assert 'for="f-name">Name <span aria-hidden="true">*</span>' in text  # required
    assert 'for="f-notes">Notes</label>' in text  # optional


@pytest.mark.parametrize(
    ("name", "value", "message"),
    [
        ("name", "x" * 41, "Use at most 40 characters (this has 41)."),
        ("name", "", "This field is required."),
        ("quantity", "twelve", "Enter a whole number."),
        ("quantity", "", "This field is required."),
        ("quantity", "3000000000", "Enter a number from -2147483648 to 2147483647."),
        ("ratio", "abc", "Enter a number."),
        ("ratio", "inf", "Enter a finite number."),
        ("price", "1.234", "Use at most 2 decimal places."),
        ("price", "123456789", "Use at most 8 digits before the decimal point."),
        ("price", "NaN", "Enter a finite number."),
        ("specs", '{"a": ', "Enter valid JSON ("),
        ("ref", "not-a-uuid", "Enter a UUID such as 123e4567-e89b-12d3-a456-426614174000."),
        ("released_on", "2024-13-01", "Enter a date as YYYY-MM-DD."),
        ("launch_at", "yesterday", "Enter a date and time as YYYY-MM-DDTHH:MM."),
        ("kind", "robot", "Choose one of: tool, toy, spare."),
        ("maker_id", "banana", "Enter a UUID such as"),
        ("maker_id", str(uuid.UUID(int=7)), f"No Maker with id {uuid.UUID(int=7)}."),
    ],
)
async def test_create_shows_the_error_next_to_the_field_and_keeps_the_input(
    env: AdminEnv, admin: AdminClient, name: str, value: str, message: str
) -> None:
    form = valid_form(env, "kept-input")
    form[name] = value
    response = await admin.post(GADGETS + "new", form)
    assert response.status_code == 422
    error = field_error(response.text, name)
    assert error is not None and error.startswith(message), error
    assert "Please correct the errors below." in response.text
    others = [key for key in form if key != name and field_error(response.text, key)]
    assert others == []  # only the wrong field is blamed
    # What was typed is still there.
    if name not in ("maker_id", "kind"):
        assert (await count(env, "kept-input")) == 0
    assert textarea(response.text, "notes") == "line one\nline two"
    if name in ("specs",):
        assert textarea(response.text, "specs") == value
    elif name not in ("kind", "maker_id", "name"):
        assert input_value(response.text, name) == value
    assert input_value(response.text, "ref") == form["ref"]
    assert (await count(env, "kept-input")) == 0


async def test_several_errors_at_once(env: AdminEnv, admin: AdminClient) -> None:
    form = valid_form(env, "y" * 50) | {"quantity": "1.5", "specs": "[1,", "ref": "zz"}
    response = await admin.post(GADGETS + "new", form)
    assert response.status_code == 422
    for name in ("name", "quantity", "specs", "ref"):
        assert field_error(response.text, name) is not None, name
    assert input_value(response.text, "name") == "y" * 50
    assert input_value(response.text, "quantity") == "1.5"


async def test_create_saves_every_type_and_stamps_the_creator(
    env: AdminEnv, admin: AdminClient
) -> None:
    response = await admin.post(GADGETS + "new", valid_form(env, "full house"))
    assert response.status_code == 303, response.text
    row = await load(env, "full house")
    assert row is not None
    assert response.headers["location"] == f"/admin{GADGETS}{row.id}"
    assert row.notes == "line one\nline two"
    assert (row.quantity, row.ratio, row.price) == (12, 0.5, Decimal("19.99"))
    assert row.flag is True and row.kind is Kind.toy
    assert row.released_on == date(2024, 6, 1)
    assert row.launch_at is not None and utc(row.launch_at) == datetime(
        2024, 6, 1, 10, 30, tzinfo=UTC
    )
    assert row.specs == {"a": [1, 2]}
    assert row.ref == uuid.UUID(REF)
    assert row.maker_id == env.makers["Acme"].id
    admin_id = env.operators[ADMIN].id
    assert row.created_by == admin_id and row.updated_by == admin_id


async def test_optional_fields_may_stay_empty(env: AdminEnv, admin: AdminClient) -> None:
    form = {"name": "bare", "quantity": "0", "kind": "spare"}
    response = await admin.post(GADGETS + "new", form)
    assert response.status_code == 303, response.text
    row = await load(env, "bare")
    assert row is not None
    assert (row.notes, row.ratio, row.price, row.specs, row.ref, row.maker_id) == (None,) * 6
    assert row.flag is False and row.kind is Kind.spare


# -- detail and edit ----------------------------------------------------------------------


async def test_detail_shows_the_row_and_the_audit_panel(
    env: AdminEnv, admin: AdminClient, new_client: Any
) -> None:
    created = await admin.post(GADGETS + "new", valid_form(env, "audited"))
    url = created.headers["location"].removeprefix("/admin")
    page = await admin.get(url)
    assert page.status_code == 200
    text = page.text
    audit = re.search(r'data-testid="audit">(.*?)</section>', text, re.S)
    assert audit is not None
    assert audit.group(1).count(f"by {ADMIN}") == 2  # created and last changed
    acme = env.makers["Acme"]
    assert f'<a href="/admin/m/admin_t_maker/{acme.id}">Acme</a>' in text
    assert 'data-field="price">19.99<' in text and 'data-field="kind">toy<' in text
    assert 'data-field="flag">Yes<' in text
    assert "&#34;a&#34;: [" in text or "&quot;a&quot;: [" in text or '"a": [' in text
    assert f'href="/admin{url}/edit">Edit</a>' in text
    assert f'action="/admin{url}/delete"' in text

    # Another admin edits it: the panel names both.
    other = new_client()
    assert (await other.login(VICTIM)).status_code == 303
    other.token = csrf_of((await other.get(url + "/edit")).text)
    edited = await other.post(url + "/edit", valid_form(env, "audited") | {"quantity": "13"})
    assert edited.status_code == 303, edited.text
    audit = re.search(r'data-testid="audit">(.*?)</section>', (await admin.get(url)).text, re.S)
    assert audit is not None
    assert f"by {ADMIN}" in audit.group(1) and f"by {VICTIM}" in audit.group(1)
    row = await load(env, "audited")
    assert row is not None
    assert row.created_by == env.operators[ADMIN].id
    assert row.updated_by == env.operators[VICTIM].id


async def test_edit_form_is_filled_and_saves_changes(env: AdminEnv, admin: AdminClient) -> None:
    created = await admin.post(GADGETS + "new", valid_form(env, "editable"))
    url = created.headers["location"].removeprefix("/admin")
    row = await load(env, "editable")
    assert row is not None
    page = (await admin.get(url + "/edit")).text
    assert input_value(page, "name") == "editable"
    assert input_value(page, "quantity") == "12" and input_value(page, "price") == "19.99"
    assert input_value(page, "launch_at") == "2024-06-01T10:30:00"
    assert input_value(page, "released_on") == "2024-06-01"
    assert input_value(page, "ref") == REF
    assert '<input id="f-flag" type="checkbox" name="flag" value="on" checked>' in page
    assert '<option value="toy" selected>toy</option>' in page
    assert f'<option value="{env.makers["Acme"].id}" selected>Acme</option>' in page
    assert '{\n  "a": [\n    1,\n    2\n  ]\n}' in textarea(page, "specs")
    assert f'data-field="id">{row.id}<' in page  # read-only, shown

    # A wrong value: 422, the other values kept, the read-only ones still shown.
    wrong = await admin.post(url + "/edit", valid_form(env, "editable") | {"ratio": "fast"})
    assert wrong.status_code == 422
    assert field_error(wrong.text, "ratio") == "Enter a number."
    assert input_value(wrong.text, "ratio") == "fast"
    assert f'data-field="id">{row.id}<' in wrong.text
    assert (await load(env, "editable")) is not None  # unchanged

    changes = {
        "name": "edited",
        "quantity": "-4",
        "kind": "spare",
        "maker_id": str(env.makers["Globex"].id),
        "launch_at": "2024-07-02T08:00:00+02:00",
        "specs": "[]",
        "id": str(uuid.uuid4()),  # read-only: ignored
        "created_by": str(uuid.uuid4()),
    }  # flag unticked, notes/ratio/price/ref/released_on cleared
    saved = await admin.post(url + "/edit", changes)
    assert saved.status_code == 303, saved.text
    assert saved.headers["location"] == f"/admin{url}"
    assert (await load(env, "editable")) is None
    edited = await load(env, "edited")
    assert edited is not None and edited.id == row.id
    assert (edited.quantity, edited.kind, edited.flag) == (-4, Kind.spare, False)
    assert edited.maker_id == env.makers["Globex"].id
    assert edited.launch_at is not None
    assert utc(edited.launch_at) == datetime(2024, 7, 2, 6, 0, tzinfo=UTC)
    assert (edited.notes, edited.ratio, edited.price, edited.ref, edited.released_on) == (None,) * 5
    assert edited.specs == []
    assert edited.created_by == env.operators[ADMIN].id


async def test_delete_removes_the_row(env: AdminEnv, admin: AdminClient) -> None:
    (row,) = await make(env, "doomed")
    response = await admin.post(f"{GADGETS}{row.id}/delete", {})
    assert response.status_code == 303
    assert response.headers["location"] == f"/admin{GADGETS}"
    assert (await count(env, "doomed")) == 0
    assert (await admin.get(f"{GADGETS}{row.id}")).status_code == 404


async def test_deleting_a_referenced_row_is_a_conflict(env: AdminEnv, admin: AdminClient) -> None:
    maker = Maker(name="Referenced")
    async with env.db.get_session_context() as session:
        session.add(maker)
    async with env.db.get_session_context() as session:
        session.add(Gadget(name="child", quantity=1, maker_id=maker.id))
    response = await admin.post(f"/m/admin_t_maker/{maker.id}/delete", {})
    assert response.status_code == 409
    assert "still referenced" in response.text
    assert (await admin.get(f"/m/admin_t_maker/{maker.id}")).status_code == 200


async def test_a_unique_clash_is_shown_on_the_form(env: AdminEnv, admin: AdminClient) -> None:
    clash = "Another row already has one of these values (a unique column)."
    created = await admin.post("/m/admin_t_maker/new", {"name": "Acme"})
    assert created.status_code == 422
    assert clash in created.text
    assert 'value="Acme"' in created.text
    maker = env.makers["Initech"]
    edited = await admin.post(f"/m/admin_t_maker/{maker.id}/edit", {"name": "Globex"})
    assert edited.status_code == 422
    assert clash in edited.text
    assert 'value="Globex"' in edited.text
    assert f'data-field="id">{maker.id}<' in edited.text
    async with env.db.get_session_context() as session:
        assert (await session.get(Maker, maker.id)).name == "Initech"  # type: ignore[union-attr]


# -- bulk actions -------------------------------------------------------------------------


async def test_bulk_deactivate_activate_and_delete(env: AdminEnv, admin: AdminClient) -> None:
    rows = await make(env, "bulk-a", "bulk-b", "bulk-c")
    picked = [("ids", str(row.id)) for row in rows[:2]]
    back = f"/admin{GADGETS}?q=bulk"
    response = await admin.post(
        GADGETS + "bulk", [("action", "deactivate"), ("back", back), *picked]
    )
    assert response.status_code == 303
    assert response.headers["location"] == back

    async def states() -> dict[str, tuple[bool, Any]]:
        async with env.db.get_session_context() as session:
            found = await session.scalars(select(Gadget).where(Gadget.name.like("bulk-%")))
            return {row.name: (row.is_active, row.updated_by) for row in found}

    admin_id = env.operators[ADMIN].id
    assert await states() == {
        "bulk-a": (False, admin_id),
        "bulk-b": (False, admin_id),
        "bulk-c": (True, None),
    }
    listed = await admin.get(GADGETS, params={"filter_is_active": "false", "q": "bulk"})
    assert sorted(re.findall(r">\s*(bulk-.)\s*</a>", listed.text)) == ["bulk-a", "bulk-b"]
    await admin.post(GADGETS + "bulk", [("action", "activate"), *picked[:1]])
    assert (await states())["bulk-a"][0] is True
    deleted = await admin.post(GADGETS + "bulk", [("action", "delete"), *picked])
    assert deleted.status_code == 303
    assert deleted.headers["location"] == f"/admin{GADGETS}"
    assert set(await states()) == {"bulk-c"}


@pytest.mark.parametrize(
    ("form", "status", "message"),
    [
        (
            [("action", "explode"), ("ids", "x")],
            400,
            "Unknown action &#39;explode&#39;; actions here: delete, activate, deactivate.",
        ),
        ([("action", "")], 400, "Unknown action"),
        ([("action", "delete")], 400, "Tick at least one row."),
        ([("action", "delete"), ("ids", "not-a-uuid")], 404, "No gadget with id not-a-uuid."),
    ],
)
async def test_bulk_refuses_bad_requests(
    admin: AdminClient, form: list[tuple[str, str]], status: int, message: str
) -> None:
    response = await admin.post(GADGETS + "bulk", form)
    assert response.status_code == status
    assert message in response.text


async def test_bulk_back_never_leaves_the_list(env: AdminEnv, admin: AdminClient) -> None:
    (row,) = await make(env, "bulk-back")
    for back in ("https://evil.example/", "//evil.example", "/admin/m/admin_t_maker/"):
        response = await admin.post(
            GADGETS + "bulk", [("action", "deactivate"), ("ids", str(row.id)), ("back", back)]
        )
        assert response.headers["location"] == f"/admin{GADGETS}"


# -- can_create / can_edit / can_delete ---------------------------------------------------


async def test_a_read_only_registration_has_no_write_pages(env: AdminEnv, new_client: Any) -> None:
    (row,) = await make(env, "read-only")
    locked: AdminClient = new_client("/locked")
    assert (await locked.login()).status_code == 303
    listing = await locked.get(GADGETS)
    assert listing.status_code == 200
    locked.token = csrf_of(listing.text)
    assert "New gadget" not in listing.text
    assert '<option value="delete">' not in listing.text
    assert '<option value="activate">' not in listing.text
    detail = await locked.get(f"{GADGETS}{row.id}")
    assert detail.status_code == 200
    assert ">Edit</a>" not in detail.text and "/delete" not in detail.text
    for method, path in [
        ("GET", "new"),
        ("POST", "new"),
        ("GET", f"{row.id}/edit"),
        ("POST", f"{row.id}/edit"),
        ("POST", f"{row.id}/delete"),
    ]:
        if method == "GET":
            response = await locked.get(GADGETS + path)
        else:
            response = await locked.post(GADGETS + path, {"name": "changed", "quantity": "1"})
        assert response.status_code == 404, (method, path)
        assert "There is no such page in the admin." in response.text
    for action in ("delete", "activate", "deactivate"):
        bulk = await locked.post(GADGETS + "bulk", [("action", action), ("ids", str(row.id))])
        assert bulk.status_code == 404  # no bulk action is allowed: the page does not exist
        assert "There is no such page in the admin." in bulk.text
    assert (await load(env, "read-only")) is not None


# -- pages that do not exist --------------------------------------------------------------


@pytest.mark.parametrize(
    "path",
    [
        "/m/nope/",
        "/m/nope/new",
        "/m/nope/export.csv",
        f"/m/nope/{uuid.uuid4()}",
        f"{GADGETS}{uuid.UUID(int=1)}",
        f"{GADGETS}{uuid.UUID(int=1)}/edit",
        f"{GADGETS}123",
        f"{GADGETS}not-a-uuid/edit",
        f"{GADGETS}%27%20OR%201=1",
    ],
)
async def test_unknown_models_and_rows_are_404(admin: AdminClient, path: str) -> None:
    response = await admin.get(path)
    assert response.status_code == 404
    assert response.headers["x-frame-options"] == "DENY"


@pytest.mark.parametrize(
    "path", [f"{uuid.UUID(int=1)}/delete", f"{uuid.UUID(int=1)}/edit", "x/delete"]
)
async def test_posting_to_an_unknown_row_is_404(admin: AdminClient, path: str) -> None:
    response = await admin.post(GADGETS + path, {"name": "x", "quantity": "1"})
    assert response.status_code == 404


async def test_bulk_deleting_referenced_rows_is_a_conflict_that_changes_nothing(
    env: AdminEnv, admin: AdminClient
) -> None:
    loose, held = Maker(name="Loose"), Maker(name="Held")
    async with env.db.get_session_context() as session:
        session.add_all([loose, held])
    async with env.db.get_session_context() as session:
        session.add(Gadget(name="holds", quantity=1, maker_id=held.id))
    form = [("action", "delete"), ("ids", str(loose.id)), ("ids", str(held.id))]
    response = await admin.post("/m/admin_t_maker/bulk", form)
    assert response.status_code == 409
    assert "still referenced" in response.text and "Nothing was changed" in response.text
    for maker in (loose, held):  # one statement, one transaction: neither row went
        assert (await admin.get(f"/m/admin_t_maker/{maker.id}")).status_code == 200


async def test_search_text_that_picked_no_row_is_an_error(
    env: AdminEnv, admin: AdminClient
) -> None:
    form = {**valid_form(env, "unpicked"), "maker_id": "", "maker_id__search": "Glob"}
    response = await admin.post(f"{GADGETS}new", form)
    assert response.status_code == 422
    assert field_error(response.text, "maker_id") == (
        "Choose one of the rows the search offers, or empty the box."
    )
    assert (await count(env, "unpicked")) == 0
    form["maker_id__search"] = ""  # an emptied box: no maker
    assert (await admin.post(f"{GADGETS}new", form)).status_code == 303
    saved = await load(env, "unpicked")
    assert saved is not None and saved.maker_id is None
