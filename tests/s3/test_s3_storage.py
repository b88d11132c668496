"""MinIOUploadStorage on SeaweedFS: the UploadStorage contract, and uploads/downloads via it."""

from __future__ import annotations

import hashlib
import struct
import zlib
from collections.abc import AsyncIterator
from urllib.parse import quote

import httpx
import pytest
from fastapi import FastAPI, UploadFile

from tempest.api import register_exception_handlers
from tempest.exceptions import ConflictException, NotFoundException
from tempest.storage import AsyncMinIOClient, MinIOUploadStorage, UploadStorage
from tempest.utils.downloads import DownloadUtils
from tempest.utils.uploads import UploadUtils

pytestmark = pytest.mark.anyio


def png_bytes() -> bytes:
    """A valid 1x1 PNG."""

    def chunk(kind: bytes, data: bytes) -> bytes:
        body = kind + data
        return struct.pack(">I", len(data)) + body + struct.pack(">I", zlib.crc32(body))

    header = struct.pack(">IIBBBBB", 1, 1, 8, 2, 0, 0, 0)
    pixels = zlib.compress(b"\x00\xff\x00\x00")
    return (
        b"\x89PNG\r\n\x1a\n" + chunk(b"IHDR", header) + chunk(b"IDAT", pixels) + chunk(b"IEND", b"")
    )


@pytest.fixture
def storage(s3: AsyncMinIOClient) -> MinIOUploadStorage:
    return MinIOUploadStorage(s3)


async def test_it_is_an_upload_storage(storage: MinIOUploadStorage) -> None:
    assert isinstance(storage, UploadStorage)


async def test_save_stat_read_delete(storage: MinIOUploadStorage) -> None:
    result = await storage.save(
        "docs/a.pdf",
        b"%PDF-1.7 body",
        content_type="application/pdf",
        filename="relatório é.pdf",
        checksum=True,
    )
    assert (result.key, result.size, result.filename) == ("docs/a.pdf", 13, "relatório é.pdf")
    assert result.sha256 == hashlib.sha256(b"%PDF-1.7 body").hexdigest()
    stat = await storage.stat("docs/a.pdf")
    assert stat.content_type == "application/pdf"
    assert stat.metadata["filename"] == "relatório é.pdf"  # non-ASCII survives the header
    assert b"".join([c async for c in storage.read("docs/a.pdf", start=1, end=4)]) == b"PDF"
    assert await storage.exists("docs/a.pdf")
    assert await storage.delete("docs/a.pdf") is True
    assert await storage.delete("docs/a.pdf") is False
    assert not await storage.exists("docs/a.pdf")
    with pytest.raises(NotFoundException):
        await storage.stat("docs/a.pdf")
    with pytest.raises(NotFoundException):
        _ = [chunk async for chunk in storage.read("docs/a.pdf")]


async def test_the_whole_object_digest_is_opt_in(
    storage: MinIOUploadStorage, s3: AsyncMinIOClient
) -> None:
    """Parts are always signed with their SHA-256; the object's digest only on request."""
    assert (await storage.save("plain.txt", b"no digest")).sha256 is None
    big = bytes(range(256)) * (6 * 4096)  # 6 MiB in 1 MiB chunks: two parts

    async def chunks() -> AsyncIterator[bytes]:
        for start in range(0, len(big), 1 << 20):
            yield big[start : start + (1 << 20)]

    lean = await s3.put_object("big/lean.bin", chunks())
    assert lean.sha256 is None and lean.etag is not None and lean.etag.endswith('-2"')
    assert b"".join([c async for c in storage.read("big/lean.bin")]) == big
    image = png_bytes()
    checked = await UploadUtils(storage, checksum=True).save(image, original_filename="a.png")
    assert checked.sha256 == hashlib.sha256(image).hexdigest()
    unchecked = await UploadUtils(storage).save(image, original_filename="a.png")
    assert unchecked.sha256 is None
    for key in ("plain.txt", "big/lean.bin", checked.key, unchecked.key):
        assert await storage.delete(key)


async def test_an_existing_key_is_kept_unless_overwrite(storage: MinIOUploadStorage) -> None:
    await storage.save("same.txt", b"first")
    with pytest.raises(ConflictException) as caught:
        await storage.save("same.txt", b"second")
    assert caught.value.status_code == 409
    assert b"".join([c async for c in storage.read("same.txt")]) == b"first"
    await storage.save("same.txt", b"third", overwrite=True)
    assert b"".join([c async for c in storage.read("same.txt")]) == b"third"


async def test_client_names_are_sanitized_in_metadata(storage: MinIOUploadStorage) -> None:
    result = await storage.save("n.bin", b"x", filename="../../etc/pa\u202esswd\x00.exe")
    assert result.filename is not None
    assert "/" not in result.filename and "\x00" not in result.filename
    assert "\u202e" not in result.filename
    assert (await storage.stat("n.bin")).metadata["filename"] == result.filename


async def test_presigned_urls(storage: MinIOUploadStorage) -> None:
    await storage.save("r/report.pdf", b"%PDF-1.7 x")
    download = await storage.url("r/report.pdf", expires_in=60, filename="Relatório.pdf")
    upload = await storage.url("r/new.bin", method="PUT")
    async with httpx.AsyncClient() as http:
        got = await http.get(download)
        assert got.content == b"%PDF-1.7 x"
        disposition = got.headers["content-disposition"]
        assert disposition.startswith("attachment;")
        assert f"filename*=UTF-8''{quote('Relatório.pdf')}" in disposition
        assert (await http.put(upload, content=b"direct")).status_code == 200
    assert b"".join([c async for c in storage.read("r/new.bin")]) == b"direct"
    with pytest.raises(ValueError, match="GET or PUT"):
        await storage.url("r/report.pdf", method="DELETE")


@pytest.mark.parametrize(
    "key", ["../x", "a/../../x", "/etc/passwd", "a\\..\\x", "%2e%2e/x", "a\x00b", "\uff0e\uff0e/x"]
)
async def test_unsafe_keys_are_404_everywhere(storage: MinIOUploadStorage, key: str) -> None:
    with pytest.raises(NotFoundException):
        await storage.save(key, b"x")
    with pytest.raises(NotFoundException):
        await storage.stat(key)
    with pytest.raises(NotFoundException):
        _ = [chunk async for chunk in storage.read(key)]
    with pytest.raises(NotFoundException):
        await storage.url(key)
    assert await storage.delete(key) is False
    assert not await storage.exists(key)


async def test_upload_and_download_routes_on_s3(storage: MinIOUploadStorage) -> None:
    """UploadUtils and DownloadUtils over the S3 storage, through HTTP."""
    avatars = UploadUtils(
        storage,
        max_size_bytes=1024 * 1024,
        allowed_extensions={"png"},
        allowed_mimetypes={"image/png"},
        verify_magic_bytes=True,
    )
    files = DownloadUtils(storage)
    app = FastAPI()
    register_exception_handlers(app)

    @app.post("/avatars")
    async def upload(file: UploadFile) -> dict[str, str]:
        return {"key": str(await avatars.save(file, subdir="u1"))}

    @app.get("/avatars/{key:path}")
    async def download(key: str) -> object:
        return files.file_response(key, filename="avatar.png", as_attachment=False)

    image = png_bytes()
    transport = httpx.ASGITransport(app=app)
    async with httpx.AsyncClient(transport=transport, base_url="http://test") as http:
        posted = await http.post("/avatars", files={"file": ("me.png", image, "image/png")})
        assert posted.status_code == 200, posted.text
        key = posted.json()["key"]
        assert key.startswith("u1/") and key.endswith(".png")
        whole = await http.get(f"/avatars/{key}")
        assert whole.status_code == 200
        assert whole.content == image
        part = await http.get(f"/avatars/{key}", headers={"Range": "bytes=0-7"})
        assert part.status_code == 206
        assert part.content == image[:8]
        refused = await http.post(
            "/avatars", files={"file": ("evil.png", b"<html><script>", "image/png")}
        )
        assert refused.status_code == 415
        escape = await http.get("/avatars/..%2f..%2fsecret")
        assert escape.status_code == 404
    assert (await storage.stat(key)).metadata["filename"] == "me.png"
