"""``@cached``: keys, JSON values (pydantic included), namespaces and tags, bad input."""

from __future__ import annotations

import asyncio
import pickle
import uuid
from datetime import UTC, datetime
from pathlib import Path
from typing import Annotated, Any

import pytest
from fastapi import Depends, Request
from pydantic import BaseModel

import tempest
import tempest.cache
from tempest.cache import (
    CacheBackend,
    CacheInvalidator,
    MemoryCacheBackend,
    cached,
    namespace_registry_key,
    tag_registry_key,
)

pytestmark = pytest.mark.anyio


class Profile(BaseModel):
    id: uuid.UUID
    name: str
    joined: datetime


def test_the_spec_names_are_importable_from_tempest_and_tempest_cache() -> None:
    for name in (
        "AsyncRedisManager",
        "cached",
        "CacheInvalidator",
        "namespace_registry_key",
        "tag_registry_key",
        "cached_route",
    ):
        assert getattr(tempest, name) is getattr(tempest.cache, name)


def test_registry_keys_name_the_version_counters() -> None:
    assert namespace_registry_key("users") == "tempest:cache:ns:users"
    assert tag_registry_key("user-42", prefix="app:") == "app:tag:user-42"


async def test_a_value_is_computed_once_then_read_back(backend: CacheBackend) -> None:
    calls: list[int] = []

    @cached(backend, ttl=60)
    async def square(number: int) -> int:
        calls.append(number)
        return number * number

    assert [await square(3), await square(3), await square(4)] == [9, 9, 16]
    assert await square(number=3) == 9  # the same bound arguments: the same key
    assert calls == [3, 4]


async def test_pydantic_models_come_back_as_models(backend: CacheBackend) -> None:
    calls = 0
    joined = datetime(2026, 1, 2, 3, 4, 5, tzinfo=UTC)

    @cached(backend, ttl=60)
    async def profile(user_id: uuid.UUID) -> list[Profile]:
        nonlocal calls
        calls += 1
        return [Profile(id=user_id, name="Ana", joined=joined)]

    user = uuid.uuid4()
    first = await profile(user)
    second = await profile(user)
    assert calls == 1
    assert second == first
    assert isinstance(second[0], Profile)
    assert second[0].joined == joined
    assert second is not first  # a copy: changing it does not change the cache


async def test_without_a_return_annotation_the_value_is_plain_json(backend: CacheBackend) -> None:
    @cached(backend, ttl=60)
    async def data():  # type: ignore[no-untyped-def]
        return {"when": datetime(2026, 1, 1, tzinfo=UTC), "ids": (1, 2)}

    await data()  # type: ignore[no-untyped-call]
    expected = {"when": "2026-01-01T00:00:00Z", "ids": [1, 2]}
    assert await data() == expected  # type: ignore[no-untyped-call]


async def test_methods_key_on_their_arguments_not_on_self(backend: CacheBackend) -> None:
    calls: list[str] = []

    class Service:
        @cached(backend, ttl=60)
        async def greet(self, name: str) -> str:
            calls.append(name)
            return f"hello {name}"

    assert await Service().greet("ana") == await Service().greet("ana") == "hello ana"
    assert calls == ["ana"]


async def test_skip_cache_bypasses_reads_and_writes(backend: CacheBackend) -> None:
    calls = 0

    @cached(backend, ttl=60, skip_cache=lambda args, kwargs: kwargs.get("fresh") is True)
    async def orders(user: str, *, fresh: bool = False) -> int:
        nonlocal calls
        calls += 1
        return calls

    assert await orders("ana") == 1
    assert await orders("ana", fresh=True) == 2
    assert await orders("ana") == 1


async def test_an_own_key_function_replaces_the_hash(backend: CacheBackend) -> None:
    @cached(backend, ttl=60, key=lambda user, request_id: f"user={user}")
    async def lookup(user: str, request_id: str) -> str:
        return request_id

    assert await lookup("ana", "first") == "first"
    assert await lookup("ana", "second") == "first"


async def test_a_namespace_is_invalidated_as_a_whole(backend: CacheBackend) -> None:
    calls: list[str] = []

    @cached(backend, ttl=60, namespace="catalog")
    async def product(name: str) -> str:
        calls.append(name)
        return name

    @cached(backend, ttl=60, namespace="other")
    async def other(name: str) -> str:
        calls.append(f"other {name}")
        return name

    for call in (product("a"), product("b"), other("a")):
        await call
    assert await CacheInvalidator(backend).invalidate_namespaces("catalog") is True
    for call in (product("a"), product("b"), other("a")):
        await call
    assert calls == ["a", "b", "other a", "a", "b"]


async def test_tags_from_the_arguments_invalidate_one_user(backend: CacheBackend) -> None:
    calls: list[str] = []

    @cached(backend, ttl=60, tags=["profiles", "user-{user}"])
    async def profile(user: str) -> str:
        calls.append(user)
        return user

    @cached(backend, ttl=60, tags=lambda arguments: [f"user-{arguments['user']}"])
    async def settings_of(user: str) -> str:
        calls.append(f"settings {user}")
        return user

    for call in (profile("ana"), profile("bob"), settings_of("ana")):
        await call
    await CacheInvalidator(backend).invalidate_tags("user-ana")
    for call in (profile("ana"), profile("bob"), settings_of("ana")):
        await call
    assert calls == ["ana", "bob", "settings ana", "ana", "settings ana"]
    await CacheInvalidator(backend).invalidate_tags("profiles")
    await profile("bob")
    assert calls[-1] == "bob"


async def test_one_call_can_be_dropped(backend: CacheBackend) -> None:
    calls: list[int] = []

    @cached(backend, ttl=60)
    async def double(number: int) -> int:
        calls.append(number)
        return 2 * number

    await double(1)
    await double(2)
    assert await CacheInvalidator(backend).invalidate_call(double, 1) is True
    await double(1)
    await double(2)
    assert calls == [1, 2, 1]


async def test_the_ttl_expires_entries() -> None:
    now = [0.0]
    backend = MemoryCacheBackend(clock=lambda: now[0])
    calls = 0

    @cached(backend, ttl=10)
    async def tick() -> int:
        nonlocal calls
        calls += 1
        return calls

    assert await tick() == 1
    now[0] = 9.9
    assert await tick() == 1
    now[0] = 10.0
    assert await tick() == 2


async def test_ttl_zero_never_expires(redis_backend: CacheBackend, redis_url: str) -> None:
    from redis.asyncio import Redis

    @cached(redis_backend, ttl=0)
    async def forever() -> str:
        return "kept"

    await forever()
    client = Redis.from_url(redis_url)
    try:
        assert await client.ttl(forever.cache_key()) == -1  # type: ignore[attr-defined]
    finally:
        await client.aclose()


async def test_the_default_ttl_is_the_setting(redis_backend: CacheBackend, redis_url: str) -> None:
    from redis.asyncio import Redis

    @cached(redis_backend)
    async def default() -> str:
        return "value"

    await default()
    client = Redis.from_url(redis_url)
    try:
        assert 295 <= await client.ttl(default.cache_key()) <= 300  # type: ignore[attr-defined]
    finally:
        await client.aclose()


async def test_bare_decorator_uses_the_project_cache() -> None:
    from tempest.cache import reset_cache
    from tempest.conf import Settings, settings

    settings.configure(Settings())  # type: ignore[attr-defined]
    reset_cache()
    try:
        calls = 0

        @cached
        async def answer() -> int:
            nonlocal calls
            calls += 1
            return 42

        assert await answer() == await answer() == 42
        assert calls == 1
        assert type(tempest.cache.get_cache()) is MemoryCacheBackend
    finally:
        reset_cache()
        settings.reset()  # type: ignore[attr-defined]


async def test_a_pickle_serializer_is_allowed(backend: CacheBackend) -> None:
    @cached(backend, ttl=60, serializer=pickle.dumps, deserializer=pickle.loads)
    async def anything() -> Any:
        return {1, 2, 3}

    await anything()
    assert await anything() == {1, 2, 3}


class _Explode:
    def __reduce__(self) -> tuple[Any, ...]:
        return (Path.touch, (Path(_Explode.target),))

    target = ""


async def test_tempest_never_unpickles_what_it_reads(
    backend: CacheBackend, tmp_path: Path, caplog: pytest.LogCaptureFixture
) -> None:
    """A pickle planted in the store under a JSON function's key is not run."""
    from tempest.cache.entries import Entry, etag_of

    @cached(backend, ttl=60)
    async def name() -> str:
        return "safe"

    _Explode.target = str(tmp_path / "pwned")
    planted = pickle.dumps(_Explode())
    await backend.write(name.cache_key(), Entry(planted, etag_of(planted), (0,)), 60)  # type: ignore[attr-defined]
    with caplog.at_level("WARNING", logger="tempest.cache"):
        assert await name() == "safe"
        assert await name() == "safe"
    assert not (tmp_path / "pwned").exists()
    assert caplog.text.count("cannot be read back") == 1  # replaced by a good entry


async def test_a_stored_value_that_is_not_an_entry_is_ignored(
    redis_backend: CacheBackend, redis_url: str
) -> None:
    from redis.asyncio import Redis

    @cached(redis_backend, ttl=60)
    async def name() -> str:
        return "fresh"

    client = Redis.from_url(redis_url)
    try:
        await client.set(name.cache_key(), b"\x80\x04garbage")  # type: ignore[attr-defined]
    finally:
        await client.aclose()
    assert await name() == "fresh"


# -- bad input ---------------------------------------------------------------------------


async def test_an_unserializable_value_is_a_type_error_naming_the_function() -> None:
    @cached(MemoryCacheBackend(), ttl=60)
    async def make_lock() -> Any:
        return asyncio.Lock()

    with pytest.raises(TypeError, match=r"cached .*make_lock returned a Lock that cannot be"):
        await make_lock()


async def test_a_value_that_does_not_match_its_annotation_is_a_type_error() -> None:
    @cached(MemoryCacheBackend(), ttl=60)
    async def count() -> int:
        return object()  # type: ignore[return-value]

    with pytest.raises(TypeError, match="count returned a object"):
        await count()


async def test_an_argument_without_a_json_form_is_a_type_error_naming_it() -> None:
    @cached(MemoryCacheBackend(), ttl=60)
    async def describe(thing: object) -> str:
        return "x"

    with pytest.raises(TypeError, match="describe: argument 'thing' \\(object\\)"):
        await describe(object())


@pytest.mark.parametrize(
    "name", ["user:42", "a/b", "with space", "*", "users*", "user?", "[ab]", "", "-x", "é"]
)
def test_namespace_and_tag_names_with_separators_or_wildcards_are_refused(name: str) -> None:
    with pytest.raises(ValueError, match="invalid cache namespace"):
        cached(MemoryCacheBackend(), namespace=name)
    with pytest.raises(ValueError, match="invalid cache tag"):
        cached(MemoryCacheBackend(), tags=[name])
    with pytest.raises(ValueError, match="invalid cache tag"):
        tag_registry_key(name)
    with pytest.raises(ValueError, match="invalid cache namespace"):
        namespace_registry_key(name)


async def test_a_tag_filled_from_an_argument_is_checked_too() -> None:
    @cached(MemoryCacheBackend(), ttl=60, tags=["user-{user}"])
    async def profile(user: str) -> str:
        return user

    assert await profile("ana") == "ana"
    with pytest.raises(ValueError, match="invalid cache tag 'user-\\*'"):
        await profile("*")
    with pytest.raises(ValueError, match="invalid cache tag"):
        await CacheInvalidator(MemoryCacheBackend()).invalidate_tags("a:b")


def test_a_sync_function_is_refused() -> None:
    with pytest.raises(TypeError, match="needs an async def function"):

        @cached(MemoryCacheBackend())  # type: ignore[type-var]
        def plain() -> int:
            return 1


def test_depends_and_request_parameters_are_refused() -> None:
    async def current_user() -> str:
        return "ana"

    with pytest.raises(TypeError, match=r"parameter 'user'.*@cached_route"):

        @cached(MemoryCacheBackend())
        async def mine(user: str = Depends(current_user)) -> str:
            return user

    with pytest.raises(TypeError, match="parameter 'user'"):

        @cached(MemoryCacheBackend())
        async def annotated(user: Annotated[str, Depends(current_user)]) -> str:
            return user

    with pytest.raises(TypeError, match="parameter 'request'"):

        @cached(MemoryCacheBackend())
        async def route(request: Request) -> str:
            return request.url.path


def test_a_bad_backend_or_durations_are_refused() -> None:
    with pytest.raises(TypeError, match=r"must be None .* got str"):
        cached("redis://localhost")
    with pytest.raises(ValueError, match="must not be negative"):
        cached(MemoryCacheBackend(), ttl=-1)
    with pytest.raises(TypeError, match="both serializer= and deserializer="):

        @cached(MemoryCacheBackend(), serializer=pickle.dumps)
        async def half() -> int:
            return 1
