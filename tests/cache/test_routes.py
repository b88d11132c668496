"""``@cached_route``: path + query keys, the principal when declared, ETag and 304."""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator
from typing import Annotated, Any

import httpx
import pytest
from fastapi import APIRouter, Depends, FastAPI, Header, HTTPException, Response
from pydantic import BaseModel

from tempest.cache import CacheBackend, CacheInvalidator, MemoryCacheBackend, cached_route

pytestmark = pytest.mark.anyio


class Item(BaseModel):
    name: str
    price: int
    secret: str = "hidden"


class PublicItem(BaseModel):
    name: str
    price: int


async def current_user(authorization: Annotated[str | None, Header()] = None) -> str:
    if authorization is None:
        raise HTTPException(401, "sign in")
    return authorization.removeprefix("Bearer ")


class Session:
    """Stands for a database session dependency: a new object per request."""


async def get_session() -> Session:
    return Session()


def build(backend: CacheBackend) -> tuple[FastAPI, dict[str, int]]:
    calls: dict[str, int] = {"item": 0, "mine": 0, "forgot": 0, "post": 0, "raw": 0}
    router = APIRouter()

    @router.get("/items/{name}", response_model=PublicItem)
    @cached_route(ttl=60, tags=["items"], backend=backend)
    async def item(
        name: str, session: Annotated[Session, Depends(get_session)], page: int = 1
    ) -> Any:
        calls["item"] += 1
        return Item(name=name, price=calls["item"] * 100 + page)

    @router.get("/mine")
    @cached_route(ttl=60, principal=current_user, backend=backend)
    async def mine(user: Annotated[str, Depends(current_user)]) -> dict[str, str]:
        calls["mine"] += 1
        return {"user": user}

    @router.get("/forgot")
    @cached_route(ttl=60, backend=backend)  # reads the user, principal= forgotten
    async def forgot(user: Annotated[str, Depends(current_user)]) -> dict[str, str]:
        calls["forgot"] += 1
        return {"user": user}

    @router.post("/items", status_code=201)
    @cached_route(ttl=60, backend=backend)
    async def create() -> dict[str, int]:
        calls["post"] += 1
        return {"created": calls["post"]}

    @router.get("/raw")
    @cached_route(ttl=60, backend=backend)
    async def raw() -> Response:
        calls["raw"] += 1
        return Response(b"plain", media_type="text/plain")

    app = FastAPI()
    app.include_router(router)
    return app, calls


@pytest.fixture
async def client(backend: CacheBackend) -> AsyncIterator[tuple[httpx.AsyncClient, dict[str, int]]]:
    app, calls = build(backend)
    transport = httpx.ASGITransport(app=app)
    async with httpx.AsyncClient(transport=transport, base_url="http://test") as http:
        yield http, calls


async def test_a_route_is_cached_on_its_path_and_query(client: Any) -> None:
    http, calls = client
    first = await http.get("/items/desk?page=2")
    again = await http.get("/items/desk?page=2")
    other = await http.get("/items/lamp?page=2")
    assert first.status_code == again.status_code == 200
    assert first.json() == {"name": "desk", "price": 102}  # the response_model, no secret
    assert again.content == first.content
    assert other.json()["name"] == "lamp"
    assert calls["item"] == 2
    assert first.headers["content-type"] == "application/json"


async def test_the_query_order_does_not_matter_but_its_values_do(client: Any) -> None:
    http, calls = client
    await http.get("/items/desk?page=2&x=1")
    await http.get("/items/desk?x=1&page=2")
    assert calls["item"] == 1
    await http.get("/items/desk?page=3&x=1")
    assert calls["item"] == 2


async def test_the_key_holds_no_dependency_value(client: Any) -> None:
    """Each request gets a new Session object; the answer is still cached (not keyed on it)."""
    http, calls = client
    for _ in range(3):
        await http.get("/items/desk")
    assert calls["item"] == 1


async def test_an_etag_answers_if_none_match_with_304(client: Any) -> None:
    http, calls = client
    first = await http.get("/items/desk")
    etag = first.headers["etag"]
    assert etag.startswith('"') and etag.endswith('"')
    unchanged = await http.get("/items/desk", headers={"If-None-Match": etag})
    assert unchanged.status_code == 304
    assert unchanged.content == b""
    assert unchanged.headers["etag"] == etag
    weak = await http.get("/items/desk", headers={"If-None-Match": f'"other", W/{etag}'})
    assert weak.status_code == 304
    stale = await http.get("/items/desk", headers={"If-None-Match": '"other"'})
    assert stale.status_code == 200
    assert calls["item"] == 1


async def test_a_tag_invalidation_reloads_and_changes_the_etag(
    client: Any, backend: CacheBackend
) -> None:
    http, calls = client
    first = await http.get("/items/desk")
    await CacheInvalidator(backend).invalidate_tags("items")
    second = await http.get("/items/desk", headers={"If-None-Match": first.headers["etag"]})
    assert second.status_code == 200
    assert second.json()["price"] == 201
    assert second.headers["etag"] != first.headers["etag"]
    assert calls["item"] == 2


async def test_with_a_principal_one_user_never_gets_another_users_answer(client: Any) -> None:
    http, calls = client
    ana = await http.get("/mine", headers={"Authorization": "Bearer ana"})
    bob = await http.get("/mine", headers={"Authorization": "Bearer bob"})
    ana_again = await http.get("/mine", headers={"Authorization": "Bearer ana"})
    anonymous = await http.get("/mine")
    assert ana.json() == ana_again.json() == {"user": "ana"}
    assert bob.json() == {"user": "bob"}
    assert anonymous.status_code == 401  # the dependency runs before the cache is read
    assert calls["mine"] == 2


async def test_without_a_principal_requests_with_credentials_bypass_the_cache(
    client: Any,
) -> None:
    http, calls = client
    ana = await http.get("/forgot", headers={"Authorization": "Bearer ana"})
    bob = await http.get("/forgot", headers={"Authorization": "Bearer bob"})
    assert (ana.json(), bob.json()) == ({"user": "ana"}, {"user": "bob"})
    assert calls["forgot"] == 2
    assert "etag" not in bob.headers  # not answered from the cache
    public = [await http.get("/items/desk") for _ in range(2)]
    assert [r.json() for r in public] == [public[0].json()] * 2
    assert calls["item"] == 1  # without credentials the cache works as usual


async def test_other_methods_and_own_responses_are_not_cached(client: Any) -> None:
    http, calls = client
    assert (await http.post("/items")).json() == {"created": 1}
    assert (await http.post("/items")).json() == {"created": 2}
    assert (await http.post("/items")).status_code == 201
    assert (await http.get("/raw")).text == "plain"
    assert (await http.get("/raw")).text == "plain"
    assert calls["raw"] == 2


async def test_concurrent_cold_requests_run_the_route_once(client: Any) -> None:
    http, calls = client
    answers = await asyncio.gather(*(http.get("/items/chair") for _ in range(50)))
    assert {answer.status_code for answer in answers} == {200}
    assert calls["item"] == 1


async def test_the_openapi_document_shows_only_the_routes_own_parameters(client: Any) -> None:
    http, _ = client
    document = (await http.get("/openapi.json")).json()
    parameters = document["paths"]["/items/{name}"]["get"]["parameters"]
    assert sorted(parameter["name"] for parameter in parameters) == ["name", "page"]
    mine = document["paths"]["/mine"]["get"]["parameters"]
    assert [parameter["name"] for parameter in mine] == ["authorization"]


async def test_an_unserializable_route_value_names_the_route() -> None:
    router = APIRouter()

    @router.get("/broken")
    @cached_route(ttl=60, backend=MemoryCacheBackend())
    async def broken() -> Any:
        return {"lock": asyncio.Lock()}

    app = FastAPI()
    app.include_router(router)
    transport = httpx.ASGITransport(app=app, raise_app_exceptions=True)
    async with httpx.AsyncClient(transport=transport, base_url="http://test") as http:
        with pytest.raises(TypeError, match=r"cached route .*broken returned a dict"):
            await http.get("/broken")


def test_bad_route_options_are_refused() -> None:
    with pytest.raises(ValueError, match="invalid cache tag 'items:\\*'"):
        cached_route(tags=["items:*"])
    with pytest.raises(ValueError, match="invalid cache namespace"):
        cached_route(namespace="a b")
    with pytest.raises(ValueError, match="must not be negative"):
        cached_route(ttl=-5)
    with pytest.raises(TypeError, match="needs an async def route"):

        @cached_route(ttl=5)  # type: ignore[type-var]
        def plain() -> int:
            return 1
