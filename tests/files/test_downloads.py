"""DownloadUtils: Range (206 / 416), ETag (304), Content-Disposition, escapes are 404."""

from __future__ import annotations

import os
from collections.abc import AsyncIterator, Iterator
from pathlib import Path

import httpx
import pytest
from fastapi import FastAPI
from starlette.responses import Response

import tempest
import tempest.utils
from tempest.api import register_exception_handlers
from tempest.utils import DownloadUtils, build_content_disposition
from tests.files.app import make_app

pytestmark = pytest.mark.anyio

DATA = os.urandom(200_000)


@pytest.fixture
async def client(tmp_path: Path) -> AsyncIterator[httpx.AsyncClient]:
    (tmp_path / "files" / "docs").mkdir(parents=True)
    (tmp_path / "files" / "docs" / "report.pdf").write_bytes(DATA)
    (tmp_path / "files" / "page.html").write_bytes(b"<html><script>x()</script></html>")
    (tmp_path / "files" / "empty.txt").write_bytes(b"")
    (tmp_path / "secret.txt").write_bytes(b"TOP-SECRET")
    (tmp_path / "files" / "escape").symlink_to(tmp_path / "secret.txt")
    app = make_app(tmp_path)
    transport = httpx.ASGITransport(app=app)
    async with httpx.AsyncClient(transport=transport, base_url="http://testserver") as client:
        yield client


def test_it_is_exported_where_the_spec_lists_it() -> None:
    assert tempest.DownloadUtils is DownloadUtils is tempest.utils.DownloadUtils
    assert tempest.build_content_disposition is build_content_disposition


async def test_a_whole_file_with_its_validators(client: httpx.AsyncClient) -> None:
    response = await client.get("/files/docs/report.pdf")
    assert response.status_code == 200
    assert response.content == DATA
    assert response.headers["content-length"] == str(len(DATA))
    assert response.headers["content-type"] == "application/pdf"
    assert response.headers["accept-ranges"] == "bytes"
    assert response.headers["etag"].startswith('"')
    assert response.headers["last-modified"].endswith("GMT")
    assert response.headers["x-content-type-options"] == "nosniff"
    assert response.headers["content-disposition"] == 'attachment; filename="report.pdf"'


async def test_inline_when_asked_but_never_for_html(client: httpx.AsyncClient) -> None:
    pdf = await client.get("/files/docs/report.pdf", params={"inline": "true"})
    assert pdf.headers["content-disposition"].startswith("inline;")
    html = await client.get("/files/page.html", params={"inline": "true"})
    assert html.headers["content-disposition"].startswith("attachment;")


@pytest.mark.parametrize(
    ("header", "start", "end"),
    [
        ("bytes=0-9", 0, 10),
        ("bytes=100-", 100, len(DATA)),
        ("bytes=-50", len(DATA) - 50, len(DATA)),
        ("bytes=199990-999999", 199_990, len(DATA)),
    ],
)
async def test_one_range_is_206(
    client: httpx.AsyncClient, header: str, start: int, end: int
) -> None:
    response = await client.get("/files/docs/report.pdf", headers={"range": header})
    assert response.status_code == 206
    assert response.content == DATA[start:end]
    assert response.headers["content-range"] == f"bytes {start}-{end - 1}/{len(DATA)}"
    assert response.headers["content-length"] == str(end - start)


@pytest.mark.parametrize(
    "header",
    [
        "bytes=0-1,5-9",
        "bytes=300000-",
        "bytes=10-5",
        "items=0-1",
        "bytes=abc",
        "bytes=-0",
        "bytes=-",
    ],
)
async def test_several_invalid_or_unsatisfiable_ranges_are_416(
    client: httpx.AsyncClient, header: str
) -> None:
    response = await client.get("/files/docs/report.pdf", headers={"range": header})
    assert response.status_code == 416
    assert response.headers["content-range"] == f"bytes */{len(DATA)}"


async def test_a_range_on_an_empty_file_is_416(client: httpx.AsyncClient) -> None:
    response = await client.get("/files/empty.txt", headers={"range": "bytes=0-"})
    assert response.status_code == 416
    assert response.headers["content-range"] == "bytes */0"
    whole = await client.get("/files/empty.txt")
    assert whole.status_code == 200 and whole.content == b""


async def test_if_none_match_is_304_and_if_range_guards_the_range(
    client: httpx.AsyncClient,
) -> None:
    etag = (await client.head("/files/docs/report.pdf")).headers["etag"]
    cached = await client.get("/files/docs/report.pdf", headers={"if-none-match": etag})
    assert cached.status_code == 304 and cached.content == b""
    assert cached.headers["etag"] == etag
    weak = await client.get("/files/docs/report.pdf", headers={"if-none-match": f'"x", W/{etag}'})
    assert weak.status_code == 304
    stale = await client.get("/files/docs/report.pdf", headers={"if-none-match": '"other"'})
    assert stale.status_code == 200
    fresh = await client.get(
        "/files/docs/report.pdf", headers={"range": "bytes=0-9", "if-range": etag}
    )
    assert fresh.status_code == 206
    changed = await client.get(
        "/files/docs/report.pdf", headers={"range": "bytes=0-9", "if-range": '"old"'}
    )
    assert changed.status_code == 200 and changed.content == DATA


async def test_head_sends_the_headers_only(client: httpx.AsyncClient) -> None:
    response = await client.head("/files/docs/report.pdf")
    assert response.status_code == 200 and response.content == b""
    assert response.headers["content-length"] == str(len(DATA))


@pytest.mark.parametrize(
    "path",
    [
        "/files/../secret.txt",
        "/files/..%2Fsecret.txt",
        "/files/%2e%2e/secret.txt",
        "/files/%252e%252e/secret.txt",
        "/files/docs/..%2F..%2Fsecret.txt",
        "/files/%2Fetc%2Fpasswd",
        "/files/escape",
        "/files/docs/..%5C..%5Csecret.txt",
        "/files/docs/%00",
        "/files/%EF%BC%8E%EF%BC%8E/secret.txt",
        "/files/nothing-here.pdf",
        "/files/docs",
    ],
)
async def test_escapes_and_missing_files_are_the_same_404(
    client: httpx.AsyncClient, path: str
) -> None:
    response = await client.get(path)
    assert response.status_code == 404, (path, response.text)
    assert b"TOP-SECRET" not in response.content
    if path.startswith("/files/"):
        # ("/files/../secret.txt" is normalized by the client to /secret.txt: no route.)
        assert response.json()["code"] in ("FILE_NOT_FOUND", "NOT_FOUND")


@pytest.mark.parametrize(
    ("name", "header"),
    [
        ("report.pdf", 'attachment; filename="report.pdf"'),
        (
            "relatório ação.pdf",
            'attachment; filename="relatorio acao.pdf"; '
            "filename*=UTF-8''relat%C3%B3rio%20a%C3%A7%C3%A3o.pdf",
        ),
        (
            "日本語.txt",
            "attachment; filename=\"download.txt\"; filename*=UTF-8''%E6%97%A5%E6%9C%AC%E8%AA%9E.txt",
        ),
        ('say "hi".txt', 'attachment; filename="say _hi_.txt"'),
        ("a\r\nSet-Cookie: x=1.txt", 'attachment; filename="aSet-Cookie_ x=1.txt"'),
        ("../../etc/passwd", 'attachment; filename="passwd"'),
        ("100%.txt", "attachment; filename=\"100_.txt\"; filename*=UTF-8''100%25.txt"),
    ],
)
def test_content_disposition(name: str, header: str) -> None:
    assert build_content_disposition(name) == header


def test_inline_disposition() -> None:
    assert build_content_disposition("a.pdf", as_attachment=False) == 'inline; filename="a.pdf"'


async def test_stream_takes_bytes_sync_and_async_chunks(tmp_path: Path) -> None:
    downloads = DownloadUtils(tmp_path)
    app = FastAPI()
    register_exception_handlers(app)

    def sync_chunks() -> Iterator[bytes]:
        yield from (b"a,b\n", b"1,2\n")

    async def async_chunks() -> AsyncIterator[bytes]:
        for chunk in (b"a,b\n", b"1,2\n"):
            yield chunk

    @app.get("/{kind}")
    async def export(kind: str) -> Response:
        content = {"bytes": b"a,b\n1,2\n", "sync": sync_chunks(), "async": async_chunks()}[kind]
        return downloads.stream(content, filename="recibo.csv")

    transport = httpx.ASGITransport(app=app)
    async with httpx.AsyncClient(transport=transport, base_url="http://testserver") as client:
        for kind in ("bytes", "sync", "async"):
            response = await client.get(f"/{kind}")
            assert response.content == b"a,b\n1,2\n"
            assert response.headers["content-type"].startswith("text/csv")
            assert response.headers["content-disposition"] == 'attachment; filename="recibo.csv"'
