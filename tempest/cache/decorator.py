"""``@cached``: memoize an async function's result in the project's cache (or a given one).

The key is the function's ``key_prefix`` + module + ``__qualname__`` plus a SHA-256 of its
bound arguments as canonical JSON (``self``/``cls`` left out), under a namespace; tags
(fixed, or formatted from the arguments: ``"user-{user_id}"``) let
:class:`~tempest.cache.CacheInvalidator` drop groups of entries at once. Values are JSON
through pydantic, typed by the return annotation. See :mod:`tempest.cache.flight` for
single flight, stale while revalidate and what happens when Redis is down.
"""

from __future__ import annotations

import contextlib
import functools
import inspect
import logging
from collections.abc import Awaitable, Callable, Iterable, Mapping
from typing import Any, TypeVar, cast, overload

from tempest.cache.backends import CacheUnavailableError
from tempest.cache.entries import MISSING
from tempest.cache.flight import Flight
from tempest.cache.keys import DEFAULT_NAMESPACE, check_name, check_names, entry_key
from tempest.cache.serialization import Codec, Deserializer, Serializer, call_identity

__all__ = ["cached"]

logger = logging.getLogger("tempest.cache")

F = TypeVar("F", bound=Callable[..., Awaitable[Any]])

_KEYS_KEPT = 4096

SkipCache = Callable[[tuple[Any, ...], dict[str, Any]], bool]
"""``skip_cache(args, kwargs)``: True runs the function without the cache (read and write)."""

Tags = Iterable[str] | Callable[[Mapping[str, Any]], Iterable[str]]
"""Tag names, with ``{parameter}`` placeholders, or a function of the bound arguments."""


@overload
def cached(backend: F, /) -> F: ...


@overload
def cached(
    backend: Any = None,
    /,
    *,
    ttl: float | None = None,
    key_prefix: str = "",
    namespace: str = DEFAULT_NAMESPACE,
    tags: Tags = (),
    skip_cache: SkipCache | None = None,
    serializer: Serializer | None = None,
    deserializer: Deserializer | None = None,
    stale_ttl: float = 0.0,
    lock_timeout: float = 3.0,
    lock_wait: float = 30.0,
    key: Callable[..., str] | None = None,
) -> Callable[[F], F]: ...


def cached(
    backend: Any = None,
    /,
    *,
    ttl: float | None = None,
    key_prefix: str = "",
    namespace: str = DEFAULT_NAMESPACE,
    tags: Tags = (),
    skip_cache: SkipCache | None = None,
    serializer: Serializer | None = None,
    deserializer: Deserializer | None = None,
    stale_ttl: float = 0.0,
    lock_timeout: float = 3.0,
    lock_wait: float = 30.0,
    key: Callable[..., str] | None = None,
) -> Any:
    """Cache an ``async def`` function's results.

    Args:
        backend: Where: None for the project's cache (``CACHE_URL``/``REDIS_URL``), an
            :class:`~tempest.cache.AsyncRedisManager`, a ``redis.asyncio.Redis`` client
            or a :class:`~tempest.cache.CacheBackend`. ``@cached`` without parentheses
            uses the project's cache.
        ttl: Seconds a value is fresh; None: ``CACHE_TTL_SECONDS`` (300); 0: no expiry.
        key_prefix: Prepended to the function's name in its keys.
        namespace: The namespace of its entries (invalidated together).
        tags: Tags of each entry: names, ``"user-{user_id}"`` placeholders filled from
            the arguments, or a function of the bound arguments returning names.
        skip_cache: ``skip_cache(args, kwargs)`` True bypasses the cache for that call.
        serializer: Own serializer (value -> bytes/str), with ``deserializer``; default
            JSON typed by the return annotation. ``pickle`` works, and unpickling runs
            whatever the cache's store holds: only with a store no one else writes.
        deserializer: Own deserializer (bytes -> value).
        stale_ttl: Seconds after ``ttl`` a value is still served while it reloads in the
            background (stale while revalidate); 0: off.
        lock_timeout: Seconds of the loader's lease (renewed while it runs).
        lock_wait: Seconds a caller waits for another process's load before loading.
        key: ``key(*args, **kwargs) -> str`` instead of hashing the arguments.

    Returns:
        The decorator; the decorated function keeps its signature and gains
        ``cache_key(*args, **kwargs)`` and ``invalidate(*args, **kwargs)``.

    Raises:
        TypeError: Not an ``async def`` function, a FastAPI ``Depends``/``Request``
            parameter (use :func:`~tempest.cache.cached_route` on routes), or a bad backend.
        ValueError: A namespace or tag with separators or wildcards, a negative duration.
    """
    if inspect.iscoroutinefunction(backend):
        return _decorate(cast(Callable[..., Awaitable[Any]], backend), None, {})
    options: dict[str, Any] = {
        "ttl": ttl,
        "key_prefix": key_prefix,
        "namespace": check_name(namespace, "namespace"),
        "tags": tags if callable(tags) else _static_tags(tags),
        "skip_cache": skip_cache,
        "serializer": serializer,
        "deserializer": deserializer,
        "stale_ttl": stale_ttl,
        "lock_timeout": lock_timeout,
        "lock_wait": lock_wait,
        "key": key,
    }
    if ttl is not None:  # check the durations now
        Flight(ttl=ttl, stale_ttl=stale_ttl, lease=lock_timeout, wait=lock_wait)
    from tempest.cache.project import backend_resolver

    resolve = backend_resolver(backend)

    def decorate(function: F) -> F:
        return cast(F, _decorate(function, resolve, options))

    return decorate


def _static_tags(tags: Iterable[str]) -> tuple[str, ...]:
    if isinstance(tags, str):
        tags = (tags,)
    tags = tuple(tags)
    # A template is checked once filled; a plain name now.
    check_names([tag for tag in tags if "{" not in tag], "tag")
    return tags


def _decorate(
    function: Callable[..., Awaitable[Any]],
    resolve: Callable[[], Any] | None,
    options: dict[str, Any],
) -> Callable[..., Awaitable[Any]]:
    name = f"{getattr(function, '__module__', '?')}.{getattr(function, '__qualname__', function)}"
    if not inspect.iscoroutinefunction(function):
        raise TypeError(f"@cached needs an async def function; {name} is not one")
    if resolve is None:
        from tempest.cache.project import get_cache

        resolve = get_cache
    signature = inspect.signature(function)
    _refuse_request_parameters(function, signature, name)
    parameters = list(signature.parameters)
    skipped_first = bool(parameters) and parameters[0] in ("self", "cls")
    codec = Codec(function, name, options.get("serializer"), options.get("deserializer"))
    namespace: str = options.get("namespace", DEFAULT_NAMESPACE)
    function_name = f"{options.get('key_prefix', '')}{function.__module__}.{function.__qualname__}"
    tags = options.get("tags", ())
    skip: SkipCache | None = options.get("skip_cache")
    own_key: Callable[..., str] | None = options.get("key")
    flights: list[Flight] = []  # built on first call (the default TTL reads the settings)

    def flight() -> Flight:
        if not flights:
            from tempest.cache.project import default_ttl

            ttl = options.get("ttl")
            flights.append(
                Flight(
                    ttl=default_ttl() if ttl is None else float(ttl),
                    stale_ttl=float(options.get("stale_ttl", 0.0)),
                    lease=float(options.get("lock_timeout", 3.0)),
                    wait=float(options.get("lock_wait", 30.0)),
                )
            )
        return flights[0]

    names = list(signature.parameters)
    positional_only_call = all(
        parameter.kind is inspect.Parameter.POSITIONAL_OR_KEYWORD
        for parameter in signature.parameters.values()
    )
    first = 1 if skipped_first else 0
    dynamic_tags = callable(tags) or any("{" in tag for tag in tags)
    heads: dict[str, list[str]] = {}  # key prefix -> the counters of fixed tags
    keys: dict[bytes, str] = {}  # identity -> key, bounded: hashing costs on a hit

    def bound(args: tuple[Any, ...], kwargs: dict[str, Any]) -> dict[str, Any]:
        if positional_only_call and not kwargs and len(args) == len(names):
            return dict(zip(names[first:], args[first:], strict=True))  # no bind needed
        call = signature.bind(*args, **kwargs)
        call.apply_defaults()
        arguments = dict(call.arguments)
        if skipped_first:
            arguments.pop(parameters[0], None)
        return arguments

    def key_and_counters(
        prefix: str, args: tuple[Any, ...], kwargs: dict[str, Any]
    ) -> tuple[str, list[str]]:
        arguments: dict[str, Any] | None = None
        if own_key is not None:
            identity = str(own_key(*args, **kwargs)).encode()
        else:
            arguments = bound(args, kwargs)
            identity = call_identity(name, arguments)
        identity = prefix.encode() + b"\0" + identity
        key = keys.get(identity)
        if key is None:
            if len(keys) >= _KEYS_KEPT:
                keys.clear()
            key = keys[identity] = entry_key(prefix, namespace, function_name, identity)
        if not dynamic_tags:
            counters = heads.get(prefix)
            if counters is None:
                counters = heads[prefix] = [
                    f"{prefix}ns:{namespace}",
                    *(f"{prefix}tag:{tag}" for tag in tags),
                ]
            return key, counters
        if arguments is None:
            arguments = bound(args, kwargs)
        filled = _fill_tags(tags, arguments)
        return key, [f"{prefix}ns:{namespace}", *(f"{prefix}tag:{tag}" for tag in filled)]

    @functools.wraps(function)
    async def wrapper(*args: Any, **kwargs: Any) -> Any:
        if skip is not None and skip(args, kwargs):
            return await function(*args, **kwargs)
        backend = resolve()
        entry_name, counters = key_and_counters(backend.prefix, args, kwargs)

        async def load() -> tuple[Any, bytes]:
            value = await function(*args, **kwargs)
            return value, codec.dumps(value)

        entry = await flight().get(backend, entry_name, counters, load)
        if entry.value is not MISSING:
            return entry.value
        try:
            return codec.loads(entry.payload)
        except Exception as error:
            logger.warning(
                "cache: the cached value of %s cannot be read back (%s: %s); loading it again",
                name,
                type(error).__name__,
                error,
            )
            with contextlib.suppress(CacheUnavailableError):
                await backend.delete([entry_name])
            entry = await flight().get(backend, entry_name, counters, load)
            if entry.value is not MISSING:
                return entry.value
            return await function(*args, **kwargs)  # another process stored it again

    async def invalidate(*args: Any, **kwargs: Any) -> None:
        """Drop the entry of this call (the next call runs the function)."""
        backend = resolve()
        await backend.delete([key_and_counters(backend.prefix, args, kwargs)[0]])

    def key_of(*args: Any, **kwargs: Any) -> str:
        """The cache key of this call."""
        return key_and_counters(resolve().prefix, args, kwargs)[0]

    wrapper.cache_key = key_of  # type: ignore[attr-defined]
    wrapper.invalidate = invalidate  # type: ignore[attr-defined]
    wrapper.cache_namespace = namespace  # type: ignore[attr-defined]
    return wrapper


def _fill_tags(tags: Any, arguments: dict[str, Any]) -> tuple[str, ...]:
    if callable(tags):
        return check_names(tags(arguments), "tag")
    return check_names((tag.format_map(arguments) for tag in tags), "tag")


def _refuse_request_parameters(
    function: Callable[..., Any], signature: inspect.Signature, name: str
) -> None:
    """Refuse routes: a key must never hold a ``Depends`` object or the request."""
    try:
        import typing

        hints: dict[str, Any] = typing.get_type_hints(function, include_extras=True)
    except Exception:
        hints = {}
    for parameter in signature.parameters.values():
        annotation = hints.get(parameter.name, parameter.annotation)
        if type(parameter.default).__name__ in ("Depends", "Security") or _is_injected(annotation):
            raise TypeError(
                f"@cached cannot key {name} on its parameter {parameter.name!r} (a FastAPI "
                "dependency or the request): decorate routes with @cached_route, which "
                "keys on the path, the query and (when declared) the principal"
            )


_CONNECTIONS = frozenset({"Request", "WebSocket", "HTTPConnection"})


def _is_injected(annotation: Any) -> bool:
    """Whether FastAPI fills a parameter so annotated: ``Annotated[..., Depends()]``, a request."""
    import typing

    if isinstance(annotation, str):
        text = annotation.replace(" ", "")
        return "Depends(" in text or "Security(" in text or text.rsplit(".", 1)[-1] in _CONNECTIONS
    if typing.get_origin(annotation) is typing.Annotated:
        if any(type(meta).__name__ in ("Depends", "Security") for meta in annotation.__metadata__):
            return True
        annotation = typing.get_args(annotation)[0]
    if isinstance(annotation, type):
        return any(base.__name__ in _CONNECTIONS for base in annotation.__mro__)
    return False
