"""HardenedStaticFiles: refused paths first (traversal, dotfiles, links out), then serving.

Requests are sent as raw ASGI scopes built the way uvicorn builds them (the path
percent-decoded with ``urllib.parse.unquote``, invalid UTF-8 replaced), because an HTTP
client would normalise ``..`` away before the app ever saw it.
"""

from __future__ import annotations

import asyncio
import itertools
import json
import os
from pathlib import Path
from typing import Any
from urllib.parse import unquote

import pytest
from fastapi import FastAPI
from hypothesis import HealthCheck, given, settings, strategies as st

from tempest.api import (
    DEFAULT_STATIC_SECURITY_HEADERS,
    HardenedStaticFiles,
    register_exception_handlers,
)

SECRET = b"SECRET-OUTSIDE-THE-FOLDER"
DOTFILE = b"DOTFILE-NEVER-SERVED"
PUBLIC = b"body { color: red; }\n"


def make_tree(base: Path) -> Path:
    """``public/`` to serve, ``outside/`` next to it, dotfiles and links in and out."""
    outside = base / "outside"
    outside.mkdir()
    (outside / "secret.txt").write_bytes(SECRET)
    (base / "secret.txt").write_bytes(SECRET)
    public = base / "public"
    (public / "sub").mkdir(parents=True)
    (public / "site.css").write_bytes(PUBLIC)
    (public / "sub" / "inner.txt").write_bytes(b"inner")
    (public / ".env").write_bytes(DOTFILE)
    (public / ".git").mkdir()
    (public / ".git" / "config").write_bytes(DOTFILE)
    (public / "sub" / ".hidden").write_bytes(DOTFILE)
    (public / "big.bin").write_bytes(bytes(range(256)) * 4)
    os.symlink(outside / "secret.txt", public / "link_out.txt")
    os.symlink(outside, public / "link_dir")
    os.symlink(public / "site.css", public / "sub" / "link_in.css")
    return public


def build(public: Path, **options: Any) -> FastAPI:
    app = FastAPI()
    register_exception_handlers(app)
    app.mount("/static", HardenedStaticFiles(directory=public, **options), name="static")
    return app


async def call(
    app: Any, raw_path: bytes, method: str = "GET", headers: dict[str, str] | None = None
) -> tuple[int, dict[str, str], bytes]:
    """One request as uvicorn would pass it: (status, headers, body)."""
    scope = {
        "type": "http",
        "asgi": {"version": "3.0"},
        "http_version": "1.1",
        "method": method,
        "scheme": "http",
        "path": unquote(raw_path.decode("ascii")),
        "raw_path": raw_path,
        "root_path": "",
        "query_string": b"",
        "headers": [(b"host", b"testserver")]
        + [(k.lower().encode(), v.encode()) for k, v in (headers or {}).items()],
        "client": ("127.0.0.1", 5000),
        "server": ("testserver", 80),
        "state": {},
    }
    sent: list[dict[str, Any]] = []

    received: list[bool] = []

    async def receive() -> dict[str, Any]:
        if not received:
            received.append(True)
            return {"type": "http.request", "body": b"", "more_body": False}
        await asyncio.Event().wait()  # the client stays connected until cancelled
        raise AssertionError("unreachable")

    async def send(message: dict[str, Any]) -> None:
        sent.append(message)

    await app(scope, receive, send)
    start = sent[0]
    response_headers = {k.decode().lower(): v.decode() for k, v in start["headers"]}
    body = b"".join(m.get("body", b"") for m in sent[1:])
    return start["status"], response_headers, body


def get(app: Any, raw_path: bytes | str, **kwargs: Any) -> tuple[int, dict[str, str], bytes]:
    path = raw_path.encode() if isinstance(raw_path, str) else raw_path
    return asyncio.run(call(app, path, **kwargs))


@pytest.fixture
def public(tmp_path: Path) -> Path:
    return make_tree(tmp_path)


HOSTILE = [
    "/static/../secret.txt",
    "/static/sub/../../secret.txt",
    "/static/%2e%2e/secret.txt",
    "/static/%2E%2E/outside/secret.txt",
    "/static/sub/%2e%2e/%2e%2e/secret.txt",
    "/static/%252e%252e/secret.txt",
    "/static/..%2fsecret.txt",
    "/static/..%5csecret.txt",
    "/static/..\\secret.txt",
    "/static/sub\\..\\..\\secret.txt",
    "/static/site.css%00.png",
    "/static/%00",
    "/static//etc/passwd",
    "/static/%2fetc%2fpasswd",
    "/static/link_out.txt",
    "/static/link_dir/secret.txt",
    "/static/.env",
    "/static/.git/config",
    "/static/sub/.hidden",
    "/static/%2eenv",
    "/static/%2egit/config",
    "/static/./.env",
    "/static/",
    "/static/sub",
    "/static/sub/",
    "/static/%c0%ae%c0%ae/secret.txt",
    "/static/%ff%fe.css",
    "/static/site%ff.css",
    "/static/" + "a" * 5000,
]


@pytest.mark.parametrize("path", HOSTILE)
def test_hostile_paths_are_404_envelopes(public: Path, path: str) -> None:
    status, headers, body = get(build(public), path)
    assert status == 404, (path, status, body)
    assert headers["content-type"] == "application/json"
    assert json.loads(body)["code"] == "NOT_FOUND"
    assert SECRET not in body and DOTFILE not in body


def test_links_out_are_refused_even_with_follow_symlink_off_by_default(public: Path) -> None:
    # The same file through a link that stays inside the folder is served.
    status, _, body = get(build(public), "/static/sub/link_in.css")
    assert (status, body) == (200, PUBLIC)


# Segments a traversal attempt is made of, joined in every order by the fuzzers below.
SEGMENTS = [
    "..",
    ".",
    "",
    "%2e%2e",
    "%2E%2e",
    "%252e%252e",
    ".%2e",
    "%2e.",
    "..%2f",
    "..%5c",
    "..\\",
    "\\",
    "%00",
    "%c0%ae",
    "%ff",
    "outside",
    "secret.txt",
    "link_dir",
    "link_out.txt",
    "sub",
    "site.css",
    ".env",
    ".git",
    "config",
    "%2fetc",
    "etc",
    "passwd",
]
INSIDE = {PUBLIC, b"inner", bytes(range(256)) * 4}


def assert_nothing_from_outside(app: Any, path: str) -> None:
    status, _, body = get(app, path)
    assert status in (200, 404), (path, status, body)
    if status == 200:
        assert body in INSIDE, (path, body[:80])
    assert SECRET not in body and DOTFILE not in body, path


def test_every_pair_of_segments_stays_inside(public: Path) -> None:
    app = build(public)
    for first, second in itertools.product(SEGMENTS, repeat=2):
        assert_nothing_from_outside(app, f"/static/{first}/{second}")


@settings(max_examples=300, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(st.lists(st.sampled_from(SEGMENTS), min_size=1, max_size=6))
def test_fuzzed_paths_never_serve_a_file_outside(tmp_path_factory: Any, parts: list[str]) -> None:
    app = _fuzz_app(tmp_path_factory)
    assert_nothing_from_outside(app, "/static/" + "/".join(parts))


_FUZZ_APPS: dict[int, FastAPI] = {}


def _fuzz_app(tmp_path_factory: Any) -> FastAPI:
    # One tree for all the examples of a run (hypothesis reuses the fixture).
    key = id(tmp_path_factory)
    if key not in _FUZZ_APPS:
        _FUZZ_APPS[key] = build(make_tree(tmp_path_factory.mktemp("fuzz")))
    return _FUZZ_APPS[key]


def test_a_file_is_served_with_the_security_headers(public: Path) -> None:
    status, headers, body = get(build(public), "/static/site.css")
    assert (status, body) == (200, PUBLIC)
    assert headers["content-type"].startswith("text/css")
    for name, value in DEFAULT_STATIC_SECURITY_HEADERS.items():
        assert headers[name.lower()] == value
    assert headers["x-content-type-options"] == "nosniff"
    assert "default-src 'none'" in headers["content-security-policy"]


def test_etag_and_if_none_match_answer_304_with_the_headers(public: Path) -> None:
    app = build(public)
    _, headers, _ = get(app, "/static/site.css")
    etag = headers["etag"]
    status, again, body = get(app, "/static/site.css", headers={"If-None-Match": etag})
    assert (status, body) == (304, b"")
    assert again["etag"] == etag
    assert again["x-content-type-options"] == "nosniff"
    status, _, _ = get(app, "/static/site.css", headers={"If-None-Match": '"other"'})
    assert status == 200


def test_range_requests_are_answered_206(public: Path) -> None:
    app = build(public)
    status, headers, body = get(app, "/static/big.bin", headers={"Range": "bytes=10-19"})
    assert status == 206
    assert body == bytes(range(10, 20))
    assert headers["content-range"] == "bytes 10-19/1024"
    assert headers["x-content-type-options"] == "nosniff"
    status, _, _ = get(app, "/static/big.bin", headers={"Range": "bytes=5000-6000"})
    assert status == 416


def test_head_and_other_methods(public: Path) -> None:
    app = build(public)
    status, headers, body = get(app, "/static/site.css", method="HEAD")
    assert (status, body) == (200, b"")
    assert headers["content-length"] == str(len(PUBLIC))
    status, _, _ = get(app, "/static/site.css", method="POST")
    assert status == 405


def test_security_headers_can_be_replaced_or_extended(public: Path) -> None:
    headers_in = {**DEFAULT_STATIC_SECURITY_HEADERS, "Cache-Control": "public, max-age=86400"}
    _, headers, _ = get(build(public, security_headers=headers_in), "/static/site.css")
    assert headers["cache-control"] == "public, max-age=86400"
    assert headers["referrer-policy"] == "same-origin"
    _, headers, _ = get(build(public, security_headers={}), "/static/site.css")
    assert "content-security-policy" not in headers


def test_several_directories_first_match_wins(tmp_path: Path) -> None:
    first, second = tmp_path / "a", tmp_path / "b"
    first.mkdir()
    second.mkdir()
    (first / "both.txt").write_text("from a")
    (second / "both.txt").write_text("from b")
    (second / "only_b.txt").write_text("b only")
    app = FastAPI()
    register_exception_handlers(app)
    app.mount("/static", HardenedStaticFiles(directory=first, directories=[second]))
    assert get(app, "/static/both.txt")[2] == b"from a"
    assert get(app, "/static/only_b.txt")[2] == b"b only"


def test_a_missing_directory_fails_at_construction(tmp_path: Path) -> None:
    with pytest.raises(RuntimeError, match="does not exist"):
        HardenedStaticFiles(directory=tmp_path / "nope")
    with pytest.raises(RuntimeError, match="does not exist"):
        HardenedStaticFiles(directory=tmp_path, directories=[tmp_path / "nope"])
