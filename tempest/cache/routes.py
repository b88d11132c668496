"""``@cached_route``: cache a GET route's JSON answer, with ETag and ``If-None-Match``.

Put it under the router's decorator::

    @router.get("/{order_id}")
    @cached_route(ttl=60, tags=["orders"])
    async def get_order(order_id: UUID, controller: Controller) -> OrderResponseSchema: ...

The key is the request's path and query (parameters sorted), never a dependency's value
or the request object; with ``principal=`` (a dependency giving the signed-in user) it
holds the principal's id too, so that an answer computed for one user is never served to
another. The route's dependencies still run on a hit (an authentication check answers
401 before the cache is read); keep them cheap (a database session opens its connection
only when first used).

The cached answer is the route's ``response_model`` as JSON (``by_alias`` and the
``exclude_*`` options honoured), with status ``status_code`` (200 by default) and a
strong ``ETag``; a request whose ``If-None-Match`` names it is answered 304 with no body.
Other methods, and a route that returns a ``Response`` itself, are not cached.
"""

from __future__ import annotations

import functools
import inspect
from collections.abc import Awaitable, Callable, Iterable
from typing import Any, TypeVar, cast
from urllib.parse import parse_qsl, urlencode

from tempest.cache.entries import Entry
from tempest.cache.flight import Flight
from tempest.cache.keys import DEFAULT_NAMESPACE, check_name, check_names, entry_key

__all__ = ["cached_route"]

F = TypeVar("F", bound=Callable[..., Awaitable[Any]])

_REQUEST = "tempest_cache_request"
_PRINCIPAL = "tempest_cache_principal"
_CACHED_METHODS = frozenset({"GET", "HEAD"})
_KEYS_KEPT = 4096


def cached_route(
    ttl: float | None = None,
    *,
    namespace: str = DEFAULT_NAMESPACE,
    tags: Iterable[str] = (),
    principal: Callable[..., Any] | None = None,
    stale_ttl: float = 0.0,
    backend: Any = None,
    lock_timeout: float = 3.0,
    lock_wait: float = 30.0,
) -> Callable[[F], F]:
    """Cache a route's answer (see the module).

    Args:
        ttl: Seconds an answer is fresh; None: ``CACHE_TTL_SECONDS``; 0: no expiry.
        namespace: The namespace of its entries.
        tags: Tags of its entries (fixed names), for :class:`~tempest.cache.CacheInvalidator`.
        principal: A dependency giving who asks (e.g. the app's ``current_user``): its
            value's ``id`` (or the value) becomes part of the key. Declare it on every
            route whose answer depends on the user.
        stale_ttl: Seconds after ``ttl`` an answer is still served while it reloads.
        backend: Where: None for the project's cache, or as for ``@cached``.
        lock_timeout: Seconds of the loader's lease (renewed while it runs).
        lock_wait: Seconds a request waits for another process's load before loading.

    Returns:
        The decorator.

    Raises:
        TypeError: Not an ``async def`` function.
        ValueError: A namespace or tag with separators or wildcards, a negative duration.
    """
    check_name(namespace, "namespace")
    tag_names = check_names(tags, "tag")
    from tempest.cache.project import backend_resolver

    resolve = backend_resolver(backend)
    if ttl is not None:
        Flight(ttl=ttl, stale_ttl=stale_ttl, lease=lock_timeout, wait=lock_wait)  # checks

    def decorate(endpoint: F) -> F:
        name = f"{endpoint.__module__}.{endpoint.__qualname__}"
        if not inspect.iscoroutinefunction(endpoint):
            raise TypeError(f"@cached_route needs an async def route; {name} is not one")
        flights: list[Flight] = []

        def flight() -> Flight:
            if not flights:
                from tempest.cache.project import default_ttl

                flights.append(
                    Flight(
                        ttl=default_ttl() if ttl is None else float(ttl),
                        stale_ttl=stale_ttl,
                        lease=lock_timeout,
                        wait=lock_wait,
                    )
                )
            return flights[0]

        route_name = f"route:{name}"
        encoders: dict[int, Callable[[Any], bytes]] = {}
        statuses: dict[int, int] = {}
        # Per key prefix (one per backend): the counters and the start of the entry keys.
        heads: dict[str, tuple[list[str], str]] = {}
        keys: dict[bytes, str] = {}  # identity -> key, bounded: hashing costs on a hit

        @functools.wraps(endpoint)
        async def wrapper(*args: Any, **kwargs: Any) -> Any:
            request = kwargs.pop(_REQUEST)
            who = kwargs.pop(_PRINCIPAL, None) if principal is not None else None
            scope = request.scope
            if scope["method"] not in _CACHED_METHODS or (
                principal is None and _sends_credentials(scope)
            ):
                # Without principal=, an answer may not depend on who asks: a request that
                # carries credentials is never answered from, nor stored in, the cache.
                return await endpoint(*args, **kwargs)
            backend = resolve()
            prefix = backend.prefix
            head = heads.get(prefix)
            if head is None:
                counters = [f"{prefix}ns:{namespace}", *(f"{prefix}tag:{tag}" for tag in tag_names)]
                head = heads[prefix] = (counters, f"{prefix}\0")
            identity = head[1].encode() + _identity(scope, who, principal is not None)
            key = keys.get(identity)
            if key is None:
                if len(keys) >= _KEYS_KEPT:
                    keys.clear()
                key = keys[identity] = entry_key(prefix, namespace, route_name, identity)
            route = scope.get("route")
            route_id = id(route)

            async def load() -> tuple[Any, bytes]:
                value = await endpoint(*args, **kwargs)
                if isinstance(value, _response_class()):
                    raise _Uncacheable(value)
                encoder = encoders.get(route_id)
                if encoder is None:
                    encoder = encoders[route_id] = _encoder(route, name)
                    statuses[route_id] = _status(route)
                return value, encoder(value)

            try:
                entry = await flight().get(backend, key, head[0], load)
            except _Uncacheable as uncacheable:
                return uncacheable.response
            status = statuses.get(route_id)
            return _answer(scope, entry, status if status is not None else _status(route))

        original = inspect.signature(endpoint)
        extra = [inspect.Parameter(_REQUEST, inspect.Parameter.KEYWORD_ONLY, annotation=_request())]
        if principal is not None:
            from fastapi import Depends

            extra.append(
                inspect.Parameter(
                    _PRINCIPAL,
                    inspect.Parameter.KEYWORD_ONLY,
                    default=Depends(principal),
                    annotation=Any,
                )
            )
        parameters = list(original.parameters.values())
        tail = [p for p in parameters if p.kind is inspect.Parameter.VAR_KEYWORD]
        head = [p for p in parameters if p.kind is not inspect.Parameter.VAR_KEYWORD]
        wrapper.__signature__ = original.replace(  # type: ignore[attr-defined]
            parameters=[*head, *extra, *tail]
        )
        return cast(F, wrapper)

    return decorate


class _Uncacheable(Exception):
    """The route returned a Response of its own: it is sent as is, not cached."""

    def __init__(self, response: Any) -> None:
        super().__init__("uncacheable response")
        self.response = response


def _request() -> Any:
    from starlette.requests import Request

    return Request


def _sends_credentials(scope: dict[str, Any]) -> bool:
    return any(name == b"authorization" for name, _value in scope["headers"])


def _identity(scope: dict[str, Any], who: Any, declared: bool) -> bytes:
    query: bytes = scope.get("query_string", b"")
    if query:
        pairs = sorted(parse_qsl(query.decode("latin-1"), keep_blank_values=True))
        query = urlencode(pairs).encode()
    path: str = scope["path"]
    identity = path.encode() + b"?" + query
    if declared:
        subject = getattr(who, "id", who)
        identity += b"\x00principal:" + (b"-" if subject is None else str(subject).encode())
    return identity


def _status(route: Any) -> int:
    return getattr(route, "status_code", None) or 200


def _encoder(route: Any, name: str) -> Callable[[Any], bytes]:
    """Serialize a route's value as FastAPI would: its response_model, as JSON."""
    from pydantic import TypeAdapter
    from pydantic_core import PydanticSerializationError, to_json

    model = getattr(route, "response_model", None)
    by_alias = bool(getattr(route, "response_model_by_alias", True))
    exclude_unset = bool(getattr(route, "response_model_exclude_unset", False))
    exclude_defaults = bool(getattr(route, "response_model_exclude_defaults", False))
    exclude_none = bool(getattr(route, "response_model_exclude_none", False))
    adapter = TypeAdapter(model) if model is not None else None

    def encode(value: Any) -> bytes:
        try:
            if adapter is not None:
                validated = adapter.validate_python(value, from_attributes=True)
                return bytes(
                    adapter.dump_json(
                        validated,
                        by_alias=by_alias,
                        exclude_unset=exclude_unset,
                        exclude_defaults=exclude_defaults,
                        exclude_none=exclude_none,
                    )
                )
            from fastapi.encoders import jsonable_encoder

            return bytes(to_json(jsonable_encoder(value)))
        except (PydanticSerializationError, ValueError, TypeError) as error:
            raise TypeError(
                f"cached route {name} returned a {type(value).__name__} that cannot be "
                f"serialized as JSON: {str(error).strip().splitlines()[0]}"
            ) from error

    return encode


def _answer(scope: dict[str, Any], entry: Entry, status: int) -> Any:
    etag = entry.etag.encode()
    for name, value in scope["headers"]:
        if name == b"if-none-match":
            if _matches(value.decode("latin-1"), entry.etag):
                return _cached_response()(b"", 304, [(b"etag", etag)])
            break
    payload = entry.payload
    return _cached_response()(
        payload,
        status,
        [
            (b"content-length", b"%d" % len(payload)),
            (b"content-type", b"application/json"),
            (b"etag", etag),
        ],
    )


_classes: dict[str, Any] = {}


def _response_class() -> Any:
    found = _classes.get("response")
    if found is None:
        from starlette.responses import Response

        found = _classes["response"] = Response
    return found


def _cached_response() -> Any:
    """A Starlette ``Response`` built from ready bytes and raw headers (no parsing)."""
    found = _classes.get("cached")
    if found is None:
        response_class = _response_class()

        class CachedResponse(response_class):  # type: ignore[misc, valid-type]
            def __init__(self, body: bytes, status: int, headers: list[tuple[bytes, bytes]]):
                self.status_code = status
                self.body = body
                self.raw_headers = headers
                self.background = None

        found = _classes["cached"] = CachedResponse
    return found


def _matches(header: str, etag: str) -> bool:
    """``If-None-Match`` (weak comparison, RFC 9110 §13.1.2) names ``etag``."""
    if header.strip() == "*":
        return True
    return any(candidate.strip().removeprefix("W/") == etag for candidate in header.split(","))
