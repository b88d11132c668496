"""``make_tool_spec_router``: GET /tool-spec serves a manifest, or derives one from OpenAPI."""

from __future__ import annotations

from typing import Any

import httpx
import pytest
from fastapi import APIRouter, FastAPI
from pydantic import BaseModel

from tempest.api.tool_spec import make_tool_spec_router, openapi_tools

pytestmark = pytest.mark.anyio


class Item(BaseModel):
    name: str
    tags: list[str] = []


class Node(BaseModel):
    label: str
    children: list[Node] = []


def _app(*routers: APIRouter) -> FastAPI:
    app = FastAPI(title="shop", version="1.2.3", description="Sells things.")
    api = APIRouter(prefix="/api/items")

    @api.get("/{item_id}", summary="Read an item", operation_id="read_item")
    async def read(item_id: int, verbose: bool = False) -> Item:
        return Item(name=str(item_id))

    @api.post("", summary="Create an item")
    async def create(item: Item) -> Item:
        """Create one item from its name and tags."""
        return item

    @api.post("/tree", operation_id="plant")
    async def plant(node: Node) -> Node:
        return node

    @api.get("/old", deprecated=True)
    async def old() -> None: ...

    app.include_router(api)
    for router in routers:
        app.include_router(router)
    return app


async def _get(app: FastAPI, path: str = "/tool-spec") -> httpx.Response:
    transport = httpx.ASGITransport(app)
    async with httpx.AsyncClient(transport=transport, base_url="http://test") as http:
        return await http.get(path)


async def test_derived_from_openapi() -> None:
    answer = await _get(_app(make_tool_spec_router()))

    assert answer.status_code == 200
    spec = answer.json()
    assert (spec["service"], spec["version"], spec["description"]) == (
        "shop",
        "1.2.3",
        "Sells things.",
    )
    tools = {tool["name"]: tool for tool in spec["tools"]}
    read = tools["read_item"]
    assert (read["method"], read["path"], read["description"]) == (
        "GET",
        "/api/items/{item_id}",
        "Read an item",
    )
    assert read["parameters"]["required"] == ["item_id"]
    assert read["parameters"]["properties"]["item_id"]["type"] == "integer"
    assert read["parameters"]["properties"]["verbose"]["type"] == "boolean"
    # The body's $ref is inlined: the schema stands alone.
    [create] = [tool for tool in spec["tools"] if tool["summary"] == "Create an item"]
    assert create["description"] == "Create one item from its name and tags."
    body = create["parameters"]["properties"]["body"]
    assert body["properties"]["name"]["type"] == "string"
    assert "#/components" not in repr(create)
    # A recursive schema stops instead of looping.
    children = tools["plant"]["parameters"]["properties"]["body"]["properties"]["children"]
    assert children["items"]["type"] == "object"
    assert children["items"]["title"].startswith("Node")
    # Neither the route itself nor deprecated operations are tools.
    paths = {tool["path"] for tool in spec["tools"]}
    assert "/tool-spec" not in paths
    assert "/api/items/old" not in paths


async def test_a_dict_is_served_verbatim() -> None:
    manifest = {"service": "my-service", "tools": [{"path": "/api/users", "method": "GET"}]}

    answer = await _get(_app(make_tool_spec_router(manifest, path="/meta/tools")), "/meta/tools")

    assert answer.json() == manifest


async def test_sync_and_async_functions_are_called_per_request() -> None:
    calls: list[str] = []

    def sync_spec() -> dict[str, Any]:
        calls.append("sync")
        return {"n": len(calls)}

    async def async_spec() -> dict[str, Any]:
        calls.append("async")
        return {"n": len(calls)}

    app = _app(
        make_tool_spec_router(sync_spec, path="/a"), make_tool_spec_router(async_spec, path="/b")
    )

    assert (await _get(app, "/a")).json() == {"n": 1}
    assert (await _get(app, "/b")).json() == {"n": 2}
    assert (await _get(app, "/a")).json() == {"n": 3}


async def test_the_tag_shows_in_openapi() -> None:
    app = _app(make_tool_spec_router(tag="discovery"))

    assert app.openapi()["paths"]["/tool-spec"]["get"]["tags"] == ["discovery"]


def test_a_spec_of_the_wrong_type_is_refused() -> None:
    with pytest.raises(TypeError, match="spec must be a dict or a function"):
        make_tool_spec_router(42)  # type: ignore[arg-type]


def test_openapi_tools_names_operations_without_an_id() -> None:
    document = {
        "paths": {"/ping": {"get": {"summary": "Ping", "responses": {}}}},
        "components": {},
    }

    [tool] = openapi_tools(document)

    assert tool["name"] == "get_ping"
    assert tool["parameters"] == {"type": "object", "properties": {}, "required": []}
