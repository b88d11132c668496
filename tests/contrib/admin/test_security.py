"""Security: CSRF on every form, escaping, headers; and configuration mistakes caught early."""

from __future__ import annotations

from typing import Any

import pytest
from sqlalchemy import desc, select

from tempest.contrib.admin import AdminModel, AdminSite, AdminTheme, register
from tests.contrib.admin.conftest import MFA_USER, AdminClient, AdminEnv, csrf_of
from tests.contrib.admin.models import Gadget, Maker, Operator, Part

pytestmark = pytest.mark.anyio

GADGETS = "/m/admin_t_gadget/"
XSS = "<script>alert(1)</script>"
ESCAPED = "&lt;script&gt;alert(1)&lt;/script&gt;"
FORBIDDEN = "The form&#39;s security token is missing or out of date"


async def gadget(env: AdminEnv, name: str, **values: Any) -> Gadget:
    row = Gadget(name=name, quantity=1, **values)
    async with env.db.get_session_context() as session:
        session.add(row)
    return row


async def names(env: AdminEnv) -> set[str]:
    async with env.db.get_session_context() as session:
        return set(await session.scalars(select(Gadget.name)))


def assert_secure_headers(response: Any) -> None:
    csp = response.headers["content-security-policy"]
    assert "frame-ancestors 'none'" in csp and "default-src 'self'" in csp
    assert "script-src" not in csp or "'unsafe-inline'" not in csp
    assert response.headers["x-frame-options"] == "DENY"
    assert response.headers["x-content-type-options"] == "nosniff"


# -- CSRF ---------------------------------------------------------------------------------


def bad_tokens(client: AdminClient, other: AdminClient) -> list[str | None]:
    """No token, an empty one, a made-up one and another session's."""
    assert other.token and other.token != client.token
    return [None, "", "forged-token", other.token, client.token + "x"]


async def post_with(client: AdminClient, path: str, form: dict[str, str], token: str | None) -> Any:
    saved = client.token
    try:
        if token is None:
            return await client.post(path, form, token=False)
        client.token = token
        return await client.post(path, form)
    finally:
        client.token = saved


async def test_login_needs_the_pre_session_token(anonymous: AdminClient, new_client: Any) -> None:
    other = new_client()
    await other.login_page()
    await anonymous.login_page()
    form = {"username": "admin@example.com", "password": "correct horse battery"}
    for token in bad_tokens(anonymous, other):
        response = await post_with(anonymous, "/login", form, token)
        assert response.status_code == 403, token
        assert FORBIDDEN in response.text
        assert_secure_headers(response)
    assert (await anonymous.get("/")).status_code == 303  # still signed out
    cookieless = new_client()
    cookieless.token = anonymous.token  # a token without its cookie
    assert (await cookieless.post("/login", form)).status_code == 403
    await anonymous.login_page()  # the redirect above cleared the visitor's cookie
    assert (await anonymous.post("/login", form)).status_code == 303  # the right one works


async def test_mfa_needs_the_token(env: AdminEnv, new_client: Any, admin: AdminClient) -> None:
    from tempest.utils.totp import TOTPHelper

    client: AdminClient = new_client()
    assert (await client.login(MFA_USER)).status_code == 303
    client.token = csrf_of((await client.get("/mfa")).text)
    code = TOTPHelper(issuer="tests").now(env.mfa_secret)
    for token in bad_tokens(client, admin):
        response = await post_with(client, "/mfa", {"code": code}, token)
        assert response.status_code == 403
    assert (await client.get("/")).headers["location"] == "/admin/mfa"
    async with env.db.get_session_context() as session:
        user = await session.scalar(select(Operator).where(Operator.email == MFA_USER))
        assert user is not None and user.last_login_at is None  # the code was never checked


async def test_logout_needs_the_token(admin: AdminClient, new_client: Any) -> None:
    other = new_client()
    await other.login_page()
    for token in bad_tokens(admin, other):
        assert (await post_with(admin, "/logout", {}, token)).status_code == 403
    assert (await admin.get("/")).status_code == 200  # still signed in


async def test_create_edit_delete_and_bulk_need_the_token(
    env: AdminEnv, admin: AdminClient, new_client: Any
) -> None:
    row = await gadget(env, "guarded")
    other = new_client()
    await other.login()
    await other.refresh_token()
    forms = [
        (GADGETS + "new", {"name": "sneaky", "quantity": "1", "kind": "tool"}),
        (f"{GADGETS}{row.id}/edit", {"name": "hijacked", "quantity": "2", "kind": "tool"}),
        (f"{GADGETS}{row.id}/delete", {}),
        (GADGETS + "bulk", {"action": "delete", "ids": str(row.id)}),
        (GADGETS + "bulk", {"action": "deactivate", "ids": str(row.id)}),
    ]
    for path, form in forms:
        for token in bad_tokens(admin, other):
            response = await post_with(admin, path, form, token)
            assert response.status_code == 403, (path, token)
            assert FORBIDDEN in response.text
    current = await names(env)
    assert "guarded" in current and not current & {"sneaky", "hijacked"}
    async with env.db.get_session_context() as session:
        assert (await session.get(Gadget, row.id)).is_active is True  # type: ignore[union-attr]
    # The same forms with the token go through.
    assert (await admin.post(f"{GADGETS}{row.id}/delete", {})).status_code == 303


# -- escaping -----------------------------------------------------------------------------


async def test_html_in_records_is_escaped_everywhere(env: AdminEnv, admin: AdminClient) -> None:
    maker = Maker(name='<img src=x onerror="alert(2)">')
    async with env.db.get_session_context() as session:
        session.add(maker)
    form = {
        "name": XSS,
        "notes": XSS,
        "quantity": "1",
        "kind": "tool",
        "specs": '{"x": "</script><script>alert(3)</script>"}',
        "maker_id": str(maker.id),
    }
    created = await admin.post(GADGETS + "new", form)
    assert created.status_code == 303, created.text
    url = created.headers["location"].removeprefix("/admin")
    pages = {
        "list": await admin.get(GADGETS, params={"q": "script"}),
        "detail": await admin.get(url),
        "edit": await admin.get(url + "/edit"),
        "new": await admin.get(GADGETS + "new"),  # the maker in the FK select
        "export-free search": await admin.get(GADGETS, params={"q": '"><script>alert(4)</script>'}),
    }
    for where, page in pages.items():
        assert page.status_code == 200, where
        text = page.text
        assert "<script>alert" not in text, where
        assert "<img src=x" not in text, where
        assert "</script><script>" not in text, where
    assert ESCAPED in pages["list"].text and ESCAPED in pages["detail"].text
    assert ESCAPED in pages["edit"].text
    assert "&lt;img src=x onerror=" in pages["new"].text
    assert "&lt;img src=x onerror=" in pages["detail"].text  # the FK label
    # A form shown again with errors escapes what was typed.
    again = await admin.post(GADGETS + "new", form | {"quantity": '"><script>alert(5)</script>'})
    assert again.status_code == 422
    assert "<script>alert" not in again.text
    assert 'value="&#34;&gt;&lt;script&gt;alert(5)&lt;/script&gt;"' in again.text


async def test_error_messages_escape_the_request(admin: AdminClient) -> None:
    response = await admin.get("/m/admin_t_part/", params={"sort": "<b>x</b>"})
    assert response.status_code == 400
    assert "<b>x</b>" not in response.text and "&lt;b&gt;x&lt;/b&gt;" in response.text


# -- headers ------------------------------------------------------------------------------


async def test_every_page_sends_the_security_headers(
    env: AdminEnv, admin: AdminClient, anonymous: AdminClient
) -> None:
    row = await gadget(env, "headers")
    responses = [
        await anonymous.get("/login"),
        await anonymous.get("/"),  # the redirect to sign in
        await admin.get("/"),
        await admin.get(GADGETS),
        await admin.get(GADGETS + "new"),
        await admin.get(f"{GADGETS}{row.id}"),
        await admin.get(f"{GADGETS}{row.id}/edit"),
        await admin.get(GADGETS + "export.csv"),
        await admin.get(GADGETS + "export.json"),
        await admin.get("/m/nope/"),
        await admin.get("/static/admin.css"),
        await admin.post(GADGETS + "bulk", {"action": "delete"}),
    ]
    for response in responses:
        assert_secure_headers(response)
    for response in responses[:10]:
        assert response.headers["cache-control"] == "no-store"


# -- configuration mistakes ---------------------------------------------------------------


def test_admin_model_names_the_columns_of_an_unknown_field() -> None:
    with pytest.raises(ValueError) as caught:
        AdminModel(model=Part, list_display=["name", "colour"])
    message = str(caught.value)
    assert "AdminModel(Part).list_display: 'colour' is not a column" in message
    assert (
        "columns: id, is_active, created_at, updated_at, name, sku, kind, flag, qty, maker_id."
        in message
    )
    for option in ("list_filter", "search_fields", "readonly_fields"):
        with pytest.raises(ValueError, match=f"{option}: 'nope' is not a column"):
            AdminModel(model=Part, **{option: ["nope"]})
    with pytest.raises(ValueError, match="ordering: 'nope' is not a column"):
        AdminModel(model=Part, ordering="-nope")
    with pytest.raises(ValueError, match="is a column of another model"):
        AdminModel(model=Part, list_display=[Gadget.name])
    with pytest.raises(ValueError, match="search_fields takes text columns; 'qty'"):
        AdminModel(model=Part, search_fields=["qty"])


def test_admin_model_checks_its_other_options() -> None:
    with pytest.raises(ValueError, match="page_size must be 1 to 500, got 0"):
        AdminModel(model=Part, page_size=0)
    with pytest.raises(ValueError, match="page_size must be 1 to 500, got 501"):
        AdminModel(model=Part, page_size=501)
    with pytest.raises(TypeError, match="page_size must be an int"):
        AdminModel(model=Part, page_size="25")  # type: ignore[arg-type]
    with pytest.raises(ValueError, match="slug 'Parts!' must be lowercase"):
        AdminModel(model=Part, slug="Parts!")
    with pytest.raises(TypeError, match="needs a mapped model class"):
        AdminModel(model=dict)
    assert AdminModel(model=Part, ordering=desc(Part.qty)).order_key == "qty"
    assert AdminModel(model=Part, ordering=desc(Part.qty)).order_descending is True
    assert (
        AdminModel(model=Part, ordering="-name").order_key,
        AdminModel(model=Part, ordering="-name").order_descending,
    ) == ("name", True)
    assert AdminModel(model=Part, ordering=Part.sku).order_descending is False
    default = AdminModel(model=Gadget)
    assert default.slug == "admin_t_gadget" and default.verbose_name == "gadget"
    assert default.verbose_name_plural == "gadgets"
    assert default.list_display == [
        "is_active",
        "created_at",
        "updated_at",
        "name",
        "quantity",
        "ratio",
    ]
    assert (default.order_key, default.order_descending) == ("created_at", True)


def test_admin_site_refuses_a_duplicate_slug() -> None:
    site = AdminSite()
    first = site.register(AdminModel(model=Part))
    assert site.get("admin_t_part") is first and len(site) == 1
    with pytest.raises(
        ValueError,
        match=r"Admin slug 'admin_t_part' is already used by .*Part; pass slug=\.\.\. to register "
        r".*Gadget",
    ):
        site.register(AdminModel(model=Gadget, slug="admin_t_part"))
    again = site.register(Part)  # the same model again replaces the entry
    assert site.for_model(Part) is again and len(site) == 1
    site.register(AdminModel(model=Gadget, slug="gadgets"))
    assert [item.slug for item in site] == ["admin_t_part", "gadgets"]
    site.unregister(Gadget)
    with pytest.raises(KeyError, match="Gadget is not registered"):
        site.unregister(Gadget)


@pytest.mark.parametrize(
    "value",
    [
        "red; background: url(https://evil.example/x)",
        "red}body{display:none",
        "</style><script>alert(1)</script>",
        "url(https://evil.example/x.png)",
        "expression(alert(1))",
        "red /* comment */",
        "\\72 ed",
        "",
        "x" * 201,
    ],
)
def test_admin_theme_refuses_values_that_escape_css(value: str) -> None:
    with pytest.raises(ValueError, match="is not a plain CSS value"):
        AdminTheme(primary=value)


def test_admin_theme_takes_plain_values() -> None:
    with pytest.raises(TypeError, match=r"AdminTheme\.radius must be a str"):
        AdminTheme(radius=4)  # type: ignore[arg-type]
    theme = AdminTheme(
        primary="rgb(15 118 110)", danger="#b91c1c", font_family='"Inter", sans-serif'
    )
    assert theme.css() == (
        ":root {\n  --admin-primary: rgb(15 118 110);\n  --admin-danger: #b91c1c;\n"
        '  --admin-font-family: "Inter", sans-serif;\n}\n'
    )
    assert AdminTheme().css() == ""


def test_register_decorator() -> None:
    site = AdminSite()
    with pytest.raises(
        TypeError, match="PartAdmin: colour, list_dispaly not AdminModel options; options: "
    ):

        @register(Part, site=site)
        class PartAdmin:
            list_dispaly = ["name"]
            colour = "red"

    assert len(site) == 0

    @register(Part, site=site)
    class GoodAdmin:
        list_display = ["name", "qty"]
        search_fields = [Part.name]
        page_size = 10
        _private = "ignored"

    registered = site.for_model(Part)
    assert registered is not None
    assert (registered.list_display, registered.search_fields, registered.page_size) == (
        ["name", "qty"],
        ["name"],
        10,
    )
    assert GoodAdmin.page_size == 10  # the class is returned unchanged


def test_excluded_columns_are_checked() -> None:
    with pytest.raises(ValueError, match=r"list_display names excluded columns: sku"):
        AdminModel(model=Part, exclude=[Part.sku], list_display=[Part.name, Part.sku])
    with pytest.raises(ValueError, match="'id' cannot be excluded"):
        AdminModel(model=Part, exclude=["id"])
    hidden = AdminModel(model=Part, exclude=["sku"])
    assert "sku" not in hidden.columns and "sku" not in hidden.list_display


async def test_signed_out_visitors_cannot_tell_which_models_exist(anonymous: AdminClient) -> None:
    for path in ("/m/admin_t_part/", "/m/no_such_model/", "/m/no_such_model/new"):
        response = await anonymous.get(path)
        assert response.status_code == 303, path
        assert response.headers["location"].startswith("/admin/login?next=")


async def test_a_visitors_sign_in_token_survives_a_redirect(anonymous: AdminClient) -> None:
    await anonymous.login_page()  # a sign-in form is open in one tab...
    assert (await anonymous.get("/m/admin_t_part/")).status_code == 303  # ...another tab
    response = await anonymous.login()  # the first tab's form still works
    assert response.status_code == 303


async def test_signed_out_visitors_do_not_learn_column_names(anonymous: AdminClient) -> None:
    for params in ({"sort": "secret_column"}, {"filter_nope": "1"}):
        response = await anonymous.get("/m/admin_t_part/", params=params)
        assert response.status_code == 303
        assert response.headers["location"].startswith("/admin/login?next=")


def test_router_and_cookie_options_are_checked() -> None:
    from tempest.contrib.admin import make_admin_router
    from tempest.contrib.admin.sessions import SignedCookieSessionStore

    secret = "s" * 32
    with pytest.raises(ValueError, match="export_max_rows must be at least 1, got 0"):
        make_admin_router(AdminSite(), secret_key=secret, export_max_rows=0)
    with pytest.raises(ValueError, match="same_site must be 'lax', 'strict' or 'none'"):
        SignedCookieSessionStore(secret, same_site="sometimes")  # type: ignore[arg-type]
    with pytest.raises(ValueError, match=r"at least 32 bytes \(got 31\).*token_urlsafe"):
        SignedCookieSessionStore("s" * 31)


async def test_an_oversized_form_is_refused(admin: AdminClient) -> None:
    response = await admin.post("/m/admin_t_maker/new", {"name": "x" * 1_000_001})
    assert response.status_code == 413
    assert "The form is too large." in response.text
