"""The admin under test: models on SQLite and PostgreSQL, three routers in one app, clients.

Everything costly (tables, seed rows, the app) is built once per test module and backend;
each test gets fresh httpx clients. Tests that change rows work on ``Gadget`` rows they
make themselves; the ``Part`` rows seeded here are only read.
"""

from __future__ import annotations

import html
import re
from collections.abc import AsyncIterator, Iterator
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from typing import Any
from urllib.parse import urlencode

import httpx
import pytest
from fastapi import FastAPI
from sqlalchemy import event

from tempest.contrib.admin import (
    AdminModel,
    AdminSite,
    AdminTheme,
    UserModelAuthBackend,
    make_admin_router,
)
from tempest.db import AsyncDatabaseManager
from tempest.utils.totp import TOTPHelper
from tests.conftest import _empty_tables
from tests.contrib.admin.models import Gadget, Kind, Maker, Operator, Part

SECRET = "s3cret-admin-key-" + "x" * 40
PASSWORD = "correct horse battery"
ADMIN = "admin@example.com"
STAFF = "staff@example.com"  # active, not an admin
RETIRED = "retired@example.com"  # an admin, no longer active
MFA_USER = "mfa@example.com"
VICTIM = "victim@example.com"  # the throttle test locks this one
EXPORT_MAX_ROWS = 40
REGULAR_PARTS = 60
# Rows for search, LIKE escaping and CSV formula cells: (name, sku).
SPECIAL_PARTS = [
    ("100% Cotton", "X-1"),
    ("snake_case bolt", "X-2"),
    ("=1+2", "X-3"),
    ("+7", "X-4"),
    ("-3 dash", "X-5"),
    ("@SUM(A1)", "X-6"),
    ("Zeta gear", "X-7"),
    ("Gizmo", "ZETA-9"),
]
THEME = AdminTheme(primary="#0f766e", font_family="'Inter', sans-serif", radius="6px")
_TOKEN = re.compile(r'name="csrf_token" value="([^"]+)"')


@pytest.fixture(scope="module")
def anyio_backend() -> str:
    """Module-wide: the module's app, database and seed rows live on one event loop."""
    return "asyncio"


def main_site() -> AdminSite:
    site = AdminSite(title="Test admin", site_url="https://shop.example", theme=THEME)
    site.register(AdminModel(model=Maker, search_fields=[Maker.name], ordering=Maker.name))
    site.register(
        AdminModel(
            model=Gadget,
            list_display=[Gadget.name, "quantity", Gadget.kind, "flag", "maker_id", "created_at"],
            list_filter=["flag", Gadget.kind, "is_active"],
            search_fields=[Gadget.name],
            ordering="-created_at",
        )
    )
    site.register(
        AdminModel(
            model=Part,
            list_display=[Part.name, "sku", Part.kind, "flag", "qty", "maker_id"],
            list_filter=["flag", Part.kind],
            search_fields=[Part.name, Part.sku],
            page_size=25,
        )
    )
    return site


def locked_site() -> AdminSite:
    site = AdminSite(title="Read-only admin")
    site.register(Maker)
    site.register(AdminModel(model=Gadget, can_create=False, can_edit=False, can_delete=False))
    return site


@dataclass
class AdminEnv:
    """The app, its database and what was seeded."""

    backend: str
    app: FastAPI
    db: AsyncDatabaseManager
    makers: dict[str, Maker]
    parts: list[Part]
    operators: dict[str, Operator]
    mfa_secret: str
    statements: list[str] = field(default_factory=list)


def operator(email: str, *, admin: bool = True, active: bool = True, **extra: Any) -> Operator:
    from tempest.contrib.auth.base import _password_utils

    user = Operator(email=email, is_admin=admin, is_active=active, **extra)
    user.hashed_password = _password_utils(4).hash(PASSWORD)
    return user


@pytest.fixture(scope="module")
def cheap_hashes() -> Iterator[None]:
    """bcrypt at cost 4 (the unknown-email check hashes too)."""
    from tempest.contrib.auth import base

    with pytest.MonkeyPatch.context() as patch:
        patch.setattr(base, "password_utils", lambda: base._password_utils(4))
        yield


@pytest.fixture(scope="module")
async def env(database_url: str, cheap_hashes: None) -> AsyncIterator[AdminEnv]:
    """Tables created and emptied, rows seeded, the app with /admin, /locked and /secure."""
    db = AsyncDatabaseManager(database_url)
    await db.connect()
    await db.create_tables()
    await _empty_tables(db)
    secret = TOTPHelper(issuer="tests").generate_secret()
    makers = {name: Maker(name=name) for name in ("Acme", "Globex", "Initech")}
    order = list(makers.values())
    start = datetime(2024, 5, 1, 12, 0, tzinfo=UTC)
    parts = [
        Part(
            name=f"Part {i:02d}",
            sku=f"SKU-{i:03d}",
            kind=list(Kind)[i % 3],
            flag=i % 2 == 0,
            qty=i,
            maker_id=None if i % 4 == 3 else order[i % 3].id,
            created_at=start - timedelta(minutes=i // 2),  # pairs share a timestamp
        )
        for i in range(REGULAR_PARTS)
    ]
    parts += [
        Part(name=name, sku=sku, kind=Kind.spare, flag=False, qty=100 + k, created_at=start)
        for k, (name, sku) in enumerate(SPECIAL_PARTS)
    ]
    operators = {
        ADMIN: operator(ADMIN),
        STAFF: operator(STAFF, admin=False),
        RETIRED: operator(RETIRED, active=False),
        MFA_USER: operator(MFA_USER, mfa_enabled=True, mfa_secret=secret),
        VICTIM: operator(VICTIM),
    }
    async with db.get_session_context() as session:
        session.add_all([*makers.values(), *parts, *operators.values()])
    app = FastAPI()
    backend = UserModelAuthBackend(Operator)
    app.include_router(
        make_admin_router(
            main_site(),
            db=db,
            secret_key=SECRET,
            cookie_secure=False,
            auth_backend=backend,
            export_max_rows=EXPORT_MAX_ROWS,
        )
    )
    app.include_router(
        make_admin_router(
            locked_site(),
            db=db,
            secret_key=SECRET,
            prefix="/locked",
            cookie_secure=False,
            auth_backend=backend,
            show_metrics=False,
        )
    )
    app.include_router(
        make_admin_router(
            main_site(), db=db, secret_key=SECRET, prefix="/secure", auth_backend=backend
        )
    )
    result = AdminEnv(
        database_url.split(":", 1)[0].split("+")[0],
        app,
        db,
        makers,
        parts,
        operators,
        secret,
    )

    def record(conn: Any, cursor: Any, statement: str, *args: Any) -> None:
        result.statements.append(statement)

    event.listen(db.engine.sync_engine, "before_cursor_execute", record)
    try:
        yield result
    finally:
        event.remove(db.engine.sync_engine, "before_cursor_execute", record)
        await _empty_tables(db)
        await db.disconnect()


def operator_admin(env: AdminEnv, **options: Any) -> FastAPI:
    """An app with only the main admin site on ``env``'s database, for the operators.

    Args:
        env: The module's admin environment (its database is used).
        **options: More arguments of ``make_admin_router`` (a throttle, a session store).

    Returns:
        The app, with the admin at ``/admin`` and cookies that are not Secure.
    """
    app = FastAPI()
    app.include_router(
        make_admin_router(
            main_site(),
            db=env.db,
            secret_key=SECRET,
            cookie_secure=False,
            auth_backend=UserModelAuthBackend(Operator),
            **options,
        )
    )
    return app


def csrf_of(page: str) -> str:
    """The csrf_token of the first form of an HTML page."""
    found = _TOKEN.search(page)
    assert found is not None, page
    return html.unescape(found.group(1))


def links(page: str, rel: str | None = None, text: str | None = None) -> list[str]:
    """The hrefs of ``<a>`` elements with ``rel`` or whose text starts with ``text``."""
    result = []
    for match in re.finditer(r"<a ([^>]*)>([^<]*)</a>", page):
        attributes, label = match.groups()
        href = re.search(r'href="([^"]*)"', attributes)
        if href is None:
            continue
        if rel is not None and f'rel="{rel}"' not in attributes:
            continue
        if text is not None and not html.unescape(label).strip().startswith(text):
            continue
        result.append(html.unescape(href.group(1)))
    return result


def row_ids(page: str) -> list[str]:
    """The ids of the rows of a list page, in order."""
    return re.findall(r'name="ids" value="([^"]+)"', page)


class AdminClient:
    """An httpx client on the admin with the CSRF token of its current session."""

    def __init__(self, http: httpx.AsyncClient, prefix: str = "/admin") -> None:
        self.http = http
        self.prefix = prefix
        self.token = ""

    async def get(self, path: str, **kwargs: Any) -> httpx.Response:
        return await self.http.get(self.prefix + path, **kwargs)

    async def post(self, path: str, data: Any = None, *, token: bool = True) -> httpx.Response:
        """POST a form to ``path``, with the session's CSRF token unless ``token`` is False."""
        form = list(data.items()) if isinstance(data, dict) else list(data or [])
        if token:
            form.append(("csrf_token", self.token))
        return await self.http.post(
            self.prefix + path,
            content=urlencode(form),
            headers={"Content-Type": "application/x-www-form-urlencoded"},
        )

    async def login_page(self, query: str = "") -> httpx.Response:
        """GET the sign-in form and keep its (pre-session) token."""
        page = await self.get("/login" + query)
        assert page.status_code == 200, page.text
        self.token = csrf_of(page.text)
        return page

    async def login(
        self, email: str = ADMIN, password: str = PASSWORD, next: str | None = None
    ) -> httpx.Response:
        """Sign in through the form (no redirect followed)."""
        await self.login_page()
        form = {"username": email, "password": password}
        if next is not None:
            form["next"] = next
        return await self.post("/login", form)

    async def refresh_token(self, path: str = "/m/admin_t_maker/") -> str:
        """Read the current session's token from a page."""
        page = await self.get(path)
        assert page.status_code == 200, page.text
        self.token = csrf_of(page.text)
        return self.token


@pytest.fixture
async def clients(env: AdminEnv) -> AsyncIterator[list[httpx.AsyncClient]]:
    made: list[httpx.AsyncClient] = []
    yield made
    for http in made:
        await http.aclose()


@pytest.fixture
def new_client(env: AdminEnv, clients: list[httpx.AsyncClient]) -> Any:
    """Make an anonymous client (its own cookie jar) on ``prefix``."""

    def make(prefix: str = "/admin") -> AdminClient:
        transport = httpx.ASGITransport(app=env.app, raise_app_exceptions=True)
        http = httpx.AsyncClient(transport=transport, base_url="http://testserver")
        clients.append(http)
        return AdminClient(http, prefix)

    return make


@pytest.fixture
def anonymous(new_client: Any) -> AdminClient:
    """A client that has not signed in."""
    client: AdminClient = new_client()
    return client


@pytest.fixture
async def admin(new_client: Any) -> AdminClient:
    """A client signed in as the active admin, holding its session's CSRF token."""
    client: AdminClient = new_client()
    response = await client.login()
    assert response.status_code == 303, response.text
    await client.refresh_token()
    return client
