"""RateLimitMiddleware: 429 past ``max_requests`` per sliding window, per key."""

from __future__ import annotations

import inspect
import math
from collections.abc import Iterable, Mapping
from typing import Any

from starlette.types import ASGIApp, Message, Receive, Scope, Send

from tempest.api.error_locale import localized_body
from tempest.api.middleware.rate_limit.keys import (
    KeyFunc,
    _bounded,
    key_by_header,
    key_by_ip,
    key_by_jwt_subject,
)
from tempest.api.middleware.rate_limit.stores import (
    MemoryRateLimitStore,
    RateLimitResult,
    RateLimitStore,
    RateLimitUnavailableError,
    RedisRateLimitStore,
)

__all__ = ["RateLimitMiddleware"]


class RateLimitMiddleware:
    """Allow each key ``max_requests`` requests per sliding ``window_seconds``; 429 beyond.

    Pure ASGI; websockets and lifespan pass through, and so do ``exempt_paths`` (exact
    paths; a path ending in ``/`` exempts everything under it). A request whose key
    function gives None is not limited. Every limited answer carries ``RateLimit-Policy``
    and ``RateLimit``; a refusal is 429 with ``Retry-After`` (whole seconds, at least 1)
    and the ``RATE_LIMITED`` envelope; a store that fails closed gives 503
    ``RATE_LIMIT_UNAVAILABLE`` with ``Retry-After``.
    """

    def __init__(
        self,
        app: ASGIApp,
        max_requests: int = 120,
        window_seconds: float = 60.0,
        key_func: KeyFunc | None = None,
        store: RateLimitStore | None = None,
        exempt_paths: Iterable[str] = (),
        *,
        policy_name: str = "default",
    ) -> None:
        """Wrap ``app``.

        Args:
            app: The ASGI application.
            max_requests: Requests allowed per key inside any window.
            window_seconds: Span of the sliding window.
            key_func: Gives a request's key from its scope (sync or async); default
                :func:`key_by_ip` (socket peer only).
            store: Where the logs live; default a new :class:`MemoryRateLimitStore`.
            exempt_paths: Paths never limited (health probes...).
            policy_name: The policy's name in the ``RateLimit`` header fields.

        Raises:
            ValueError: A limit that is not positive.
        """
        if isinstance(max_requests, bool) or not isinstance(max_requests, int) or max_requests < 1:
            raise ValueError(f"max_requests must be a positive integer, got {max_requests!r}")
        if not window_seconds > 0:
            raise ValueError(f"window_seconds must be positive, got {window_seconds!r}")
        if '"' in policy_name or "\\" in policy_name or not policy_name.isprintable():
            raise ValueError(f"policy_name must be printable, without quotes: {policy_name!r}")
        self.app = app
        self.max_requests = max_requests
        self.window_seconds = float(window_seconds)
        self.key_func: KeyFunc = key_func or key_by_ip()
        self.store: RateLimitStore = store if store is not None else MemoryRateLimitStore()
        exempt = (exempt_paths,) if isinstance(exempt_paths, str) else tuple(exempt_paths)
        self.exempt_exact = frozenset(path for path in exempt if not path.endswith("/"))
        self.exempt_prefixes = tuple(path for path in exempt if path.endswith("/"))
        self._async_key = inspect.iscoroutinefunction(self.key_func) or (
            inspect.iscoroutinefunction(getattr(self.key_func, "__call__", None))  # noqa: B004
        )
        self._policy = (
            b'"' + policy_name.encode() + b'";q=%d;w=%d' % (max_requests, math.ceil(window_seconds))
        )
        self._label = b'"' + policy_name.encode() + b'";r=%d;t=%d'
        self._memory_fast = type(self.store) is MemoryRateLimitStore

    @classmethod
    def from_settings(cls, app: ASGIApp, settings: Any) -> RateLimitMiddleware:
        """Build from the ``RATE_LIMIT_*`` settings (see :class:`RateLimitSettings`).

        ``RATE_LIMIT_REQUESTS`` None switches the limiter off (the app is served as is
        through a pass-through); the store is Redis when ``RATE_LIMIT_URL`` or
        ``REDIS_URL`` is set, memory otherwise.

        Raises:
            ImproperlyConfigured: ``RATE_LIMIT_KEY`` or ``RATE_LIMIT_URL`` is not understood.
        """
        from tempest.conf.shared_state import shared_state_url

        requests = getattr(settings, "RATE_LIMIT_REQUESTS", None)
        trusted = getattr(settings, "TRUSTED_PROXIES", None) or None
        key_func = _key_from_setting(settings, trusted)
        url = shared_state_url(settings, getattr(settings, "RATE_LIMIT_URL", None))
        fail_open = bool(getattr(settings, "RATE_LIMIT_FAIL_OPEN", True))
        store = _store_from_url(url, fail_open, enabled=requests is not None)
        middleware = cls(
            app,
            max_requests=int(requests) if requests is not None else 1,
            window_seconds=float(getattr(settings, "RATE_LIMIT_WINDOW_SECONDS", 60.0)),
            key_func=key_func,
            store=store,
            exempt_paths=tuple(getattr(settings, "RATE_LIMIT_EXEMPT_PATHS", ())),
        )
        middleware.enabled = requests is not None
        middleware._owns_store = True
        return middleware

    enabled = True
    """False when built from settings with ``RATE_LIMIT_REQUESTS`` None: a pass-through."""
    _owns_store = False

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        """Serve one connection scope; HTTP requests are counted."""
        if scope["type"] != "http" or not self.enabled:
            if scope["type"] == "lifespan" and self._owns_store:
                await self.app(scope, receive, self._closing_send(send))
                return
            await self.app(scope, receive, send)
            return
        path: str = scope["path"]
        if path in self.exempt_exact or (
            self.exempt_prefixes and path.startswith(self.exempt_prefixes)
        ):
            await self.app(scope, receive, send)
            return
        key = await self.key_func(scope) if self._async_key else self.key_func(scope)  # type: ignore[misc]
        if key is None:
            await self.app(scope, receive, send)
            return
        key = _bounded(key)  # type: ignore[arg-type]
        store = self.store
        try:
            if self._memory_fast:
                result = store.hit_now(  # type: ignore[attr-defined]
                    key, max_requests=self.max_requests, window_seconds=self.window_seconds
                )
            else:
                result = await store.hit(
                    key, max_requests=self.max_requests, window_seconds=self.window_seconds
                )
        except RateLimitUnavailableError:
            await self._unavailable(scope, send)
            return
        headers = [
            (b"ratelimit-policy", self._policy),
            (b"ratelimit", self._label % (result.remaining, math.ceil(result.reset_after))),
        ]
        if not result.allowed:
            await self._refuse(scope, send, result, headers)
            return

        async def send_with_headers(message: Message) -> None:
            if message["type"] == "http.response.start":
                message["headers"] = [*message.get("headers", ()), *headers]
            await send(message)

        await self.app(scope, receive, send_with_headers)

    def _closing_send(self, send: Send) -> Send:
        # The store built from settings is the middleware's: closed at shutdown.
        async def closing_send(message: Message) -> None:
            if message["type"] == "lifespan.shutdown.complete":
                await self.store.aclose()
            await send(message)

        return closing_send

    async def _refuse(
        self,
        scope: Scope,
        send: Send,
        result: RateLimitResult,
        headers: list[tuple[bytes, bytes]],
    ) -> None:
        wait = max(1, math.ceil(result.retry_after))
        window = _seconds(self.window_seconds)
        body = _envelope(
            scope,
            f"Too many requests: at most {self.max_requests} per {window}. Retry after {wait} s.",
            "RATE_LIMITED",
            {
                "limit": self.max_requests,
                "window_seconds": self.window_seconds,
                "retry_after": wait,
            },
            {"limit": self.max_requests, "window": window, "retry_after": wait},
        )
        await _send(send, 429, body, [*headers, (b"retry-after", b"%d" % wait)])

    async def _unavailable(self, scope: Scope, send: Send) -> None:
        wait = max(1, math.ceil(getattr(self.store, "retry_seconds", 1)))
        body = _envelope(
            scope,
            "The rate limiter's store cannot be reached and fails closed "
            "(RATE_LIMIT_FAIL_OPEN=False); try again in a moment.",
            "RATE_LIMIT_UNAVAILABLE",
            {"retry_after": wait},
        )
        await _send(send, 503, body, [(b"retry-after", b"%d" % wait)])


def _seconds(value: float) -> str:
    return f"{int(value)} s" if value == int(value) else f"{value} s"


def _envelope(
    scope: Scope,
    detail: str,
    code: str,
    details: Mapping[str, Any],
    params: Mapping[str, Any] | None = None,
) -> bytes:
    """The refusal's body in the request's language (the catalog key is the code)."""
    envelope = {"detail": detail, "code": code, "details": dict(details)}
    return localized_body(scope, envelope, code, params)


async def _send(send: Send, status: int, body: bytes, headers: list[tuple[bytes, bytes]]) -> None:
    await send(
        {
            "type": "http.response.start",
            "status": status,
            "headers": [
                (b"content-type", b"application/json"),
                (b"content-length", b"%d" % len(body)),
                *headers,
            ],
        }
    )
    await send({"type": "http.response.body", "body": body})


# -- from settings ----------------------------------------------------------------------

_REDIS_SCHEMES = ("redis", "rediss", "unix")


def _key_from_setting(settings: Any, trusted_proxies: Iterable[str] | None) -> KeyFunc:
    from tempest.exceptions.framework import ImproperlyConfigured

    value = str(getattr(settings, "RATE_LIMIT_KEY", "ip"))

    kind, _, argument = value.partition(":")
    kind = kind.strip().lower()
    if kind == "ip" and not argument:
        return key_by_ip(trusted_proxies=trusted_proxies)
    if kind == "header" and argument.strip():
        return key_by_header(argument.strip(), "header", trusted_proxies=trusted_proxies)
    if kind == "user" and not argument:
        secret = str(getattr(settings, "JWT_SECRET", "") or "")
        if not secret:
            raise ImproperlyConfigured(
                "RATE_LIMIT_KEY='user' reads the bearer token's subject and needs JWT_SECRET: "
                "set it, or key by 'ip'."
            )
        from tempest.utils.jwt import JWTUtils

        jwt = JWTUtils(
            secret,
            str(getattr(settings, "JWT_ALGORITHM", "HS256")),
            issuer=getattr(settings, "JWT_ISSUER", None),
            fallback_secrets=[
                (old.secret, old.until) for old in getattr(settings, "JWT_SECRET_FALLBACKS", ())
            ],
        )
        return key_by_jwt_subject(jwt, trusted_proxies=trusted_proxies)
    raise ImproperlyConfigured(
        f"RATE_LIMIT_KEY must be 'ip', 'user' or 'header:<name>', got {value!r}; "
        "fix it in the settings or the environment."
    )


def _store_from_url(url: str, fail_open: bool, *, enabled: bool) -> RateLimitStore:
    """The store ``url`` names; switched off, a memory one (the URL is still checked)."""
    from tempest.conf.masking import mask_url
    from tempest.exceptions.framework import ImproperlyConfigured

    scheme = url.split("://", 1)[0].lower() if "://" in url else ""
    if scheme in _REDIS_SCHEMES:
        return RedisRateLimitStore.from_url(url, fail_open) if enabled else MemoryRateLimitStore()
    if scheme == "memory":
        return MemoryRateLimitStore()
    raise ImproperlyConfigured(
        f"RATE_LIMIT_URL must be 'memory://' or a redis:// URL, got {mask_url(url)!r}; "
        "fix it (or REDIS_URL) in the settings or the environment."
    )
