"""Anonymous hostile input on a generated project: never a 500, never a secret echoed back.

One project (auth + admin + the ``startapp`` example resource, plus routes a user writes
with plain pydantic models, ``Query`` and ``Path`` parameters that reach the database) is
generated once and built in-process on SQLite and PostgreSQL. Every route gets NUL
characters, lone UTF-16 surrogates, ``NaN``/``Infinity``, invalid UTF-8, deep nesting and
oversized bodies; the answers are the ``{detail, code, details}`` envelope (or the admin's
error page), and an oversized body is refused before the app reads it.
"""

from __future__ import annotations

import json
import secrets
import textwrap
from collections.abc import AsyncIterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import httpx
import pytest

from tempest.apps import apps
from tempest.conf import Settings, settings
from tempest.core.asgi import get_asgi_application
from tempest.db import get_database, reset_database
from tests.conftest import _empty_tables
from tests.contrib.admin.conftest import AdminClient
from tests.helpers import manage, tempest

pytestmark = [pytest.mark.anyio, pytest.mark.usefixtures("restore_root_logging")]

PASSWORD = "correct horse battery"
SECRET_VALUE = "hunter2-do-not-echo"
LIMIT = 2_621_440  # the default MAX_REQUEST_BODY_SIZE (2.5 MiB, Django's)
ENVELOPE = {"detail", "code", "details"}

# Routes a user writes by hand next to the generated ones: plain models, Query and Path
# parameters whose strings go straight to the database.
USER_ROUTES = """

from pydantic import BaseModel, SecretStr
from fastapi import Path, Query
from sqlalchemy import select

from tempest.db import get_session
from sqlalchemy.ext.asyncio import AsyncSession
from parcels.models import ParcelModel


class PlainIn(BaseModel):
    name: str
    note: str = ""


class CredentialIn(BaseModel):
    name: str
    api_secret: SecretStr
    pin_hash: SecretStr


Session = Annotated[AsyncSession, Depends(get_session)]


@router.post("/plain", status_code=201)
async def plain_create(data: PlainIn, session: Session) -> dict[str, str]:
    row = ParcelModel(name=data.name, description=data.note)
    session.add(row)
    await session.flush()
    return {"id": str(row.id)}


@router.post("/credential")
async def credential(data: CredentialIn) -> dict[str, int]:
    return {"length": len(data.api_secret.get_secret_value())}


@router.get("/lookup/by-name")
async def lookup(session: Session, name: Annotated[str, Query()]) -> dict[str, int]:
    rows = await session.execute(select(ParcelModel).where(ParcelModel.name == name))
    return {"count": len(rows.all())}


@router.get("/named/{name}")
async def named(session: Session, name: Annotated[str, Path()]) -> dict[str, int]:
    rows = await session.execute(select(ParcelModel).where(ParcelModel.name == name))
    return {"count": len(rows.all())}
"""


@pytest.fixture(scope="module")
def anyio_backend() -> str:
    """Module-wide: the app and its database live on one event loop."""
    return "asyncio"


@pytest.fixture(scope="module")
def project(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """``startproject shop`` + ``startapp parcels``, with the hand-written routes added."""
    root = tmp_path_factory.mktemp("hostile")
    created = tempest(root, "startproject", "shop")
    assert created.returncode == 0, created.stderr
    folder = root / "shop"
    app = manage(folder, "startapp", "parcels")
    assert app.returncode == 0, app.stderr
    routers = folder / "parcels" / "routers.py"
    # The example's writes need a signed-in user; open them as docs/topics/apps.md shows,
    # so that anonymous hostile bodies reach their validation.
    source = routers.read_text()
    assert source.count("    dependencies=[SignedIn],\n") == 3, source
    source = source.replace("    dependencies=[SignedIn],\n", "")
    routers.write_text(source + textwrap.dedent(USER_ROUTES))
    return folder


@dataclass
class Site:
    """The generated project's app and an anonymous client on it."""

    backend: str
    http: httpx.AsyncClient
    app: Any


@pytest.fixture(scope="module")
async def site(project: Path, database_url: str) -> AsyncIterator[Site]:
    """The project built in-process on ``database_url``, tables created, an admin user."""
    with pytest.MonkeyPatch.context() as patch:
        patch.syspath_prepend(str(project))
        values: dict[str, Any] = {
            "INSTALLED_APPS": ["tempest.contrib.auth", "tempest.contrib.admin", "parcels"],
            "DATABASE_URL": database_url,
            "SECRET_KEY": secrets.token_urlsafe(48),
            "JWT_SECRET": secrets.token_urlsafe(48),
            "AUTH_PASSWORD_HASH_ROUNDS": 4,
            "TITLE": "Shop",
        }
        settings.configure(Settings(**values))  # type: ignore[attr-defined]
        app = get_asgi_application()
        database = get_database()
        await database.connect()
        await database.create_tables()
        await _empty_tables(database)
        from tempest.contrib.auth.users import get_user_model

        async with database.get_session_context() as session:
            user = get_user_model()(email="root@example.com", is_admin=True, is_active=True)
            user.set_password(PASSWORD)
            session.add(user)
        transport = httpx.ASGITransport(app=app, raise_app_exceptions=False)
        async with httpx.AsyncClient(transport=transport, base_url="https://testserver") as http:
            yield Site(database_url.split(":", 1)[0].split("+")[0], http, app)
        await _empty_tables(database)
        await database.disconnect()
        apps.reset()
        settings.reset()  # type: ignore[attr-defined]
        reset_database()


def strict_json(response: httpx.Response) -> Any:
    """The body as JSON, refusing NaN/Infinity (which no JSON client can read)."""

    def refuse(token: str) -> Any:
        raise AssertionError(f"{token} in the response body: {response.text[:200]}")

    return json.loads(response.text, parse_constant=refuse)


def assert_refused(response: httpx.Response, *statuses: int) -> dict[str, Any]:
    """A 4xx envelope with one of ``statuses`` (default 422), valid strict JSON."""
    expected = statuses or (422,)
    assert response.status_code in expected, (response.status_code, response.text[:500])
    body = strict_json(response)
    assert set(body) == ENVELOPE, body
    return dict(body)


# -- JSON bodies: NUL, lone surrogates, NaN, Infinity -------------------------------------

# (route, body with the "@" placeholder where the hostile JSON token goes)
JSON_TARGETS = [
    ("/api/auth/signup", {"email": "@", "password": PASSWORD}),
    ("/api/auth/signup", {"email": "ana@example.com", "password": "@"}),
    ("/api/auth/login", {"email": "@", "password": PASSWORD}),
    ("/api/auth/login", {"email": "ana@example.com", "password": "@"}),
    ("/api/auth/activate/resend", {"email": "@"}),
    ("/api/auth/password-reset/request", {"email": "@"}),
    ("/api/parcels", {"name": "@"}),
    ("/api/parcels", {"name": "ok", "description": "@"}),
    ("/api/parcels/plain", {"name": "@"}),
    ("/api/parcels/plain", {"name": "ok", "note": "@"}),
]
# Raw JSON tokens: a NUL escape, a lone surrogate (high, low), NUL inside longer text,
# and the non-standard constants Python's json module accepts.
HOSTILE_TOKENS = {
    "nul": '"\\u0000"',
    "nul-in-text": '"abc\\u0000def@example.com"',
    "high-surrogate": '"\\ud800"',
    "low-surrogate": '"x\\udfff"',
    "NaN": "NaN",
    "Infinity": "Infinity",
    "-Infinity": "-Infinity",
}


def hostile_body(template: dict[str, Any], token: str) -> bytes:
    return json.dumps(template).replace('"@"', token).encode()


@pytest.mark.parametrize("token", list(HOSTILE_TOKENS), ids=list(HOSTILE_TOKENS))
@pytest.mark.parametrize(
    ("path", "template"), JSON_TARGETS, ids=[f"{p}:{next(iter(t))}" for p, t in JSON_TARGETS]
)
async def test_hostile_json_strings_are_a_422(
    site: Site, path: str, template: dict[str, Any], token: str
) -> None:
    response = await site.http.post(
        path,
        content=hostile_body(template, HOSTILE_TOKENS[token]),
        headers={"Content-Type": "application/json"},
    )
    assert_refused(response)


async def test_a_valid_surrogate_pair_and_escapes_still_work(site: Site) -> None:
    # An emoji sent as an escaped pair, an escaped backslash before "u0000" (the text
    # \u0000, not NUL), and non-ASCII text as Python's json.dumps sends it.
    name = "\U0001f600 \\u0000 caf\u00e9"
    response = await site.http.post(
        "/api/parcels",
        content=json.dumps({"name": name}),
        headers={"Content-Type": "application/json"},
    )
    assert response.status_code == 201, response.text
    assert response.json()["name"] == name


# -- query and path parameters ---------------------------------------------------------------

# Query and path strings that reach the database (the example's filter, hand-written
# Query/Path parameters) and one that a UUID parameter refuses anyway.
QUERY_TARGETS = [
    "/api/parcels?name={}",
    "/api/parcels/lookup/by-name?name={}",
    "/api/parcels/named/{}",
    "/api/parcels/{}",
]
HTML_TARGETS = ["/api/auth/activate?token={}", "/api/auth/password-reset?token={}"]


@pytest.mark.parametrize("target", QUERY_TARGETS)
async def test_nul_in_query_and_path_is_a_422_where_the_database_refuses_it(
    site: Site, target: str
) -> None:
    response = await site.http.get(target.format("a%00b"))
    if site.backend == "sqlite" and response.status_code == 200:
        return  # SQLite stores and compares NUL like any character
    body = assert_refused(response)
    assert body["code"] == "VALIDATION_ERROR"


@pytest.mark.parametrize("target", HTML_TARGETS)
async def test_nul_in_the_token_of_an_auth_page_is_no_500(site: Site, target: str) -> None:
    response = await site.http.get(target.format("a%00b"))
    assert response.status_code in (200, 400), response.text


@pytest.mark.parametrize("target", QUERY_TARGETS + HTML_TARGETS)
async def test_invalid_utf8_in_query_and_path_is_no_500(site: Site, target: str) -> None:
    # %ED%A0%80 is a UTF-8-encoded surrogate, %FF never valid: decoded with U+FFFD.
    response = await site.http.get(target.format("%ED%A0%80%FF"))
    assert response.status_code < 500, response.text


# -- malformed bodies --------------------------------------------------------------------------


@pytest.mark.parametrize(
    "content",
    [
        b'{"name": "\xff\xfe caf\xe9"}',  # invalid UTF-8
        b'{"name": "ab',  # truncated
        b"[" * 100_000 + b"]" * 100_000,  # deeply nested: recursion in the JSON decoder
        b'{"name": ' + b"[" * 5_000 + b"]" * 5_000 + b"}",
        b'{"name": 1e999999}',  # float overflow -> inf
        b"\x00\x00\x00",
    ],
    ids=["invalid-utf8", "truncated", "nested-100k", "nested-5k-in-field", "1e999999", "nul-bytes"],
)
@pytest.mark.parametrize("path", ["/api/parcels", "/api/parcels/plain", "/api/auth/login"])
async def test_malformed_json_is_a_4xx_envelope(site: Site, path: str, content: bytes) -> None:
    response = await site.http.post(
        path, content=content, headers={"Content-Type": "application/json"}
    )
    assert_refused(response, 400, 422)


# -- never echo secrets ------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("path", "body"),
    [
        ("/api/auth/signup", {"password": SECRET_VALUE}),  # missing email: input = the body
        ("/api/auth/signup", {"email": "not-an-email", "password": SECRET_VALUE}),
        ("/api/auth/signup", {"email": "ana@example.com", "password": SECRET_VALUE[:3]}),
        ("/api/auth/login", {"email": "ana@example.com", "password": [SECRET_VALUE]}),
        ("/api/auth/password-reset/confirm", {"token": SECRET_VALUE, "password": 7}),
        ("/api/auth/mfa/disable", {"code": SECRET_VALUE, "password": SECRET_VALUE}),
        ("/api/parcels/credential", {"name": "x", "api_secret": [SECRET_VALUE], "pin_hash": 1}),
        ("/api/parcels/credential", {"api_secret": SECRET_VALUE, "pin_hash": SECRET_VALUE}),
    ],
)
async def test_a_422_never_echoes_a_secret(site: Site, path: str, body: dict[str, Any]) -> None:
    response = await site.http.post(path, json=body)
    assert response.status_code in (401, 422), response.text
    assert SECRET_VALUE not in response.text
    assert SECRET_VALUE[:3] not in response.text


async def test_a_422_keeps_the_input_of_ordinary_fields(site: Site) -> None:
    response = await site.http.post("/api/parcels", json={"name": "x" * 101})
    body = assert_refused(response)
    (error,) = body["details"]["errors"]
    assert error["loc"] == ["body", "name"] and error["input"] == "x" * 101


# -- body size -------------------------------------------------------------------------------


class CountingBody:
    """A request body streamed in chunks, counting how many bytes the app pulled."""

    def __init__(self, total: int, chunk: int = 65_536) -> None:
        self.total = total
        self.chunk = chunk
        self.pulled = 0

    async def __aiter__(self) -> AsyncIterator[bytes]:
        while self.pulled < self.total:
            size = min(self.chunk, self.total - self.pulled)
            self.pulled += size
            yield b" " * size


NOT_READ = {"/health/liveness", "/api/nowhere"}


@pytest.mark.parametrize(
    ("path", "content_type"),
    [
        ("/api/parcels", "application/json"),
        ("/api/auth/login", "application/json"),
        ("/api/parcels/plain", "application/json"),
        ("/api/auth/logout", "application/json"),
        ("/health/liveness", "application/json"),  # a GET route: 405 would read nothing
        ("/api/nowhere", "text/plain"),
    ],
)
@pytest.mark.parametrize("declared", [True, False], ids=["content-length", "chunked"])
async def test_an_oversized_body_is_a_413_before_it_is_read(
    site: Site, path: str, content_type: str, declared: bool
) -> None:
    body = CountingBody(LIMIT * 4)
    headers = {"Content-Type": content_type}
    if declared:
        headers["Content-Length"] = str(body.total)
    request = site.http.build_request("POST", path, content=body, headers=headers)
    if not declared:
        assert "content-length" not in request.headers
        assert request.headers["transfer-encoding"] == "chunked"
    response = await site.http.send(request)
    if not declared and path in NOT_READ:
        # Nothing reads the body of an unknown path or method: refused without reading.
        assert_refused(response, 404, 405)
        assert body.pulled <= body.chunk
        return
    payload = assert_refused(response, 413)
    assert payload["code"] == "CONTENT_TOO_LARGE"
    assert "MAX_REQUEST_BODY_SIZE" in payload["detail"]
    if declared:
        assert body.pulled <= body.chunk  # the declared length was enough to refuse
    else:
        assert body.pulled <= LIMIT + body.chunk  # counted while streaming


async def test_a_body_at_the_limit_is_read(site: Site) -> None:
    empty = json.dumps({"name": "ok", "note": ""})
    content = empty.replace('""', '"' + " " * (LIMIT - len(empty)) + '"')
    assert len(content) == LIMIT
    response = await site.http.post(
        "/api/parcels/plain", content=content, headers={"Content-Type": "application/json"}
    )
    assert response.status_code == 201, response.text[:300]


# -- the admin -------------------------------------------------------------------------------


@pytest.fixture
async def admin(site: Site) -> AsyncIterator[AdminClient]:
    """A client signed in to the generated project's admin."""
    transport = httpx.ASGITransport(app=site.app, raise_app_exceptions=False)
    async with httpx.AsyncClient(transport=transport, base_url="https://testserver") as http:
        client = AdminClient(http)
        response = await client.login("root@example.com", PASSWORD)
        assert response.status_code == 303, response.text
        await client.refresh_token("/m/parcel/")
        yield client


@pytest.fixture
async def visitor(site: Site) -> AsyncIterator[AdminClient]:
    """An anonymous client of the admin, holding the sign-in form's token."""
    transport = httpx.ASGITransport(app=site.app, raise_app_exceptions=False)
    async with httpx.AsyncClient(transport=transport, base_url="https://testserver") as http:
        client = AdminClient(http)
        await client.login_page()
        yield client


def assert_error_page(response: httpx.Response, status: int = 400) -> None:
    assert response.status_code == status, (response.status_code, response.text[:500])
    assert "text/html" in response.headers["content-type"]


@pytest.mark.parametrize("field", ["username", "password", "next"])
async def test_admin_sign_in_with_nul_is_a_form_error(visitor: AdminClient, field: str) -> None:
    form = {"username": "root@example.com", "password": PASSWORD, field: "a\x00b"}
    response = await visitor.post("/login", form)
    assert_error_page(response)


@pytest.mark.parametrize(
    "query",
    ["q=%00", "q=a%00b", "filter_is_active=%00", "sort=%00", "after=%00", "a%00=1"],
)
async def test_admin_list_with_nul_is_a_400_page(admin: AdminClient, query: str) -> None:
    assert_error_page(await admin.get(f"/m/parcel/?{query}"))


async def test_admin_autocomplete_with_nul_is_a_400_page(admin: AdminClient) -> None:
    assert_error_page(await admin.get("/m/parcel/autocomplete?q=%00"))


async def test_admin_detail_with_nul_in_the_path_is_an_error_page(admin: AdminClient) -> None:
    response = await admin.get("/m/parcel/a%00b")
    assert_error_page(response, 404)  # no such row (the id is no UUID)


@pytest.mark.parametrize("field", ["name", "description"])
async def test_admin_create_with_nul_is_a_form_error(admin: AdminClient, field: str) -> None:
    form = {"name": "ok", "description": "", "is_active": "on", field: "a\x00b"}
    response = await admin.post("/m/parcel/new", form)
    assert_error_page(response)


@pytest.mark.parametrize("declared", [True, False], ids=["content-length", "chunked"])
async def test_admin_form_limit_is_enforced_while_streaming(
    visitor: AdminClient, declared: bool
) -> None:
    body = CountingBody(1_500_000, chunk=16_384)
    headers = {"Content-Type": "application/x-www-form-urlencoded"}
    if declared:
        headers["Content-Length"] = str(body.total)
    response = await visitor.http.post("/admin/login", content=body, headers=headers)
    assert_error_page(response, 413)
    assert body.pulled <= (body.chunk if declared else 1_000_000 + body.chunk)


# -- auth pages that carry tokens ------------------------------------------------------------


@pytest.mark.parametrize(
    "path", ["/api/auth/activate?token=abc", "/api/auth/password-reset?token=abc"]
)
async def test_auth_token_pages_send_the_admin_security_headers(site: Site, path: str) -> None:
    response = await site.http.get(path)
    assert "text/html" in response.headers["content-type"]
    headers = response.headers
    assert headers["x-frame-options"] == "DENY"
    assert "frame-ancestors 'none'" in headers["content-security-policy"]
    assert headers["cache-control"] == "no-store"
    assert headers["referrer-policy"] == "no-referrer"
    assert headers["x-content-type-options"] == "nosniff"


# -- the generated example resource ----------------------------------------------------------


def test_the_example_resource_bounds_its_text_in_schema_and_model(project: Path) -> None:
    import ast

    models = (project / "parcels" / "models.py").read_text()
    schemas = (project / "parcels" / "schemas.py").read_text()
    bounds = {}
    for node in ast.walk(ast.parse(models)):
        if isinstance(node, ast.AnnAssign) and isinstance(node.target, ast.Name):
            call = node.value
            assert isinstance(call, ast.Call)
            (kind,) = [arg for arg in call.args if isinstance(arg, ast.Call)]
            assert isinstance(kind.func, ast.Name) and kind.func.id == "String", models
            bounds[node.target.id] = ast.literal_eval(kind.args[0])
    assert set(bounds) == {"name", "description"}
    for cls in ("CreateSchema", "UpdateSchema"):
        section = schemas.split(f"class Parcel{cls}", 1)[1].split("\nclass ", 1)[0]
        for name, size in bounds.items():
            line = next(item for item in section.splitlines() if item.strip().startswith(name))
            assert f"max_length={size}" in line, (cls, line)
