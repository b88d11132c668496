"""File columns in the admin: upload in create/edit forms, checks, downloads, previews.

The admin serves ``Document`` (an image column and a required PDF column) on SQLite and
PostgreSQL; files go to the project's default storage, a temporary ``UPLOAD_DIR``.
"""

from __future__ import annotations

import re
import secrets
import uuid
from collections.abc import AsyncIterator
from dataclasses import dataclass
from pathlib import Path

import httpx
import pytest
from fastapi import FastAPI

from tempest.conf import settings
from tempest.contrib.admin import UserModelAuthBackend, make_admin_router
from tempest.db import AsyncDatabaseManager
from tests.conftest import _empty_tables
from tests.contrib.admin.conftest import SECRET, AdminClient, operator
from tests.contrib.admin.file_models import CONTRACT_LIMIT, Document, FileSettings, document_site
from tests.contrib.admin.models import Operator
from tests.files.samples import pdf, png

pytestmark = pytest.mark.anyio

UUID = r"[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}"


@dataclass
class FilesEnv:
    app: FastAPI
    db: AsyncDatabaseManager
    root: Path


@pytest.fixture(scope="module")
def anyio_backend() -> str:
    return "asyncio"


@pytest.fixture(scope="module")
async def files_env(
    database_url: str, cheap_hashes: None, tmp_path_factory: pytest.TempPathFactory
) -> AsyncIterator[FilesEnv]:
    root = tmp_path_factory.mktemp("admin-files")
    settings.configure(  # type: ignore[attr-defined]
        FileSettings(UPLOAD_DIR=str(root), SECRET_KEY=secrets.token_urlsafe(48))
    )
    db = AsyncDatabaseManager(database_url)
    await db.connect()
    await db.create_tables()
    await _empty_tables(db)
    async with db.get_session_context() as session:
        session.add(operator("files@example.com"))
    app = FastAPI()
    app.include_router(
        make_admin_router(
            document_site(),
            db=db,
            secret_key=SECRET,
            cookie_secure=False,
            auth_backend=UserModelAuthBackend(Operator),
        )
    )
    try:
        yield FilesEnv(app, db, root)
    finally:
        await _empty_tables(db)
        await db.disconnect()
        settings.reset()  # type: ignore[attr-defined]


@pytest.fixture
async def admin(files_env: FilesEnv) -> AsyncIterator[AdminClient]:
    transport = httpx.ASGITransport(app=files_env.app)
    async with httpx.AsyncClient(transport=transport, base_url="http://testserver") as http:
        client = AdminClient(http)
        response = await client.login("files@example.com")
        assert response.status_code == 303, response.text
        await client.refresh_token("/m/admin_t_document/")
        yield client


def stored_files(root: Path) -> set[str]:
    """The stored files' keys (the staging folder left out)."""
    return {
        str(path.relative_to(root))
        for path in root.rglob("*")
        if path.is_file() and ".staging" not in path.parts
    }


async def send(
    admin: AdminClient,
    path: str,
    data: dict[str, str],
    files: dict[str, tuple[str, bytes, str]],
    *,
    token: bool = True,
) -> httpx.Response:
    """POST a multipart form (with the session's CSRF token)."""
    fields = {**data, **({"csrf_token": admin.token} if token else {})}
    return await admin.http.post(admin.prefix + path, data=fields, files=files)


async def create(admin: AdminClient, name: str = "Lease") -> str:
    """Create a document with a photo and a contract; return its id."""
    files = {"photo": ("me.png", png(), "image/png"), "contract": ("c.pdf", pdf(), "x/y")}
    response = await send(admin, "/m/admin_t_document/new", {"name": name}, files)
    assert response.status_code == 303, response.text
    found = re.search(rf"/m/admin_t_document/({UUID})$", response.headers["location"])
    assert found is not None, response.headers["location"]
    return found.group(1)


async def test_the_forms_send_files_as_multipart(admin: AdminClient) -> None:
    page = await admin.get("/m/admin_t_document/new")
    assert 'enctype="multipart/form-data"' in page.text
    assert '<input id="f-photo" type="file" name="photo" accept="image/gif,image/jpeg' in page.text
    assert 'name="contract" accept="application/pdf"' in page.text


async def test_create_stores_the_files_and_shows_them(
    admin: AdminClient, files_env: FilesEnv
) -> None:
    identity = await create(admin)
    detail = await admin.get(f"/m/admin_t_document/{identity}")
    assert detail.status_code == 200
    file_url = f"/admin/m/admin_t_document/{identity}/file/photo"
    assert f'<a href="{file_url}" data-testid="file-link">me.png</a>' in detail.text
    assert f'src="{file_url}?inline=1"' in detail.text  # the preview
    assert "c.pdf" in detail.text and "application/pdf" in detail.text
    # The contract is a PDF: a link, never an inline preview.
    assert f"{identity}/file/contract?inline=1" not in detail.text

    listing = await admin.get("/m/admin_t_document/")
    assert f'src="{file_url}?inline=1"' in listing.text and 'class="thumb"' in listing.text

    download = await admin.get(f"/m/admin_t_document/{identity}/file/photo")
    assert download.status_code == 200
    assert download.content == png()
    assert download.headers["content-type"] == "image/png"
    assert download.headers["content-disposition"] == 'attachment; filename="me.png"'
    assert "sandbox" in download.headers["content-security-policy"]
    inline = await admin.get(f"/m/admin_t_document/{identity}/file/photo?inline=1")
    assert inline.headers["content-disposition"].startswith("inline")
    contract = await admin.get(f"/m/admin_t_document/{identity}/file/contract?inline=1")
    assert contract.content == pdf()
    assert contract.headers["content-disposition"].startswith("attachment")  # not an image
    keys = stored_files(files_env.root)
    assert any(key.startswith("photos/") for key in keys)
    assert any(key.startswith("contracts/") for key in keys)


async def test_a_required_file_is_asked_for(admin: AdminClient, files_env: FilesEnv) -> None:
    before = stored_files(files_env.root)
    files = {"photo": ("me.png", png(), "image/png")}
    response = await send(admin, "/m/admin_t_document/new", {"name": "No contract"}, files)
    assert response.status_code == 422
    assert '<p class="field-error" id="e-contract" role="alert">Choose a file.</p>' in response.text
    assert stored_files(files_env.root) == before  # the photo was not kept


async def test_a_file_of_a_refused_type_is_a_field_error(
    admin: AdminClient, files_env: FilesEnv
) -> None:
    before = stored_files(files_env.root)
    html = b"<html><script>alert(1)</script></html>"
    files = {"photo": ("cat.png", html, "image/png"), "contract": ("c.pdf", pdf(), "x/y")}
    response = await send(admin, "/m/admin_t_document/new", {"name": "Bad"}, files)
    assert response.status_code == 422
    error = re.search(r'id="e-photo" role="alert">([^<]*)<', response.text)
    assert error is not None and error.group(1).startswith("Unsupported file type"), error
    assert stored_files(files_env.root) == before  # neither file stays


async def test_a_pdf_renamed_png_is_refused(admin: AdminClient) -> None:
    files = {"photo": ("me.png", pdf(), "image/png"), "contract": ("c.pdf", pdf(), "x/y")}
    response = await send(admin, "/m/admin_t_document/new", {"name": "Renamed"}, files)
    assert response.status_code == 422
    assert 'id="e-photo"' in response.text


async def test_a_file_over_the_limit_is_a_field_error(
    admin: AdminClient, files_env: FilesEnv
) -> None:
    before = stored_files(files_env.root)
    big = pdf() + b"%" * CONTRACT_LIMIT
    files = {"contract": ("big.pdf", big, "application/pdf")}
    response = await send(admin, "/m/admin_t_document/new", {"name": "Big"}, files)
    assert response.status_code == 422
    error = re.search(r'id="e-contract" role="alert">([^<]*)<', response.text)
    assert error is not None and f"larger than {CONTRACT_LIMIT} bytes" in error.group(1)
    assert stored_files(files_env.root) == before


async def test_a_form_refused_for_another_field_stores_no_file(
    admin: AdminClient, files_env: FilesEnv
) -> None:
    before = stored_files(files_env.root)
    files = {"photo": ("me.png", png(), "image/png"), "contract": ("c.pdf", pdf(), "x/y")}
    response = await send(admin, "/m/admin_t_document/new", {"name": ""}, files)
    assert response.status_code == 422
    assert 'id="e-name"' in response.text
    assert stored_files(files_env.root) == before


async def test_a_multipart_form_needs_its_csrf_token(admin: AdminClient) -> None:
    files = {"contract": ("c.pdf", pdf(), "application/pdf")}
    response = await send(admin, "/m/admin_t_document/new", {"name": "x"}, files, token=False)
    assert response.status_code == 403


async def test_a_declared_length_over_the_files_limits_is_refused(admin: AdminClient) -> None:
    response = await admin.http.post(
        "/admin/m/admin_t_document/new",
        content=b"--x--\r\n",
        headers={
            "content-type": "multipart/form-data; boundary=x",
            "content-length": str(10**9),
        },
    )
    assert response.status_code == 413


async def test_edit_keeps_replaces_and_removes_files(
    admin: AdminClient, files_env: FilesEnv
) -> None:
    identity = await create(admin, "Edited")
    path = f"/m/admin_t_document/{identity}/edit"
    form = await admin.get(path)
    assert 'data-testid="current-file">me.png</a>' in form.text
    assert 'name="photo__clear"' in form.text  # nullable: may be removed
    assert 'name="contract__clear"' not in form.text  # required: may only be replaced

    kept = await send(admin, path, {"name": "Renamed"}, {})
    assert kept.status_code == 303, kept.text
    async with files_env.db.get_session_context() as session:
        row = await session.get(Document, identity_of(identity))
        assert row is not None and row.photo is not None and row.name == "Renamed"
        old_photo = row.photo.key

    other = png()[:-12] + png()[-12:]  # the same image, a new upload
    replaced = await send(admin, path, {"name": "Renamed"}, {"photo": ("new.png", other, "")})
    assert replaced.status_code == 303, replaced.text
    removed = await send(admin, path, {"name": "Renamed", "photo__clear": "on"}, {})
    assert removed.status_code == 303, removed.text
    async with files_env.db.get_session_context() as session:
        row = await session.get(Document, identity_of(identity))
        assert row is not None and row.photo is None and row.contract is not None
    assert old_photo in stored_files(files_env.root)  # replaced files are kept (see docs)
    missing = await admin.get(f"/m/admin_t_document/{identity}/file/photo")
    assert missing.status_code == 404


async def test_deleting_a_row_keeps_its_files(admin: AdminClient, files_env: FilesEnv) -> None:
    identity = await create(admin, "Deleted")
    async with files_env.db.get_session_context() as session:
        row = await session.get(Document, identity_of(identity))
        assert row is not None
        keys = {row.contract.key, row.photo.key if row.photo else ""}
    response = await admin.post(f"/m/admin_t_document/{identity}/delete", {})
    assert response.status_code == 303
    assert keys <= stored_files(files_env.root)


async def test_downloads_are_for_signed_in_operators_only(
    admin: AdminClient, files_env: FilesEnv
) -> None:
    identity = await create(admin, "Private")
    transport = httpx.ASGITransport(app=files_env.app)
    async with httpx.AsyncClient(transport=transport, base_url="http://testserver") as http:
        response = await http.get(f"/admin/m/admin_t_document/{identity}/file/photo")
    assert response.status_code == 303
    assert "/admin/login?next=" in response.headers["location"]
    not_a_file = await admin.get(f"/m/admin_t_document/{identity}/file/name")
    assert not_a_file.status_code == 404
    no_row = await admin.get(f"/m/admin_t_document/{'0' * 8}-0000-0000-0000-{'0' * 12}/file/photo")
    assert no_row.status_code == 404


async def test_a_file_missing_from_the_storage_is_a_404_page(
    admin: AdminClient, files_env: FilesEnv
) -> None:
    identity = await create(admin, "Lost")
    async with files_env.db.get_session_context() as session:
        row = await session.get(Document, identity_of(identity))
        assert row is not None
        (files_env.root / row.contract.key).unlink()
    response = await admin.get(f"/m/admin_t_document/{identity}/file/contract")
    assert response.status_code == 404
    assert "missing from the storage" in response.text


def identity_of(text: str) -> uuid.UUID:
    return uuid.UUID(text)


async def test_exports_hold_the_files_documents(admin: AdminClient) -> None:
    identity = await create(admin, "Exported")
    exported = await admin.get("/m/admin_t_document/export.json")
    assert exported.status_code == 200
    row = next(item for item in exported.json() if item["id"] == identity)
    assert row["photo"]["name"] == "me.png" and row["photo"]["size"] == len(png())
    assert row["contract"]["content_type"] == "application/pdf"
    assert row["contract"]["key"].startswith("contracts/")
    csv_export = await admin.get("/m/admin_t_document/export.csv")
    assert csv_export.status_code == 200 and '""name"": ""c.pdf""' in csv_export.text
