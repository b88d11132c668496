"""The admin end to end: a real Chromium against a generated project's ``manage.py runserver``.

The project is made exactly as a user would (startproject, startapp, makemigrations,
migrate, ``createsuperuser --noinput``) and nothing else is configured: these tests prove
that the admin at ``/admin`` then works in a browser, with its Content-Security-Policy,
its htmx and its own script. Besides the generated ``OrderModel``, the app ``orders`` gets
customers, carriers and invoices that point to both (added to its files before
``makemigrations``, and filled by ``manage.py seed``), for both kinds of foreign-key field.
"""

from __future__ import annotations

import csv
import io
import re
from collections.abc import Iterator
from pathlib import Path
from typing import TYPE_CHECKING

import pytest

from tests.browser import playwright_calls
from tests.helpers import manage, serve_project, tempest

if TYPE_CHECKING:
    from playwright.sync_api import ConsoleMessage, Dialog, Page, Response

pytestmark = pytest.mark.e2e

EMAIL = "boss@example.com"
PASSWORD = "correct-horse-battery-9"
XSS = "<script>alert(1)</script>"
UUID = r"[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}"
CUSTOMERS = 150
"""More than views.FK_SELECT_LIMIT (100): an invoice's customer is picked in a search box."""
CARRIERS = ["Post", "Rail", "Van"]
"""Few: an invoice's carrier is picked in a select."""

INVOICE_MODELS = '''

import uuid

from sqlalchemy import ForeignKey


class CustomerModel(BaseModel):
    """Someone who is invoiced; the table is named ``customer``."""

    name: Mapped[str] = mapped_column(String(100))


class CarrierModel(BaseModel):
    """Who delivers; the table is named ``carrier``."""

    name: Mapped[str] = mapped_column(String(100))


class InvoiceModel(BaseModel):
    """An invoice to a customer, delivered by a carrier; the table is named ``invoice``."""

    name: Mapped[str] = mapped_column(String(100))
    customer_id: Mapped[uuid.UUID | None] = mapped_column(
        ForeignKey("customer.id"), default=None, index=True
    )
    carrier_id: Mapped[uuid.UUID | None] = mapped_column(
        ForeignKey("carrier.id"), default=None, index=True
    )
'''

INVOICE_ADMIN = """
from orders.models import CarrierModel, CustomerModel, InvoiceModel

site.register(AdminModel(model=CustomerModel, search_fields=[CustomerModel.name]))
site.register(AdminModel(model=CarrierModel))
site.register(
    AdminModel(
        model=InvoiceModel,
        list_display=[InvoiceModel.name, InvoiceModel.customer_id, InvoiceModel.carrier_id],
        search_fields=[InvoiceModel.name],
    )
)
"""

CUSTOMER_SEED = f'''"""Customers and carriers for the admin's foreign-key fields."""

from sqlalchemy.ext.asyncio import AsyncSession

from orders.models import CarrierModel, CustomerModel


def add_customers(session: AsyncSession) -> None:
    """{CUSTOMERS} customers, three with memorable names, and {len(CARRIERS)} carriers."""
    names = ["Ada Lovelace", "Grace Hopper", "Alan Turing"]
    names += [f"Customer {{number:03d}}" for number in range(1, {CUSTOMERS - 2})]
    session.add_all(CustomerModel(name=name) for name in names)
    session.add_all(CarrierModel(name=name) for name in {CARRIERS!r})
'''


@pytest.fixture(scope="module")
def admin_project(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """``shop`` with the app ``orders`` and its invoices, migrated, seeded, one administrator."""
    root = tmp_path_factory.mktemp("admin-browser")
    created = tempest(root, "startproject", "shop")
    assert created.returncode == 0, created.stderr
    project = root / "shop"
    app = manage(project, "startapp", "orders")
    assert app.returncode == 0, app.stderr
    for name, addition in [("models.py", INVOICE_MODELS), ("admin.py", INVOICE_ADMIN)]:
        with (project / "orders" / name).open("a", encoding="utf-8") as module:
            module.write(addition)
    (project / "orders" / "customers.py").write_text(CUSTOMER_SEED, encoding="utf-8")
    for step in ("makemigrations", "migrate"):
        result = manage(project, step)
        assert result.returncode == 0, result.stderr
    # Only this function: the app's own seeds.py would add orders, and the dashboard test
    # expects none.
    seeded = manage(project, "seed", "--seed", "orders.customers:add_customers")
    assert seeded.returncode == 0, seeded.stderr
    superuser = manage(
        project,
        "createsuperuser",
        "--noinput",
        TEMPEST_SUPERUSER_EMAIL=EMAIL,
        TEMPEST_SUPERUSER_PASSWORD=PASSWORD,
    )
    assert superuser.returncode == 0, superuser.stderr
    return project


@pytest.fixture(scope="module")
def admin_url(admin_project: Path) -> Iterator[str]:
    """The admin of the project, served by ``manage.py runserver`` on a free port."""
    # When it does not start, the error shows its output.
    with serve_project(admin_project, "runserver", "--noreload", capture=True) as (base, _):
        yield f"{base}/admin"


class PageWatch:
    """What a page did that a user would notice: console errors, script errors, dialogs."""

    def __init__(self) -> None:
        self.problems: list[str] = []
        self.confirms: list[str] = []
        self.pages: set[str] = set()
        self.answer: bool | None = None
        """How to answer a confirm() dialog; None: no dialog is expected."""

    def on_console(self, message: ConsoleMessage) -> None:
        if message.type != "error":  # a CSP violation is an error too
            return
        # A page answered 400 or 422 (wrong password, invalid form) is logged as a failed
        # load; the tests check those pages themselves.
        refused_page = re.search(r"status of 4(00|22) ", message.text)
        if refused_page and message.location.get("url") in self.pages:
            return
        self.problems.append(f"console: {message.text} at {message.location.get('url')}")

    def on_response(self, response: Response) -> None:
        if response.request.resource_type == "document":
            self.pages.add(response.url)

    def on_dialog(self, dialog: Dialog) -> None:
        if dialog.type == "confirm" and self.answer is not None:
            self.confirms.append(dialog.message)
            dialog.accept() if self.answer else dialog.dismiss()
            return
        self.problems.append(f"unexpected {dialog.type} dialog: {dialog.message}")
        dialog.dismiss()


@pytest.fixture
def watch(page: Page) -> Iterator[PageWatch]:
    """Watches the page; the test fails if the page logged an error or opened a dialog."""
    watcher = PageWatch()
    with playwright_calls():
        page.on("console", watcher.on_console)
        page.on("pageerror", lambda error: watcher.problems.append(f"page error: {error}"))
        page.on("dialog", watcher.on_dialog)
        page.on("response", watcher.on_response)
    yield watcher
    assert watcher.problems == []


def sign_in(page: Page, password: str = PASSWORD) -> None:
    """Fill and send the sign-in form (the page must show it)."""
    page.fill("#username", EMAIL)
    page.fill("#password", password)
    page.click("button:has-text('Sign in')")


def names_in_list(page: Page) -> list[str]:
    """The Name column of the list page, top to bottom."""
    return [
        text.strip()
        for text in page.locator("table.rows tbody tr td:nth-child(2)").all_inner_texts()
    ]


def test_sign_in_dashboard_and_sign_out(page: Page, admin_url: str, watch: PageWatch) -> None:
    page.goto(f"{admin_url}/")
    assert re.search(r"/admin/login\?next=%2Fadmin%2F$", page.url), page.url
    assert page.locator("h1").inner_text() == "Sign in"

    sign_in(page, password="not-the-password")
    assert "Wrong email or password" in page.locator("p.error[role=alert]").inner_text()
    assert page.input_value("#username") == EMAIL  # kept, so only the password is retyped
    assert page.input_value("#password") == ""

    sign_in(page)
    assert page.url == f"{admin_url}/"
    assert page.locator("[data-testid=who]").inner_text() == EMAIL
    card = page.locator(".model-card[data-model=order]")
    assert card.locator("h2").inner_text() == "Orders"
    assert card.locator(".count").inner_text() == "0 rows"

    page.click("button:has-text('Log out')")
    assert page.url == f"{admin_url}/login"
    assert page.locator("h1").inner_text() == "Sign in"
    page.goto(f"{admin_url}/m/order/")
    assert "/admin/login?next=" in page.url
    assert page.locator("table.rows").count() == 0


def test_manage_orders_in_the_browser(
    page: Page, admin_url: str, watch: PageWatch, artifacts_dir: Path
) -> None:
    page.goto(f"{admin_url}/m/order/")
    sign_in(page)  # and back to the page asked for
    assert page.url == f"{admin_url}/m/order/"
    page.wait_for_load_state()  # the click waited for the page to start loading, not its scripts
    assert page.evaluate("typeof window.htmx") == "object"  # loaded under the CSP
    assert page.locator("[data-testid=count]").inner_text().startswith("0 ")

    # Create: an empty name is refused with the field's message, then the order is saved.
    page.click("a:has-text('New order')")
    page.fill("#f-description", "first try")
    page.click("button:has-text('Save')")
    assert page.locator("#e-name").inner_text() == "This field is required."
    assert page.input_value("#f-description") == "first try"  # what was typed stays
    page.fill("#f-name", "Coffee beans")
    page.click("button:has-text('Save')")
    assert re.search(r"/admin/m/order/[0-9a-f-]{36}$", page.url), page.url
    assert "Coffee beans" in page.locator("main").inner_text()

    for name, active in [("Apple pie", True), (XSS, True), ("Zucchini", False)]:
        page.goto(f"{admin_url}/m/order/new")
        page.fill("#f-name", name)
        page.set_checked("#f-is_active", active)
        page.click("button:has-text('Save')")
        assert re.search(r"/admin/m/order/[0-9a-f-]{36}$", page.url), page.url

    # The markup is shown as text on every page, and never runs (no dialog: see `watch`).
    page.goto(f"{admin_url}/m/order/")
    assert page.locator("[data-testid=count]").inner_text() == "4 rows"
    assert XSS in names_in_list(page)
    page.click(f"table.rows a:text-is('{XSS}')")
    assert XSS in page.locator("main").inner_text()
    page.goto(page.url + "/edit")
    assert page.input_value("#f-name") == XSS
    assert page.locator("script:not([src])").count() == 0

    # Search with the q box.
    page.goto(f"{admin_url}/m/order/")
    page.fill("input[name=q]", "pie")
    page.click("button:has-text('Apply')")
    assert names_in_list(page) == ["Apple pie"]
    assert page.locator("[data-testid=count]").inner_text() == "1 matching"

    # Filter is_active with its select.
    page.fill("input[name=q]", "")
    page.select_option("select[name=filter_is_active]", label="No")
    page.click("button:has-text('Apply')")
    assert names_in_list(page) == ["Zucchini"]
    page.select_option("select[name=filter_is_active]", label="All")
    page.click("button:has-text('Apply')")
    assert len(names_in_list(page)) == 4

    # Sort by clicking the Name header: ascending, then descending.
    newest_first = names_in_list(page)
    assert newest_first[0] == "Zucchini"  # ordering="-created_at"
    page.click("th a.sort:text-is('Name')")
    ascending = names_in_list(page)
    assert ascending == sorted(ascending) and ascending != newest_first
    assert ascending[0] == XSS  # "<" sorts before letters
    page.click("th a.sort:text-is('Name')")
    assert names_in_list(page) == ascending[::-1]
    page.screenshot(path=str(artifacts_dir / "list.png"), full_page=True)

    # Edit a record.
    page.click("table.rows a:text-is('Zucchini')")
    page.click("a:has-text('Edit')")
    page.fill("#f-name", "Zucchini bread")
    page.check("#f-is_active")
    page.screenshot(path=str(artifacts_dir / "edit.png"), full_page=True)
    page.click("button:has-text('Save')")
    assert "Zucchini bread" in page.locator("main").inner_text()
    page.goto(f"{admin_url}/m/order/?filter_is_active=false")
    assert names_in_list(page) == []

    # Bulk delete two ticked rows: Go asks first; dismissing keeps them, accepting deletes.
    page.goto(f"{admin_url}/m/order/?sort=name&dir=asc")
    boxes = page.locator("table.rows input[name=ids]")
    page.check("input[data-select-all]")  # admin.js ticks every row
    assert [boxes.nth(i).is_checked() for i in range(4)] == [True] * 4
    page.uncheck("input[data-select-all]")
    assert [boxes.nth(i).is_checked() for i in range(4)] == [False] * 4
    for name in ("Apple pie", "Coffee beans"):
        page.locator("table.rows tbody tr", has_text=name).locator("input[name=ids]").check()
    page.select_option("select[name=action]", "delete")
    watch.answer = False
    page.click("button:has-text('Go')")
    assert watch.confirms == ["Apply this action to the selected rows?"]
    assert len(names_in_list(page)) == 4
    watch.answer = True
    page.click("button:has-text('Go')")
    assert len(watch.confirms) == 2
    page.wait_for_url(re.compile(r"/admin/m/order/\?sort=name&dir=asc$"))
    assert names_in_list(page) == [XSS, "Zucchini bread"]

    # Export the current rows as CSV.
    with page.expect_download() as download_info:
        page.click("a:has-text('Export CSV')")
    download = download_info.value
    assert download.suggested_filename == "order.csv"
    rows = list(csv.reader(io.StringIO(Path(download.path()).read_text(encoding="utf-8"))))
    column = rows[0].index("name")
    assert [row[column] for row in rows[1:]] == [XSS, "Zucchini bread"]

    # Sign out: back at the sign-in page, and the admin sends there again.
    page.click("button:has-text('Log out')")
    assert page.url == f"{admin_url}/login"
    page.goto(f"{admin_url}/")
    assert "/admin/login?next=" in page.url

    for name in ("list.png", "edit.png"):
        shot = artifacts_dir / name
        assert shot.read_bytes().startswith(b"\x89PNG\r\n\x1a\n") and shot.stat().st_size > 1000


def test_foreign_keys_search_box_and_select(page: Page, admin_url: str, watch: PageWatch) -> None:
    from playwright.sync_api import expect

    page.goto(f"{admin_url}/m/invoice/new")
    sign_in(page)
    assert page.url == f"{admin_url}/m/invoice/new"
    page.wait_for_load_state()  # htmx must be loaded before the box is typed in

    # 150 customers: a search box whose hidden input holds the chosen id, not a select.
    assert page.locator("select[name=customer_id]").count() == 0
    customer_id = page.locator("input[type=hidden][name=customer_id]")
    search = page.get_by_role("searchbox", name="Search Customer id")
    results = page.locator(".autocomplete-results")
    assert customer_id.input_value() == ""
    assert search.input_value() == ""
    # 3 carriers: a select of their names (and "—" for none: the column is nullable).
    carrier = page.locator("select#f-carrier_id")
    assert carrier.locator("option").all_inner_texts() == ["—", *CARRIERS]

    # Typing asks the server (htmx) for the matching customers, by name; 20 at most.
    search.fill("customer 1")  # 48 match: Customer 100 to Customer 147
    expect(results.locator("[data-fk-choice]").first).to_have_text("Customer 100")
    expect(results.locator("[data-fk-choice]")).to_have_count(20)
    search.fill("nobody")
    expect(results).to_have_text("Nothing matches “nobody”.")
    search.fill("hopp")
    choice = results.locator("[data-fk-choice]")
    expect(choice).to_have_text(["Grace Hopper"])
    choice.click()  # admin.js puts the id in the hidden input and the name in the box
    grace = customer_id.input_value()
    assert re.fullmatch(UUID, grace), grace
    assert search.input_value() == "Grace Hopper"
    assert results.inner_html().strip() == ""

    page.select_option("#f-carrier_id", label="Rail")
    # Sent without a name, the form comes back with the choices kept, the name still shown.
    page.click("button:has-text('Save')")
    assert page.locator("#e-name").inner_text() == "This field is required."
    assert (customer_id.input_value(), search.input_value()) == (grace, "Grace Hopper")
    assert page.locator("#f-carrier_id option:checked").inner_text() == "Rail"
    page.fill("#f-name", "INV-1")
    page.click("button:has-text('Save')")
    assert re.search(rf"/admin/m/invoice/{UUID}$", page.url), page.url
    invoice_url = page.url

    # The detail page names the customer and the carrier, and links to them.
    shown = page.locator("dd[data-field=customer_id] a")
    assert shown.inner_text() == "Grace Hopper"
    assert shown.get_attribute("href") == f"/admin/m/customer/{grace}"
    assert page.locator("dd[data-field=carrier_id] a").inner_text() == "Rail"
    assert grace not in page.locator("main").inner_text()
    shown.click()
    assert page.url == f"{admin_url}/m/customer/{grace}"
    assert page.locator("dd[data-field=name]").inner_text() == "Grace Hopper"

    # The list shows the names in the Customer id and Carrier id columns.
    page.goto(f"{admin_url}/m/invoice/")
    headers = page.locator("table.rows thead th").all_inner_texts()
    assert [text.strip() for text in headers[1:]] == ["Name", "Customer id", "Carrier id"]
    row = page.locator("table.rows tbody tr")
    assert [text.strip() for text in row.locator("td").all_inner_texts()[1:]] == [
        "INV-1",
        "Grace Hopper",
        "Rail",
    ]

    # The edit form shows the current customer's name in the box, and can change it.
    page.goto(f"{invoice_url}/edit")
    assert search.input_value() == "Grace Hopper"
    assert customer_id.input_value() == grace
    assert page.locator("#f-carrier_id option:checked").inner_text() == "Rail"
    search.fill("turing")
    expect(choice).to_have_text(["Alan Turing"])
    choice.click()
    turing = customer_id.input_value()
    page.fill("#f-name", "")
    page.click("button:has-text('Save')")  # refused: the new choice is kept, by its name
    assert page.locator("#e-name").inner_text() == "This field is required."
    assert (customer_id.input_value(), search.input_value()) == (turing, "Alan Turing")
    page.fill("#f-name", "INV-1")
    page.click("button:has-text('Save')")
    assert page.url == invoice_url
    assert page.locator("dd[data-field=customer_id]").inner_text() == "Alan Turing"

    # Emptying the box takes the customer away (the column is nullable).
    page.goto(f"{invoice_url}/edit")
    search.fill("")
    expect(choice).to_have_count(20)  # the first customers are offered; none is picked
    assert customer_id.input_value() == ""
    page.click("button:has-text('Save')")
    assert page.url == invoice_url
    assert page.locator("dd[data-field=customer_id]").inner_text() == "—"
