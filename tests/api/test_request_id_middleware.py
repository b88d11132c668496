import re
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager

import httpx
import pytest
from fastapi import FastAPI, WebSocket
from starlette.requests import Request
from starlette.responses import PlainTextResponse
from starlette.types import Message

from tempest.api import RequestIDMiddleware
from tempest.core.context import get_request_id

pytestmark = pytest.mark.anyio

GENERATED_ID = re.compile(r"[0-9a-f]{32}")


def build_app(header_name: str = "X-Request-ID") -> FastAPI:
    app = FastAPI()
    app.add_middleware(RequestIDMiddleware, header_name=header_name)

    @app.get("/whoami")
    async def whoami(request: Request) -> dict[str, str | None]:
        return {"context": get_request_id(), "state": request.state.request_id}

    @app.get("/sets-own-header")
    async def sets_own_header() -> PlainTextResponse:
        return PlainTextResponse("ok", headers={header_name: "from-the-app"})

    return app


@pytest.fixture
async def client() -> AsyncIterator[httpx.AsyncClient]:
    transport = httpx.ASGITransport(build_app())
    async with httpx.AsyncClient(transport=transport, base_url="http://test") as client:
        yield client


async def test_generates_an_id_when_none_is_sent(client: httpx.AsyncClient) -> None:
    response = await client.get("/whoami")

    request_id = response.headers["x-request-id"]
    assert GENERATED_ID.fullmatch(request_id)
    assert response.json() == {"context": request_id, "state": request_id}


async def test_each_request_gets_its_own_id(client: httpx.AsyncClient) -> None:
    first = await client.get("/whoami")
    second = await client.get("/whoami")

    assert first.headers["x-request-id"] != second.headers["x-request-id"]


@pytest.mark.parametrize("incoming", ["abc-123", "trace.id_42", "a" * 128])
async def test_reuses_a_safe_incoming_id(client: httpx.AsyncClient, incoming: str) -> None:
    response = await client.get("/whoami", headers={"X-Request-ID": incoming})

    assert response.headers["x-request-id"] == incoming
    assert response.json()["context"] == incoming


@pytest.mark.parametrize(
    "incoming", ["a" * 129, "has space", "<script>", "semi;colon", "", "caf\u00e9"]
)
async def test_replaces_an_unsafe_incoming_id(client: httpx.AsyncClient, incoming: str) -> None:
    response = await client.get("/whoami", headers=[(b"X-Request-ID", incoming.encode())])

    request_id = response.headers["x-request-id"]
    assert GENERATED_ID.fullmatch(request_id)
    assert response.json()["context"] == request_id


async def test_context_is_reset_after_the_request(client: httpx.AsyncClient) -> None:
    # ASGITransport runs the app in this task, so a leaked value would be visible here.
    await client.get("/whoami", headers={"X-Request-ID": "leak-check"})

    assert get_request_id() is None


async def test_response_carries_exactly_one_id_header(client: httpx.AsyncClient) -> None:
    response = await client.get("/sets-own-header", headers={"X-Request-ID": "mine"})

    assert response.headers.get_list("x-request-id") == ["mine"]
    assert response.text == "ok"


async def test_custom_header_name() -> None:
    transport = httpx.ASGITransport(build_app(header_name="X-Correlation-ID"))
    async with httpx.AsyncClient(transport=transport, base_url="http://test") as client:
        response = await client.get("/whoami", headers={"X-Correlation-ID": "corr-1"})

    assert response.headers["x-correlation-id"] == "corr-1"
    assert "x-request-id" not in response.headers
    assert response.json()["context"] == "corr-1"


async def test_lifespan_passes_through() -> None:
    seen: list[str | None] = []

    @asynccontextmanager
    async def lifespan(app: FastAPI) -> AsyncIterator[None]:
        seen.append(get_request_id())
        yield

    app = FastAPI(lifespan=lifespan)
    app.add_middleware(RequestIDMiddleware)
    incoming = [{"type": "lifespan.startup"}, {"type": "lifespan.shutdown"}]
    sent: list[Message] = []

    async def receive() -> Message:
        return incoming.pop(0)

    async def send(message: Message) -> None:
        sent.append(message)

    await app({"type": "lifespan", "asgi": {"version": "3.0"}, "state": {}}, receive, send)

    assert [m["type"] for m in sent] == ["lifespan.startup.complete", "lifespan.shutdown.complete"]
    assert seen == [None]


async def test_websocket_gets_an_id_in_the_context() -> None:
    app = build_app()

    @app.websocket("/ws")
    async def websocket_endpoint(websocket: WebSocket) -> None:
        await websocket.accept()
        await websocket.send_text(get_request_id() or "")
        await websocket.close()

    scope = {
        "type": "websocket",
        "asgi": {"version": "3.0"},
        "scheme": "ws",
        "path": "/ws",
        "raw_path": b"/ws",
        "root_path": "",
        "query_string": b"",
        "headers": [(b"x-request-id", b"ws-1")],
        "client": ("127.0.0.1", 5000),
        "server": ("test", 80),
        "subprotocols": [],
    }
    sent: list[Message] = []

    async def receive() -> Message:
        return {"type": "websocket.connect"}

    async def send(message: Message) -> None:
        sent.append(message)

    await app(scope, receive, send)

    assert [m["type"] for m in sent] == ["websocket.accept", "websocket.send", "websocket.close"]
    assert sent[1]["text"] == "ws-1"
    assert get_request_id() is None


def test_from_settings_wraps_the_app() -> None:
    app = FastAPI()

    middleware = RequestIDMiddleware.from_settings(app, object())

    assert isinstance(middleware, RequestIDMiddleware)
    assert middleware.app is app
    assert middleware.header_name == "X-Request-ID"
