"""The upload bad-input families on S3: UploadUtils over MinIOUploadStorage, through HTTP.

The same cases as tests/files/test_uploads.py runs on a local folder: zero bytes, exactly
at the limit and one byte over, a polyglot, an RTL-disguised executable, hostile names;
after each, the storage's prefix holds only what was accepted, under a fresh key.
"""

from __future__ import annotations

from collections.abc import AsyncIterator
from dataclasses import asdict
from typing import Any

import httpx
import pytest
from fastapi import FastAPI, UploadFile

from tempest.api import register_exception_handlers
from tempest.storage import AsyncMinIOClient, MinIOUploadStorage
from tempest.utils import UploadUtils
from tests.files.samples import png

pytestmark = pytest.mark.anyio

LIMIT = 4096


@pytest.fixture
async def client(s3: AsyncMinIOClient) -> AsyncIterator[httpx.AsyncClient]:
    storage = MinIOUploadStorage(s3)
    anything = UploadUtils(storage, max_size_bytes=LIMIT)
    images = UploadUtils(
        storage,
        max_size_bytes=LIMIT,
        allowed_extensions={"png"},
        allowed_mimetypes={"image/png"},
        verify_magic_bytes=True,
    )
    app = FastAPI()
    register_exception_handlers(app)

    @app.post("/files")
    async def upload(file: UploadFile) -> dict[str, Any]:
        return asdict(await anything.save(file))

    @app.post("/images")
    async def upload_image(file: UploadFile) -> dict[str, Any]:
        return asdict(await images.save(file, subdir="images"))

    transport = httpx.ASGITransport(app=app)
    async with httpx.AsyncClient(transport=transport, base_url="http://test") as http:
        yield http


async def post(
    client: httpx.AsyncClient, path: str, name: str, body: bytes, kind: str
) -> httpx.Response:
    return await client.post(path, files={"file": (name, body, kind)})


async def test_a_zero_byte_file_is_refused(client: httpx.AsyncClient, s3: AsyncMinIOClient) -> None:
    response = await post(client, "/files", "empty.txt", b"", "text/plain")
    assert response.status_code == 422
    assert response.json()["code"] == "EMPTY_FILE"
    assert [stat async for stat in s3.list_objects()] == []


async def test_exactly_at_the_limit_passes_and_one_byte_over_is_413(
    client: httpx.AsyncClient, s3: AsyncMinIOClient
) -> None:
    full = await post(client, "/files", "full.txt", b"x" * LIMIT, "text/plain")
    assert full.status_code == 200, full.text
    assert full.json()["size"] == LIMIT
    assert (await s3.stat_object(full.json()["key"])).size == LIMIT
    over = await post(client, "/files", "over.txt", b"x" * (LIMIT + 1), "text/plain")
    assert over.status_code == 413
    assert over.json()["code"] == "FILE_TOO_LARGE"
    assert [stat.key async for stat in s3.list_objects()] == [full.json()["key"]]


async def test_a_polyglot_pdf_with_html_is_refused(
    client: httpx.AsyncClient, s3: AsyncMinIOClient
) -> None:
    polyglot = b"%PDF-1.7\n<html><body><script>fetch('/steal')</script></body></html>\n%%EOF"
    response = await post(client, "/files", "report.pdf", polyglot, "application/pdf")
    assert response.status_code == 415
    assert [stat async for stat in s3.list_objects()] == []


async def test_an_rtl_disguised_executable_is_refused(client: httpx.AsyncClient) -> None:
    response = await post(client, "/files", "invoice\u202efdp.exe", b"text", "application/pdf")
    assert response.status_code == 415


async def test_html_named_png_is_refused_and_a_png_is_stored(
    client: httpx.AsyncClient, s3: AsyncMinIOClient
) -> None:
    refused = await post(client, "/images", "cat.png", b"<html><script>", "image/png")
    assert refused.status_code == 415
    stored = await post(client, "/images", "cat.png", png(), "image/png")
    assert stored.status_code == 200, stored.text
    key = stored.json()["key"]
    assert key.startswith("images/") and key.endswith(".png")
    assert await s3.get_object(key) == png()


@pytest.mark.parametrize(
    "name",
    [
        "../../etc/passwd.txt",
        "a\x00b.txt",
        "x" * 300 + ".txt",
        "evil\u202etxt.png",
        "..\\..\\w.txt",
    ],
    ids=["dot-dot", "nul", "300-chars", "rtl", "backslashes"],
)
async def test_hostile_names_are_sanitized_and_never_used_as_keys(
    client: httpx.AsyncClient, s3: AsyncMinIOClient, name: str
) -> None:
    # Written by hand: httpx would percent-encode the NUL; a hostile client sends it raw.
    body = (
        b'--XyZ\r\nContent-Disposition: form-data; name="file"; filename="'
        + name.encode()
        + b'"\r\nContent-Type: text/plain\r\n\r\nplain text\n\r\n--XyZ--\r\n'
    )
    headers = {"content-type": "multipart/form-data; boundary=XyZ"}
    response = await client.post("/files", content=body, headers=headers)
    assert response.status_code in (200, 415), response.text
    stored = [stat.key async for stat in s3.list_objects()]
    if response.status_code == 415:
        assert stored == []
        return
    key = response.json()["key"]
    assert stored == [key]
    assert "/" not in key and "\\" not in key and ".." not in key
    filename = (await s3.stat_object(key)).metadata.get("filename", "")
    for bad in ("/", "\\", "\x00", "\u202e"):
        assert bad not in filename
    assert len(filename.encode()) <= 255 * 3  # percent-encoded 255-byte name at most
