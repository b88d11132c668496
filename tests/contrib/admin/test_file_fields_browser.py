"""A file column in the admin, in headless Chromium: upload an image, see it, download it.

The admin of ``Document`` (tests/contrib/admin/file_models.py) is served by uvicorn in a
thread on SQLite, its files in a temporary ``UPLOAD_DIR``.
"""

from __future__ import annotations

import re
import secrets
import struct
import zlib
from collections.abc import AsyncIterator, Iterator
from contextlib import asynccontextmanager
from pathlib import Path
from typing import TYPE_CHECKING

import pytest
from fastapi import FastAPI

from tempest.conf import settings
from tempest.contrib.admin import UserModelAuthBackend, make_admin_router
from tempest.db import AsyncDatabaseManager
from tests.browser import serve_app_in_thread
from tests.contrib.admin.conftest import PASSWORD, SECRET, operator
from tests.contrib.admin.file_models import FileSettings, document_site
from tests.contrib.admin.models import Operator
from tests.files.samples import pdf

if TYPE_CHECKING:
    from playwright.sync_api import Page

pytestmark = pytest.mark.e2e

EMAIL = "browser-files@example.com"


def picture(width: int = 24, height: int = 16) -> bytes:
    """A real PNG of ``width`` x ``height`` red pixels."""

    def chunk(kind: bytes, data: bytes) -> bytes:
        body = kind + data
        return struct.pack(">I", len(data)) + body + struct.pack(">I", zlib.crc32(body))

    header = struct.pack(">IIBBBBB", width, height, 8, 2, 0, 0, 0)
    rows = b"".join(b"\x00" + b"\xff\x00\x00" * width for _ in range(height))
    return (
        b"\x89PNG\r\n\x1a\n"
        + chunk(b"IHDR", header)
        + chunk(b"IDAT", zlib.compress(rows))
        + chunk(b"IEND", b"")
    )


@pytest.fixture(scope="module")
def admin_url(tmp_path_factory: pytest.TempPathFactory, cheap_hashes: None) -> Iterator[str]:
    """The admin, served in a thread; its database is made by the app's lifespan."""
    root = tmp_path_factory.mktemp("admin-files-browser")
    settings.configure(  # type: ignore[attr-defined]
        FileSettings(UPLOAD_DIR=str(root / "uploads"), SECRET_KEY=secrets.token_urlsafe(48))
    )
    db = AsyncDatabaseManager(f"sqlite+aiosqlite:///{root / 'admin.sqlite3'}")

    @asynccontextmanager
    async def lifespan(_: FastAPI) -> AsyncIterator[None]:
        await db.connect()
        await db.create_tables()
        async with db.get_session_context() as session:
            session.add(operator(EMAIL))
        yield
        await db.disconnect()

    app = FastAPI(lifespan=lifespan)
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
        with serve_app_in_thread(app) as base:
            yield f"{base}/admin"
    finally:
        settings.reset()  # type: ignore[attr-defined]


def loaded_width(page: Page, selector: str) -> int:
    """The natural width of an image once it has loaded (0 if it failed)."""
    image = page.locator(selector).first
    image.wait_for()
    page.wait_for_function("(el) => el.complete", arg=image.element_handle(), timeout=10_000)
    return int(image.evaluate("(el) => el.naturalWidth"))


def test_upload_an_image_see_its_preview_and_download_it(
    page: Page, admin_url: str, tmp_path: Path
) -> None:
    image = picture()
    (tmp_path / "sunset.png").write_bytes(image)
    (tmp_path / "lease.pdf").write_bytes(pdf())
    errors: list[str] = []
    page.on("pageerror", lambda error: errors.append(str(error)))

    page.goto(f"{admin_url}/m/admin_t_document/new")
    page.fill("#username", EMAIL)
    page.fill("#password", PASSWORD)
    page.click("button:has-text('Sign in')")
    assert page.url == f"{admin_url}/m/admin_t_document/new"

    page.fill("#f-name", "Holiday")
    page.set_input_files("#f-photo", str(tmp_path / "sunset.png"))
    page.set_input_files("#f-contract", str(tmp_path / "lease.pdf"))
    page.click("button:has-text('Save')")
    assert re.search(r"/m/admin_t_document/[0-9a-f-]{36}$", page.url), page.url
    detail_url = page.url

    # The detail page: a link to each file and a preview of the image.
    assert page.locator("[data-field=photo] [data-testid=file-link]").inner_text() == "sunset.png"
    assert loaded_width(page, "[data-testid=file-preview]") == 24

    # The list: a thumbnail that loads.
    page.goto(f"{admin_url}/m/admin_t_document/")
    assert loaded_width(page, "img[data-testid=thumb]") == 24

    # Download from the detail page: the same bytes.
    page.goto(detail_url)
    with page.expect_download() as info:
        page.click("[data-field=photo] [data-testid=file-link]")
    download = info.value
    assert download.suggested_filename == "sunset.png"
    assert Path(download.path()).read_bytes() == image
    assert errors == []
