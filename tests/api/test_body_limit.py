"""BodySizeLimitMiddleware and the 422 handler's echo rules, on small in-process apps."""

from __future__ import annotations

import json
from collections.abc import AsyncIterator, Iterator, MutableMapping
from typing import Annotated, Any

import httpx
import pytest
from fastapi import APIRouter, FastAPI, Query, Request
from pydantic import BaseModel, Field, SecretStr

from tempest.api import register_exception_handlers
from tempest.api.exception_handlers import REDACTED, is_secret_name
from tempest.api.middleware.body_limit import BodySizeLimitMiddleware, has_invalid_text

pytestmark = pytest.mark.anyio


class Login(BaseModel):
    email: str = Field(max_length=20)
    password: str = Field(min_length=8)


class Wallet(BaseModel):
    label: str
    seed: SecretStr
    nested: Login | None = None


def build(limit: int | None = 1_000, *, include_input: bool = True) -> FastAPI:
    app = FastAPI()
    register_exception_handlers(app, include_input=include_input)
    app.add_middleware(BodySizeLimitMiddleware, max_body_size=limit)

    @app.post("/login")
    async def login(data: Login) -> dict[str, str]:
        return {"email": data.email}

    @app.post("/wallet")
    async def wallet(data: Wallet) -> dict[str, str]:
        return {"label": data.label}

    @app.get("/find")
    async def find(api_key: Annotated[str, Query(min_length=30)]) -> dict[str, str]:
        return {"key": api_key}

    @app.post("/raw")
    async def raw(request: Request) -> dict[str, int]:
        return {"size": len(await request.body())}

    big = APIRouter()

    @big.post("/upload", max_body_size=5_000)
    async def upload(request: Request) -> dict[str, int]:
        return {"size": len(await request.body())}

    app.include_router(big)
    return app


@pytest.fixture
async def http() -> AsyncIterator[httpx.AsyncClient]:
    transport = httpx.ASGITransport(app=build(), raise_app_exceptions=False)
    async with httpx.AsyncClient(transport=transport, base_url="http://test") as client:
        yield client


# -- the raw JSON check ------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("body", "bad"),
    [
        (b'{"a": "plain"}', False),
        (b'{"a": "\\u0000"}', True),
        (b'{"a": "x\\u0000"}', True),
        (b'{"a": "\\\\u0000"}', False),  # an escaped backslash, then the text u0000
        (b'{"a": "\\\\\\u0000"}', True),  # escaped backslash, then a NUL escape
        (b'{"a": "\\ud83d\\ude00"}', False),  # a valid pair (an emoji)
        (b'{"a": "\\uD83D\\uDE00"}', False),
        (b'{"a": "\\ud83d"}', True),  # high alone
        (b'{"a": "\\ude00"}', True),  # low alone
        (b'{"a": "\\ude00\\ud83d"}', True),  # reversed
        (b'{"a": "\\ud83d\\\\ude00"}', True),  # high, then an escaped backslash
        (b'{"a": "\\u00e9\\u0041"}', False),
        (b'{"\\u0000": 1}', True),  # in a key
    ],
)
def test_has_invalid_text_agrees_with_the_json_decoder(body: bytes, bad: bool) -> None:
    assert has_invalid_text(body) is bad
    decoded = json.loads(body)
    texts = [*decoded, *(v for v in decoded.values() if isinstance(v, str))]
    decoder_says = any(
        "\x00" in text or any(0xD800 <= ord(char) <= 0xDFFF for char in text) for text in texts
    )
    assert decoder_says is bad


async def test_an_escape_split_across_chunks_is_seen(http: httpx.AsyncClient) -> None:
    async def chunks() -> AsyncIterator[bytes]:
        yield b'{"email": "a\\'
        yield b'u0000", "password": "long enough"}'

    response = await http.post(
        "/login", content=chunks(), headers={"Content-Type": "application/json"}
    )
    assert response.status_code == 422
    assert response.json()["details"]["errors"][0]["type"] == "string_invalid_character"


async def test_other_content_types_are_not_scanned(http: httpx.AsyncClient) -> None:
    response = await http.post(
        "/raw", content=b"\\u0000 literal", headers={"Content-Type": "text/plain"}
    )
    assert response.status_code == 200


# -- the limit -----------------------------------------------------------------------------


async def test_a_route_limit_overrides_the_app_limit(http: httpx.AsyncClient) -> None:
    assert (await http.post("/raw", content=b"x" * 1_000)).status_code == 200
    over = await http.post("/raw", content=b"x" * 1_001)
    assert over.status_code == 413
    assert over.json()["code"] == "CONTENT_TOO_LARGE"
    assert (await http.post("/upload", content=b"x" * 4_000)).json() == {"size": 4_000}
    bigger = await http.post("/upload", content=b"x" * 5_001)
    assert bigger.status_code == 413
    assert bigger.json()["code"] == "CONTENT_TOO_LARGE"


async def test_no_limit() -> None:
    transport = httpx.ASGITransport(app=build(None), raise_app_exceptions=False)
    async with httpx.AsyncClient(transport=transport, base_url="http://test") as client:
        response = await client.post("/raw", content=b"x" * 100_000)
    assert response.json() == {"size": 100_000}


def test_a_negative_limit_is_refused() -> None:
    with pytest.raises(ValueError, match="non-negative"):
        BodySizeLimitMiddleware(build(), max_body_size=-1)


# -- the echo of input ---------------------------------------------------------------------


@pytest.mark.parametrize(
    ("name", "secret"),
    [
        ("password", True),
        ("new_password", True),
        ("currentPassword", True),
        ("client_secret", True),
        ("refresh_token", True),
        ("apiToken", True),
        ("api_key", True),
        ("apiKey", True),
        ("X-API-Key", True),
        ("code", True),
        ("mfa_code", True),
        ("otp", True),
        ("pin", True),
        ("email", False),
        ("name", False),
        ("monkey", False),
        ("footprint", False),
        ("barcode", False),
        ("description", False),
    ],
)
def test_the_secret_name_rule(name: str, secret: bool) -> None:
    assert is_secret_name(name) is secret


async def test_secret_fields_are_redacted_at_any_depth(http: httpx.AsyncClient) -> None:
    response = await http.post(
        "/wallet",
        json={"seed": ["s33d"], "nested": {"email": "e" * 30, "password": "hunter2"}},
    )
    assert response.status_code == 422
    errors = {tuple(error["loc"]): error for error in response.json()["details"]["errors"]}
    assert errors[("body", "label")]["input"] == {
        "seed": REDACTED,
        "nested": {"email": "e" * 30, "password": REDACTED},
    }
    assert errors[("body", "seed")]["input"] == REDACTED  # typed SecretStr
    assert errors[("body", "nested", "email")]["input"] == "e" * 30
    assert errors[("body", "nested", "password")]["input"] == REDACTED
    assert "hunter2" not in response.text and "s33d" not in response.text


async def test_a_secret_query_parameter_is_redacted(http: httpx.AsyncClient) -> None:
    response = await http.get("/find", params={"api_key": "short-key"})
    assert response.status_code == 422
    assert "short-key" not in response.text


async def test_input_can_be_left_out_entirely() -> None:
    transport = httpx.ASGITransport(app=build(include_input=False), raise_app_exceptions=False)
    async with httpx.AsyncClient(transport=transport, base_url="http://test") as client:
        response = await client.post("/login", json={"email": "e" * 30, "password": "x"})
    errors: list[dict[str, Any]] = response.json()["details"]["errors"]
    assert len(errors) == 2
    assert all("input" not in error for error in errors)
    assert all({"type", "loc", "msg"} <= set(error) for error in errors)


@pytest.mark.parametrize("token", ["NaN", "Infinity", "-Infinity", '"\\ud800"'])
async def test_the_422_is_always_writable(token: str) -> None:
    # Without the middleware: the handler alone copes with what the JSON decoder let in.
    app = FastAPI()
    register_exception_handlers(app)

    @app.post("/login")
    async def login(data: Login) -> None: ...

    transport = httpx.ASGITransport(app=app, raise_app_exceptions=False)
    async with httpx.AsyncClient(transport=transport, base_url="http://test") as client:
        response = await client.post(
            "/login",
            content=f'{{"email": {token}, "password": "long enough"}}',
            headers={"Content-Type": "application/json"},
        )
    assert response.status_code == 422, response.text
    (error,) = response.json()["details"]["errors"]
    assert error["loc"] == ["body", "email"]
    assert isinstance(error["input"], str)


# -- what the database drivers say -----------------------------------------------------------


@pytest.mark.parametrize("value", ["a\x00b", "\ud800"], ids=["nul", "surrogate"])
async def test_the_drivers_refusals_are_recognised(database_url: str, value: str) -> None:
    from sqlalchemy import text
    from sqlalchemy.ext.asyncio import create_async_engine

    from tempest.api.exception_handlers import is_unstorable_text_error

    engine = create_async_engine(database_url)
    try:
        async with engine.connect() as connection:
            await connection.execute(text("SELECT :value"), {"value": value})
    except Exception as error:
        assert is_unstorable_text_error(error), repr(error)
    else:
        assert database_url.startswith("sqlite") and value == "a\x00b"  # SQLite stores NUL
    finally:
        await engine.dispose()


def test_other_errors_are_not_mistaken_for_text() -> None:
    from sqlalchemy.exc import IntegrityError

    from tempest.api.exception_handlers import is_unstorable_text_error

    assert not is_unstorable_text_error(IntegrityError("INSERT", {}, Exception("duplicate")))
    not_ascii = UnicodeEncodeError("ascii", "é", 0, 1, "ordinal not in range(128)")
    assert not is_unstorable_text_error(not_ascii)


# -- hostile lengths, in process (issue 15) ----------------------------------------------------


def test_it_is_exported_from_tempest_and_tempest_api() -> None:
    import tempest
    import tempest.api

    assert tempest.BodySizeLimitMiddleware is BodySizeLimitMiddleware
    assert tempest.api.BodySizeLimitMiddleware is BodySizeLimitMiddleware


class Drive:
    """Run one raw ASGI request through a 1 000-byte limit, recording every pull.

    ``inner`` is a plain ASGI app that reads the whole body (like a route would), counting
    the bytes it was given; ``pulls`` counts the calls of the server's ``receive``.
    """

    def __init__(self, headers: list[tuple[bytes, bytes]], chunks: list[bytes]) -> None:
        self.headers = headers
        self.chunks = chunks
        self.pulls = 0
        self.app_called = False
        self.app_saw = 0
        self.sent: list[dict[str, Any]] = []

    async def receive(self) -> dict[str, Any]:
        self.pulls += 1
        if self.pulls > len(self.chunks):
            return {"type": "http.disconnect"}
        more = self.pulls < len(self.chunks)
        return {"type": "http.request", "body": self.chunks[self.pulls - 1], "more_body": more}

    async def send(self, message: MutableMapping[str, Any]) -> None:
        self.sent.append(dict(message))

    async def inner(self, scope: Any, receive: Any, send: Any) -> None:
        self.app_called = True
        more = True
        while more:
            message = await receive()
            self.app_saw += len(message.get("body", b""))
            more = message.get("more_body", False)
        await send({"type": "http.response.start", "status": 200, "headers": []})
        await send({"type": "http.response.body", "body": b"read"})

    async def run(self, limit: int = 1_000) -> tuple[int, dict[str, Any]]:
        scope = {
            "type": "http",
            "http_version": "1.1",
            "method": "POST",
            "path": "/",
            "headers": self.headers,
        }
        await BodySizeLimitMiddleware(self.inner, max_body_size=limit)(
            scope, self.receive, self.send
        )
        status = self.sent[0]["status"]
        body = b"".join(message.get("body", b"") for message in self.sent[1:])
        return status, json.loads(body) if status != 200 else {}


@pytest.mark.parametrize("declared", [b"1001", b"10737418240", b"9" * 40])
async def test_a_declared_length_over_the_limit_is_refused_before_any_pull(
    declared: bytes,
) -> None:
    drive = Drive([(b"content-length", declared)], [b"x" * 65_536])
    status, payload = await drive.run()
    assert status == 413
    assert payload["code"] == "CONTENT_TOO_LARGE" and payload["details"] == {"limit": 1_000}
    assert drive.pulls == 0  # the server's receive was never called: not one byte read
    assert drive.app_saw == 0


async def test_a_length_that_lies_is_counted_while_it_streams() -> None:
    # Declares 10 bytes, sends 5 000 in 500-byte chunks.
    drive = Drive([(b"content-length", b"10")], [b"x" * 500] * 10)
    status, payload = await drive.run()
    assert status == 413 and payload["code"] == "CONTENT_TOO_LARGE"
    assert drive.app_saw <= 1_000
    assert drive.pulls == 3  # refused on the chunk that crossed the limit, no further


async def test_a_chunked_body_over_the_limit_is_refused_while_it_streams() -> None:
    drive = Drive([(b"transfer-encoding", b"chunked")], [b"x" * 300] * 100)
    status, payload = await drive.run()
    assert status == 413 and payload["code"] == "CONTENT_TOO_LARGE"
    assert drive.app_saw <= 1_000
    assert drive.pulls == 4


async def test_a_chunked_body_at_the_limit_is_read() -> None:
    drive = Drive([(b"transfer-encoding", b"chunked")], [b"x" * 250] * 4)
    assert (await drive.run())[0] == 200
    assert drive.app_saw == 1_000


@pytest.mark.parametrize(
    "lengths",
    [[b"-1"], [b"abc"], [b""], [b"1e3"], [b" 5"], [b"+5"], [b"5, 5"], [b"5", b"6"], [b"\xb2"]],
    ids=["negative", "word", "empty", "float", "space", "plus", "list", "two", "superscript"],
)
async def test_a_content_length_that_is_not_one_number_is_a_400(lengths: list[bytes]) -> None:
    drive = Drive([(b"content-length", value) for value in lengths], [b"x" * 5])
    status, payload = await drive.run()
    assert status == 400
    assert payload["code"] == "INVALID_CONTENT_LENGTH"
    assert set(payload) == {"detail", "code", "details"}
    assert "Transfer-Encoding: chunked" in payload["detail"]
    assert not drive.app_called and drive.pulls == 0


async def test_the_same_length_twice_is_one_length() -> None:
    drive = Drive([(b"content-length", b"5"), (b"content-length", b"5")], [b"x" * 5])
    assert (await drive.run())[0] == 200
    assert drive.app_saw == 5


# -- on a real uvicorn server, raw sockets -------------------------------------------------------

SERVICE = """
from fastapi import FastAPI, Request

from tempest.api import BodySizeLimitMiddleware, register_exception_handlers

app = FastAPI()
register_exception_handlers(app)
app.add_middleware(BodySizeLimitMiddleware, max_body_size=1_000)
progress = {"calls": 0, "read": 0}


@app.post("/raw")
async def raw(request: Request) -> dict[str, int]:
    progress["calls"] += 1
    size = 0
    async for chunk in request.stream():
        size += len(chunk)
        progress["read"] = max(progress["read"], size)
    return {"size": size}


@app.get("/progress")
async def seen() -> dict[str, int]:
    answer = dict(progress)
    progress.update(calls=0, read=0)
    return answer
"""


@pytest.fixture(scope="module")
def served(tmp_path_factory: pytest.TempPathFactory) -> Iterator[int]:
    """A uvicorn process serving ``SERVICE`` (a 1 000-byte limit); its port."""
    import subprocess

    from tests.helpers import PYTHON, clean_env, free_port, stop_group, wait_for_http

    folder = tmp_path_factory.mktemp("body_limit_service")
    (folder / "service.py").write_text(SERVICE)
    port = free_port()
    command = [PYTHON, "-m", "uvicorn", "service:app", "--port", str(port)]
    process = subprocess.Popen(
        [*command, "--log-level", "warning"],
        cwd=folder,
        env=clean_env(),
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
        start_new_session=True,
    )
    try:
        wait_for_http(f"http://127.0.0.1:{port}/progress")
        yield port
    finally:
        stop_group(process)


def exchange(port: int, *parts: bytes, wait: float = 10) -> bytes:
    """Send ``parts`` on one connection, then read until the server closes it (or ``wait``)."""
    import socket

    with socket.create_connection(("127.0.0.1", port), timeout=wait) as connection:
        for part in parts:
            connection.sendall(part)
        answer = b""
        try:
            while chunk := connection.recv(65536):
                answer += chunk
        except TimeoutError:
            answer += b"<still open>"
    return answer


def progress(port: int) -> dict[str, int]:
    from tests.helpers import wait_for_http

    answer: dict[str, int] = json.loads(wait_for_http(f"http://127.0.0.1:{port}/progress"))
    return answer


def head(*lines: bytes) -> bytes:
    return b"\r\n".join([b"POST /raw HTTP/1.1", b"Host: 127.0.0.1", *lines, b"", b""])


def status_of(answer: bytes) -> int:
    return int(answer.split(b" ", 2)[1])


def envelope_of(answer: bytes) -> dict[str, Any]:
    payload: dict[str, Any] = json.loads(answer.partition(b"\r\n\r\n")[2])
    return payload


def test_served_a_10_gb_length_is_a_413_with_no_byte_of_body_sent(served: int) -> None:
    # Only the head goes out; the answer comes back although no body byte ever does.
    answer = exchange(served, head(b"Content-Length: 10737418240"))
    assert status_of(answer) == 413, answer[:300]
    assert envelope_of(answer)["code"] == "CONTENT_TOO_LARGE"
    assert b"connection: close" in answer.lower()
    assert progress(served) == {"calls": 1, "read": 0}


def test_served_a_length_under_the_limit_waits_for_its_body(served: int) -> None:
    # The control of the test above: without the limit the server would wait for the body.
    assert exchange(served, head(b"Content-Length: 500"), wait=0.5) == b"<still open>"
    progress(served)


def test_served_a_chunked_body_is_refused_while_it_streams(served: int) -> None:
    chunk = b"12c\r\n" + b"x" * 300 + b"\r\n"  # 300 bytes; the terminating chunk never comes
    answer = exchange(served, head(b"Transfer-Encoding: chunked", b"Connection: close"), chunk * 10)
    assert status_of(answer) == 413, answer[:300]
    assert envelope_of(answer)["code"] == "CONTENT_TOO_LARGE"
    seen = progress(served)
    assert seen["calls"] == 1 and seen["read"] <= 1_000


def test_served_a_length_that_lies_frames_the_body(served: int) -> None:
    # uvicorn reads exactly the declared bytes: the rest is not this request's body.
    answer = exchange(served, head(b"Content-Length: 10", b"Connection: close") + b"x" * 5_000)
    assert status_of(answer) == 200, answer[:300]
    assert envelope_of(answer) == {"size": 10}
    assert progress(served) == {"calls": 1, "read": 10}


@pytest.mark.parametrize(
    "lines",
    [
        (b"Content-Length: -5",),
        (b"Content-Length: abc",),
        (b"Content-Length: +5",),
        (b"Content-Length: 5, 5",),
        (b"Content-Length: 5", b"Content-Length: 6"),
        (b"Content-Length: 5", b"Transfer-Encoding: chunked"),
        (b"Content-Length: " + b"9" * 40,),
    ],
    ids=["negative", "word", "plus", "list", "two", "with-chunked", "overflow"],
)
def test_served_a_bad_length_is_refused_by_uvicorn_before_the_app(
    served: int, lines: tuple[bytes, ...]
) -> None:
    answer = exchange(served, head(*lines) + b"xxxxx")
    assert status_of(answer) == 400, answer[:300]
    assert progress(served) == {"calls": 0, "read": 0}
