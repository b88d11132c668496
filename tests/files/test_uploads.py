"""UploadUtils through a FastAPI app in process: limits, content checks, names.

Each bad input of issue 18 is its own test: zero bytes, exactly the limit and one byte
over, a lying Content-Length, a polyglot, hostile names; plus what is refused by content
(HTML, SVG with script, executables renamed ``.png``) and OOXML told apart from ZIP.
"""

from __future__ import annotations

import hashlib
from collections.abc import AsyncIterator
from pathlib import Path
from typing import Any

import httpx
import pytest

import tempest
import tempest.utils
from tempest.exceptions import FileTooLargeException, InvalidFileTypeException
from tempest.utils import UploadUtils
from tests.files import samples
from tests.files.app import make_app

pytestmark = pytest.mark.anyio

LIMIT = 64 * 1024


@pytest.fixture
async def client(tmp_path: Path) -> AsyncIterator[httpx.AsyncClient]:
    app = make_app(tmp_path, LIMIT)
    transport = httpx.ASGITransport(app=app)
    async with httpx.AsyncClient(transport=transport, base_url="http://testserver") as client:
        yield client


async def post(
    client: httpx.AsyncClient, route: str, name: str, data: bytes, mime: str = "image/png"
) -> httpx.Response:
    return await client.post(route, files={"file": (name, data, mime)})


def test_it_is_exported_where_the_spec_lists_it() -> None:
    assert tempest.UploadUtils is UploadUtils is tempest.utils.UploadUtils
    assert FileTooLargeException.status_code == 413
    assert FileTooLargeException.code == "FILE_TOO_LARGE"
    assert InvalidFileTypeException.status_code == 415
    assert InvalidFileTypeException.code == "INVALID_FILE_TYPE"


async def test_an_image_is_stored_under_a_fresh_name(
    client: httpx.AsyncClient, tmp_path: Path
) -> None:
    data = samples.png()
    response = await post(client, "/images", "me.png", data)
    assert response.status_code == 200, response.text
    body = response.json()
    assert body["key"].startswith("images/") and body["key"].endswith(".png")
    assert body["key"] != "images/me.png"
    assert body["sha256"] == hashlib.sha256(data).hexdigest()
    assert body["size"] == len(data) and body["content_type"] == "image/png"
    assert body["filename"] == "me.png"
    assert (tmp_path / "files" / body["key"]).read_bytes() == data


@pytest.mark.parametrize(
    ("name", "make", "mime"),
    [
        ("a.jpg", samples.jpeg, "image/jpeg"),
        ("a.gif", samples.gif, "image/gif"),
        ("a.webp", samples.webp, "image/webp"),
        ("a.bmp", samples.bmp, "image/bmp"),
    ],
)
async def test_each_image_format_passes(
    client: httpx.AsyncClient, name: str, make: Any, mime: str
) -> None:
    response = await post(client, "/images", name, make(), mime)
    assert response.status_code == 200, response.text
    assert response.json()["content_type"] == mime


async def test_a_zero_byte_file_is_refused(client: httpx.AsyncClient) -> None:
    response = await post(client, "/files", "empty.txt", b"", "text/plain")
    assert response.status_code == 422
    assert response.json()["code"] == "EMPTY_FILE"


async def test_a_file_exactly_at_the_limit_passes(client: httpx.AsyncClient) -> None:
    response = await post(client, "/files", "full.txt", b"x" * LIMIT, "text/plain")
    assert response.status_code == 200, response.text
    assert response.json()["size"] == LIMIT
    assert response.json()["sha256"] is None  # no digest unless checksum=True


async def test_one_byte_over_the_limit_is_413(client: httpx.AsyncClient, tmp_path: Path) -> None:
    response = await post(client, "/files", "over.txt", b"x" * (LIMIT + 1), "text/plain")
    assert response.status_code == 413
    assert response.json()["code"] == "FILE_TOO_LARGE"
    assert response.json()["details"]["max_size_bytes"] == LIMIT
    assert [p for p in (tmp_path / "files").rglob("*") if p.is_file()] == []


async def test_a_raw_body_over_its_declared_length_is_cut_at_limit_plus_one(tmp_path: Path) -> None:
    """A lying Content-Length: the count while streaming stops the read, not the header."""
    app = make_app(tmp_path, LIMIT)
    chunk = b"y" * 4096
    total_chunks = 1000  # ~4 MB sent if the server kept reading
    received = 0
    sent: list[dict[str, Any]] = []

    async def receive() -> dict[str, Any]:
        nonlocal received
        received += 1
        return {"type": "http.request", "body": chunk, "more_body": received < total_chunks}

    async def send(message: dict[str, Any]) -> None:
        sent.append(message)

    scope = {
        "type": "http",
        "asgi": {"version": "3.0", "spec_version": "2.4"},
        "http_version": "1.1",
        "method": "PUT",
        "scheme": "http",
        "path": "/raw/data.txt",
        "raw_path": b"/raw/data.txt",
        "query_string": b"",
        "root_path": "",
        "headers": [(b"host", b"testserver"), (b"content-length", b"10")],
        "client": ("127.0.0.1", 1),
        "server": ("testserver", 80),
    }
    await app(scope, receive, send)
    assert sent[0]["status"] == 413
    assert received == LIMIT // len(chunk) + 1  # stopped at the first chunk past the limit
    assert [p for p in (tmp_path / "files").rglob("*") if p.is_file()] == []


async def test_a_declared_length_over_the_limit_is_413_before_reading(tmp_path: Path) -> None:
    utils = UploadUtils(tmp_path, max_size_bytes=LIMIT)
    read = False

    class Body:
        headers = {"content-length": str(LIMIT + 1)}

        async def stream(self) -> AsyncIterator[bytes]:
            nonlocal read
            read = True
            yield b"x"

    with pytest.raises(FileTooLargeException):
        await utils.save(Body())
    assert read is False


async def test_a_polyglot_pdf_with_html_is_refused(client: httpx.AsyncClient) -> None:
    polyglot = b"%PDF-1.7\n<html><body><script>fetch('/steal')</script></body></html>\n%%EOF"
    response = await post(client, "/files", "report.pdf", polyglot, "application/pdf")
    assert response.status_code == 415
    assert response.json()["code"] == "INVALID_FILE_TYPE"
    assert response.json()["details"]["content_type"] == "application/pdf"


@pytest.mark.parametrize(
    ("route", "data"),
    [
        ("/images", b"<html><script>alert(1)</script></html>"),
        ("/files", b"<html><script>alert(1)</script></html>"),
        ("/images", b"MZ\x90\x00\x03\x00\x00\x00\x04\x00" + b"\x00" * 100),
        ("/files", b"MZ\x90\x00\x03\x00\x00\x00\x04\x00" + b"\x00" * 100),
        ("/files", b"\x7fELF\x02\x01\x01" + b"\x00" * 100),
        ("/files", b'<svg xmlns="http://www.w3.org/2000/svg" onload="alert(1)"/>'),
        ("/images", samples.jpeg()),  # a JPEG calling itself .png: extension and bytes disagree
        ("/images", samples.pdf()),
    ],
    ids=["html", "html-any", "exe", "exe-any", "elf-any", "svg-script", "jpeg-as-png", "pdf"],
)
async def test_content_that_is_not_what_its_name_says_is_415(
    client: httpx.AsyncClient, route: str, data: bytes
) -> None:
    response = await post(client, route, "innocent.png", data, "image/png")
    assert response.status_code == 415, response.text
    assert response.json()["code"] == "INVALID_FILE_TYPE"


@pytest.mark.parametrize(
    ("folder", "extension", "mime"),
    [
        ("word", "docx", samples.DOCX_TYPE),
        ("xl", "xlsx", samples.XLSX_TYPE),
        ("ppt", "pptx", samples.PPTX_TYPE),
    ],
)
async def test_office_documents_are_told_apart_from_zip(
    client: httpx.AsyncClient, folder: str, extension: str, mime: str
) -> None:
    name = f"doc.{extension}"
    response = await post(client, "/files", name, samples.ooxml(folder), "application/zip")
    assert response.status_code == 200, response.text
    assert response.json()["content_type"] == mime
    assert response.json()["key"].endswith(f".{extension}")


async def test_ooxml_checked_strictly_needs_the_office_type(tmp_path: Path) -> None:
    docs = UploadUtils(
        tmp_path,
        allowed_mimetypes={samples.DOCX_TYPE},
        allowed_extensions={"docx"},
        verify_magic_bytes=True,
    )
    stored = await docs.save(samples.ooxml("word"), original_filename="cv.docx")
    assert stored.content_type == samples.DOCX_TYPE
    for data in (samples.plain_zip(), samples.ooxml("xl")):
        with pytest.raises(InvalidFileTypeException):
            await docs.save(data, original_filename="cv.docx")


async def test_mp4_and_a_content_validator(tmp_path: Path) -> None:
    videos = UploadUtils(tmp_path)
    stored = await videos.save(samples.mp4(), original_filename="clip.mp4")
    assert stored.content_type == "video/mp4"
    with pytest.raises(InvalidFileTypeException):
        await videos.save(
            samples.mp4(),
            original_filename="clip.mp4",
            content_validator=lambda head: tempest.sniff_mime(head) == "image/png",
        )


@pytest.mark.parametrize(
    ("name", "stored"),
    [
        ("../../../etc/cron.d/evil.txt", "evil.txt"),
        ("nul\x00byte.txt", "nulbyte.txt"),
        ("a" * 300 + ".txt", "a" * 251 + ".txt"),
        ("photo\u202etxt.png", None),  # becomes phototxt.png: a text file named .png
    ],
    ids=["dotdot", "nul", "300-chars", "rtl"],
)
async def test_hostile_names_are_sanitized_and_never_used_as_paths(
    client: httpx.AsyncClient, tmp_path: Path, name: str, stored: str | None
) -> None:
    # Written by hand: httpx would percent-encode the NUL; a hostile client sends it raw.
    body = (
        b'--XyZ\r\nContent-Disposition: form-data; name="file"; filename="'
        + name.encode()
        + b'"\r\nContent-Type: text/plain\r\n\r\nplain text\n\r\n--XyZ--\r\n'
    )
    headers = {"content-type": "multipart/form-data; boundary=XyZ"}
    response = await client.post("/files", content=body, headers=headers)
    if stored is None:
        assert response.status_code == 200, response.text
        assert response.json()["filename"] == "phototxt.png"
        assert response.json()["content_type"] == "text/plain"  # its bytes, not its name
    else:
        assert response.status_code == 200, response.text
        assert response.json()["filename"] == stored
    key = response.json()["key"]
    assert "/" not in key and len(key) == 32 + len(Path(key).suffix)
    files = [p for p in tmp_path.rglob("*") if p.is_file()]
    assert files == [tmp_path / "files" / key]


async def test_an_rtl_disguised_executable_is_refused(client: httpx.AsyncClient) -> None:
    # Shown as "invoiceexe.pdf" by an RTL override; really "invoicefdp.exe".
    response = await post(client, "/files", "invoice\u202efdp.exe", b"text", "application/pdf")
    assert response.status_code == 415


async def test_a_fixed_name_replaces_the_previous_file(tmp_path: Path) -> None:
    avatars = UploadUtils(tmp_path, allowed_extensions={"png"}, verify_magic_bytes=True)
    first = await avatars.save(samples.png(), subdir="u1", filename="avatar.png")
    second = await avatars.save(samples.png() + b"\x00", subdir="u1", filename="avatar.png")
    assert str(first) == str(second) == "u1/avatar.png"
    assert (tmp_path / "u1/avatar.png").read_bytes() == samples.png() + b"\x00"
    assert await avatars.delete(second) is True


async def test_declared_types_are_checked_when_bytes_are_not(tmp_path: Path) -> None:
    loose = UploadUtils(tmp_path, allowed_mimetypes={"text/csv"})
    stored = await loose.save(b"a,b\n1,2\n", original_filename="t.csv", content_type="text/csv")
    assert stored.content_type == "text/csv"
    with pytest.raises(InvalidFileTypeException):
        await loose.save(b"a,b\n", original_filename="t.csv", content_type="image/png")
