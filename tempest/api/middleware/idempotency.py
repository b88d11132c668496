"""Pure ASGI idempotency keys with Stripe's semantics.

A ``POST`` or ``PATCH`` (by default) carrying an ``Idempotency-Key`` header runs once per
key: its answer is stored and replayed, byte for byte, to every retry with the same key.

- The key is scoped by the principal (the ``sub`` of a valid bearer JWT, else the client
  IP from :func:`~tempest.utils.client_ip.get_client_ip_from_scope`), the method and the
  request path; the store sees only a SHA-256 of the four, never the raw input.
- The first request takes an in-flight lease; a concurrent one with the same key is
  answered 409 ``IDEMPOTENCY_KEY_IN_USE`` and runs nothing. A request killed mid-way
  frees its key when the lease expires.
- A finished answer is replayed for the TTL: status, every header (repeated
  ``Set-Cookie`` included) and body, plus ``Idempotent-Replayed: true``.
- The same key with another request (SHA-256 of method, path, query and body) is 422
  ``IDEMPOTENCY_KEY_REUSED``.
- 5xx answers are not stored (the key is freed, a retry runs again), nor are answers
  that a retry may change without changing the request (401, 403, 408, 409, 423, 425,
  429). Other 4xx answers are stored, as Stripe does.
- A malformed key (empty, over 255 characters, anything but visible ASCII) is 400
  ``INVALID_IDEMPOTENCY_KEY`` and nothing runs.
"""

from __future__ import annotations

import hashlib
import logging
import os
import re
import struct
from collections.abc import Iterable
from ipaddress import IPv4Network, IPv6Network
from typing import TYPE_CHECKING, Any

from starlette.responses import JSONResponse
from starlette.types import ASGIApp, Message, Receive, Scope, Send

from tempest.api.error_locale import LocalizedErrorResponse
from tempest.api.middleware.body_limit import body_too_large_response
from tempest.api.middleware.idempotency_stores import (
    IdempotencyStore,
    IdempotencyStoreUnavailableError,
    MemoryIdempotencyStore,
    RedisIdempotencyStore,
)
from tempest.utils.client_ip import get_client_ip_from_scope, parse_trusted_proxies

if TYPE_CHECKING:
    from tempest.utils.jwt import JWTUtils

__all__ = [
    "NOT_STORED_STATUSES",
    "IdempotencyMiddleware",
    "IdempotencyStore",
    "IdempotencyStoreUnavailableError",
    "MemoryIdempotencyStore",
    "RedisIdempotencyStore",
]

logger = logging.getLogger("tempest.idempotency")

NOT_STORED_STATUSES = frozenset({401, 403, 408, 409, 423, 425, 429})
"""Client-error answers that are not stored: a retry of the same request may succeed."""

REPLAY_HEADER = (b"idempotent-replayed", b"true")

DATABASE_URL = "database://"
"""``IDEMPOTENCY_URL`` value keeping the keys in the project's database."""

# 1 to 255 visible ASCII characters (no space, no control character).
_VALID_KEY = re.compile(rb"[\x21-\x7e]{1,255}")
_FINGERPRINT_SIZE = 32  # a SHA-256 digest
_LEASE = b"L"
_RECORD = b"R"
# What DatabaseIdempotencyStore returns (tempest.db.idempotency.ANSWER_LOST_MARK, not
# imported: this module must not load SQLAlchemy) for a key whose request committed its
# writes and ended without a stored answer.
_ANSWER_LOST = b"C"


def _envelope(
    status: int, detail: str, code: str, headers: dict[str, str] | None = None
) -> JSONResponse:
    # Built once, sent to every request in its own language (the catalog key is the code).
    return LocalizedErrorResponse(
        {"detail": detail, "code": code, "details": {}},
        message_key=code,
        status_code=status,
        headers=headers,
    )


_INVALID_KEY = _envelope(
    400,
    "The Idempotency-Key header must be 1 to 255 visible ASCII characters (no spaces), "
    "sent once; a UUID is a good key.",
    "INVALID_IDEMPOTENCY_KEY",
)
_IN_USE = _envelope(
    409,
    "A request with this Idempotency-Key is still running; retry after it finishes.",
    "IDEMPOTENCY_KEY_IN_USE",
    {"Retry-After": "1"},
)
_REUSED = _envelope(
    422,
    "This Idempotency-Key was used with a different request (method, path, query or "
    "body); use a new key for a new request.",
    "IDEMPOTENCY_KEY_REUSED",
)
_ANSWER_LOST_RESPONSE = _envelope(
    409,
    "The request with this Idempotency-Key was applied, but its answer was not recorded "
    "(the server failed after saving its changes); do not repeat it: look the result up.",
    "IDEMPOTENCY_KEY_ANSWER_LOST",
)
_UNAVAILABLE = _envelope(
    503,
    "Idempotency keys cannot be checked right now (the store is unreachable); retry "
    "with the same key later.",
    "IDEMPOTENCY_UNAVAILABLE",
    {"Retry-After": "1"},
)


def encode_record(fingerprint: bytes, status: int, headers: Iterable[Any], body: bytes) -> bytes:
    """Serialize a finished answer (the stored value of a completed key).

    Args:
        fingerprint: The request's SHA-256 fingerprint.
        status: The answer's status code.
        headers: The answer's raw ``(name, value)`` byte pairs, in order.
        body: The whole body.

    Returns:
        The bytes to store.
    """
    pairs = [(bytes(name), bytes(value)) for name, value in headers]
    parts = [_RECORD, fingerprint, struct.pack(">HI", status, len(pairs))]
    for name, value in pairs:
        parts.append(struct.pack(">II", len(name), len(value)))
        parts.append(name)
        parts.append(value)
    parts.append(body)
    return b"".join(parts)


def decode_record(record: bytes) -> tuple[int, list[tuple[bytes, bytes]], bytes]:
    """Read back :func:`encode_record`'s bytes: status, headers and body."""
    offset = 1 + _FINGERPRINT_SIZE
    status, count = struct.unpack_from(">HI", record, offset)
    offset += 6
    headers: list[tuple[bytes, bytes]] = []
    for _ in range(count):
        name_size, value_size = struct.unpack_from(">II", record, offset)
        offset += 8
        name = record[offset : offset + name_size]
        offset += name_size
        headers.append((name, record[offset : offset + value_size]))
        offset += value_size
    return status, headers, record[offset:]


class IdempotencyMiddleware:
    """Run each unsafe request with an ``Idempotency-Key`` once; replay its answer.

    See the module docstring for the semantics. The request body is read (up to
    ``max_body_size`` bytes, else 413) to fingerprint it, and fed again to the app.

    Put it after the authentication and rate-limit middleware you have (inside them) and
    before anything that changes the response the client should get replayed.
    """

    def __init__(
        self,
        app: ASGIApp,
        *,
        store: IdempotencyStore | None = None,
        ttl_seconds: float = 86_400,
        lease_seconds: float = 60,
        methods: Iterable[str] = ("POST", "PATCH"),
        header_name: str = "Idempotency-Key",
        jwt: JWTUtils | None = None,
        trusted_proxies: Iterable[str | IPv4Network | IPv6Network] = (),
        max_body_size: int | None = 2_621_440,
        fail_open: bool = False,
    ) -> None:
        """Wrap ``app``.

        Args:
            app: The ASGI application to wrap.
            store: Where keys live; default: a new :class:`MemoryIdempotencyStore` (one
                process only; pass :class:`RedisIdempotencyStore` for several).
            ttl_seconds: How long a finished answer is replayed.
            lease_seconds: How long a running request holds its key; longer than the
                slowest request, as a request still running after it loses the key.
            methods: The methods keys apply to (others pass through untouched).
            header_name: The request header holding the key.
            jwt: Decodes a bearer token to scope keys by its ``sub``; None: by client IP.
            trusted_proxies: Proxies whose forwarding headers give the client IP.
            max_body_size: Largest request body read for the fingerprint (413 past it).
            fail_open: When the store is unreachable, run the request without
                idempotency (and log) instead of answering 503.
        """
        if ttl_seconds <= 0 or lease_seconds <= 0:
            raise ValueError("ttl_seconds and lease_seconds must be positive")
        self.app = app
        self.store: IdempotencyStore = store if store is not None else MemoryIdempotencyStore()
        self.ttl_seconds = ttl_seconds
        self.lease_seconds = lease_seconds
        self.methods = frozenset(method.upper() for method in methods)
        self.header_name = header_name
        self._header_key = header_name.lower().encode("latin-1")
        self.jwt = jwt
        self.trusted_proxies = parse_trusted_proxies(tuple(trusted_proxies))
        self.max_body_size = max_body_size if max_body_size is not None else 2**63
        self.fail_open = fail_open

    @classmethod
    def from_settings(cls, app: ASGIApp, settings: Any) -> IdempotencyMiddleware:
        """Build from the ``IDEMPOTENCY_*`` settings (for the ``MIDDLEWARE`` setting).

        The store is the project's database when ``IDEMPOTENCY_URL`` is ``database://``,
        Redis when it or else ``REDIS_URL`` is a Redis URL, memory otherwise; keys are
        scoped by the JWT ``sub`` when ``JWT_SECRET`` is set.
        """
        from tempest.conf.shared_state import MEMORY_URL, shared_state_url

        url = shared_state_url(settings, getattr(settings, "IDEMPOTENCY_URL", None))
        store: IdempotencyStore
        if url == MEMORY_URL:
            store = MemoryIdempotencyStore()
        elif url == DATABASE_URL:
            from tempest.db.idempotency import DatabaseIdempotencyStore
            from tempest.db.session import get_database

            store = DatabaseIdempotencyStore(
                get_database(), ttl_seconds=settings.IDEMPOTENCY_TTL_SECONDS
            )
        else:
            store = RedisIdempotencyStore.from_url(url)
        jwt: JWTUtils | None = None
        secret = getattr(settings, "JWT_SECRET", "")
        if secret:
            from tempest.utils.jwt import JWTUtils

            jwt = JWTUtils(
                secret,
                getattr(settings, "JWT_ALGORITHM", "HS256"),
                issuer=getattr(settings, "JWT_ISSUER", None),
            )
        middleware = cls(
            app,
            store=store,
            ttl_seconds=settings.IDEMPOTENCY_TTL_SECONDS,
            lease_seconds=settings.IDEMPOTENCY_LEASE_SECONDS,
            methods=settings.IDEMPOTENCY_METHODS,
            jwt=jwt,
            trusted_proxies=getattr(settings, "TRUSTED_PROXIES", ()),
            max_body_size=getattr(settings, "MAX_REQUEST_BODY_SIZE", 2_621_440),
            fail_open=settings.IDEMPOTENCY_FAIL_OPEN,
        )
        middleware._owns_store = True
        return middleware

    _owns_store = False

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        """Serve one connection scope; see the class docstring."""
        if scope["type"] == "lifespan":
            await self.app(scope, receive, self._closing_send(send))
            return
        if scope["type"] != "http" or scope["method"] not in self.methods:
            await self.app(scope, receive, send)
            return
        raw_key: bytes | None = None
        repeated = False
        length: int | None = None
        authorization = b""
        for name, value in scope["headers"]:
            if name == self._header_key:
                repeated = raw_key is not None
                raw_key = value
            elif name == b"content-length":
                length = int(value) if value.isdigit() else None
            elif name == b"authorization":
                authorization = value
        if raw_key is None:
            await self.app(scope, receive, send)
            return
        if repeated or not _VALID_KEY.fullmatch(raw_key):
            await _INVALID_KEY(scope, receive, send)
            return
        if length is not None and length > self.max_body_size:
            await body_too_large_response(self.max_body_size)(scope, receive, send)
            return
        try:
            body = await self._read_body(receive)
        except _BodyTooLargeError:
            await body_too_large_response(self.max_body_size)(scope, receive, send)
            return
        if body is None:
            return  # the client went away
        await self._run(scope, receive, send, raw_key, authorization, body)

    async def _read_body(self, receive: Receive) -> bytes | None:
        chunks: list[bytes] = []
        size = 0
        while True:
            message = await receive()
            if message["type"] == "http.disconnect":
                return None
            chunk: bytes = message.get("body", b"")
            size += len(chunk)
            if size > self.max_body_size:
                raise _BodyTooLargeError
            chunks.append(chunk)
            if not message.get("more_body", False):
                return b"".join(chunks)

    def _principal(self, scope: Scope, authorization: bytes) -> str:
        if self.jwt is not None and authorization[:7].lower() == b"bearer ":
            token = authorization[7:].strip().decode("latin-1")
            claims = self.jwt.decode_or_none(token) if token else None
            if claims is not None and claims.get("sub") is not None:
                return f"user:{claims['sub']}"
        ip = get_client_ip_from_scope(scope, trusted_proxies=self.trusted_proxies)
        return f"ip:{ip or 'unknown'}"

    async def _run(
        self,
        scope: Scope,
        receive: Receive,
        send: Send,
        raw_key: bytes,
        authorization: bytes,
        body: bytes,
    ) -> None:
        method: str = scope["method"]
        path = scope.get("raw_path") or scope["path"].encode("utf-8")
        principal = self._principal(scope, authorization).encode("utf-8")
        key = hashlib.sha256(b"\0".join((principal, method.encode(), path, raw_key))).hexdigest()
        fingerprint = hashlib.sha256(
            b"\0".join((method.encode(), path, scope.get("query_string", b""), body))
        ).digest()
        lease = _LEASE + fingerprint + os.urandom(16)
        try:
            held = await self.store.claim(key, lease, self.lease_seconds)
        except IdempotencyStoreUnavailableError as error:
            # The store's client logs the outage once, and once when it is over.
            if not self.fail_open:
                logger.debug("Idempotency store unavailable, answering 503: %s", error)
                await _UNAVAILABLE(scope, receive, send)
                return
            logger.debug("Idempotency store unavailable, running without it: %s", error)
            await self.app(scope, _replaying(body, receive), send)
            return
        if held is not None:
            if held[1 : 1 + _FINGERPRINT_SIZE] != fingerprint:
                await _REUSED(scope, receive, send)
            elif held[:1] == _LEASE:
                await _IN_USE(scope, receive, send)
            elif held[:1] == _ANSWER_LOST:
                await _ANSWER_LOST_RESPONSE(scope, receive, send)
            else:
                await _replay(held, send)
            return
        await self._first_run(scope, receive, send, key, lease, fingerprint, body)

    async def _first_run(
        self,
        scope: Scope,
        receive: Receive,
        send: Send,
        key: str,
        lease: bytes,
        fingerprint: bytes,
        body: bytes,
    ) -> None:
        status = 0
        headers: list[Any] = []
        chunks: list[bytes] = []
        stored = False

        async def capture(message: Message) -> None:
            nonlocal status, headers, stored
            if message["type"] == "http.response.start":
                status = message["status"]
                headers = list(message.get("headers", ()))
            elif message["type"] == "http.response.body":
                chunks.append(message.get("body", b""))
                if not message.get("more_body", False) and _storable(status):
                    # Stored before the last chunk leaves: a client that has the answer
                    # and retries gets it replayed, never a 409.
                    record = encode_record(fingerprint, status, headers, b"".join(chunks))
                    try:
                        stored = await self.store.complete(key, lease, record, self.ttl_seconds)
                    except IdempotencyStoreUnavailableError as error:
                        logger.error("Could not store an idempotent answer: %s", error)
                    if not stored:
                        logger.warning(
                            "The idempotency lease expired before the answer was stored "
                            "(IDEMPOTENCY_LEASE_SECONDS=%s is shorter than the request)",
                            self.lease_seconds,
                        )
            await send(message)

        try:
            await self.app(scope, _replaying(body, receive), capture)
        finally:
            if not stored:
                try:
                    await self.store.release(key, lease)
                except IdempotencyStoreUnavailableError as error:
                    logger.error("Could not free an idempotency key: %s", error)

    def _closing_send(self, send: Send) -> Send:
        async def closing_send(message: Message) -> None:
            if message["type"] == "lifespan.shutdown.complete" and self._owns_store:
                await self.store.aclose()
            await send(message)

        return closing_send


class _BodyTooLargeError(Exception):
    pass


def _storable(status: int) -> bool:
    return status < 500 and status not in NOT_STORED_STATUSES


def _replaying(body: bytes, receive: Receive) -> Receive:
    """A ``receive`` giving ``body`` in one message, then the client's messages."""
    given = False

    async def replaying() -> Message:
        nonlocal given
        if not given:
            given = True
            return {"type": "http.request", "body": body, "more_body": False}
        return await receive()

    return replaying


async def _replay(record: bytes, send: Send) -> None:
    status, headers, body = decode_record(record)
    await send(
        {"type": "http.response.start", "status": status, "headers": [*headers, REPLAY_HEADER]}
    )
    await send({"type": "http.response.body", "body": body, "more_body": False})
