"""Key functions of :class:`RateLimitMiddleware`: which bucket a request counts in."""

from __future__ import annotations

import hashlib
import ipaddress
from collections.abc import Awaitable, Callable, Iterable
from typing import TYPE_CHECKING

from starlette.types import Scope

from tempest.utils.client_ip import (
    IPNetwork,
    get_client_ip_from_scope,
    parse_trusted_proxies,
)

if TYPE_CHECKING:
    from tempest.utils.jwt import JWTUtils

__all__ = ["KeyFunc", "key_by_header", "key_by_ip", "key_by_jwt_claim", "key_by_jwt_subject"]

KeyFunc = Callable[[Scope], "str | Awaitable[str | None] | None"]
"""Gives the bucket of a request from its ASGI scope; None: the request is not limited."""

_MAX_KEY_LENGTH = 96
"""Longer keys (a header's value, a claim) are stored as their SHA-256: bounded memory."""


def key_by_ip(
    trusted_header: str | None = None,
    *,
    trusted_proxies: Iterable[str] | None = None,
) -> Callable[[Scope], str | None]:
    """Key requests by client IP: ``ip:<address>``.

    The address is :func:`tempest.utils.client_ip.get_client_ip_from_scope`'s: the
    ``Forwarded`` / ``X-Forwarded-For`` headers are believed only when the socket peer
    is one of ``trusted_proxies`` (``TRUSTED_PROXIES`` when the middleware is built
    from settings), so a client cannot pick its own bucket by forging a header.

    Args:
        trusted_header: Accepted for compatibility with the spec's signature and
            ignored: which header names the client is not a choice of the key function
            but of the proxies that are trusted (``Forwarded`` first, then
            ``X-Forwarded-For``, from ``trusted_proxies`` only).
        trusted_proxies: Networks of the reverse proxies in front of the app; none: the
            socket peer is the client.

    Returns:
        The key function. A request without a usable peer address is not limited.
    """
    del trusted_header
    networks = parse_trusted_proxies(trusted_proxies)
    # The key of a peer that is not a trusted proxy depends on the peer alone: remembered
    # per peer string (parsing an address is most of this function's cost). A trusted
    # proxy's requests are keyed from their headers each time.
    by_peer: dict[str, str] = {}

    def key(scope: Scope) -> str | None:
        client = scope.get("client")
        peer = client[0] if client else None
        if type(peer) is str:
            found = by_peer.get(peer)
            if found is not None:
                return found
        address = get_client_ip_from_scope(scope, trusted_proxies=networks)
        if address is None:
            return None
        result = f"ip:{address}"
        if type(peer) is str and _untrusted(peer, networks):
            if len(by_peer) >= _MAX_PEERS:
                by_peer.clear()
            by_peer[peer] = result
        return result

    return key


_MAX_PEERS = 10_000
"""Peers remembered by one :func:`key_by_ip`; the memory is dropped when it is full."""


def _untrusted(peer: str, networks: tuple[IPNetwork, ...]) -> bool:
    """Whether ``peer`` is surely not a trusted proxy (in doubt: False, nothing is cached)."""
    if not networks:
        return True
    try:
        address = ipaddress.ip_address(peer.split("%", 1)[0])
    except ValueError:
        return False
    if isinstance(address, ipaddress.IPv6Address) and address.ipv4_mapped is not None:
        address = address.ipv4_mapped
    return not any(address.version == net.version and address in net for net in networks)


def _header(scope: Scope, name: bytes) -> bytes | None:
    for header, value in scope["headers"]:
        if header == name:
            return bytes(value)
    return None


def _bearer(scope: Scope) -> str | None:
    value = _header(scope, b"authorization")
    if value is None or len(value) > 8192:
        return None
    scheme, _, token = value.decode("latin-1").partition(" ")
    return token.strip() or None if scheme.lower() == "bearer" else None


def key_by_jwt_claim(
    jwt: JWTUtils,
    claim: str,
    scope: str | None = None,
    *,
    trusted_proxies: Iterable[str] | None = None,
) -> Callable[[Scope], str | None]:
    """Key requests by a claim of their bearer access token: ``<scope>:<value>``.

    The middleware runs before FastAPI's dependencies, so the token is decoded here
    (``JWTUtils.decode_or_none``: signature and expiry checked). A request without a
    valid token, or whose token lacks the claim, is keyed by IP instead.

    Args:
        jwt: The project's JWT utilities.
        claim: The claim to key on, e.g. ``"tenant_id"``.
        scope: The key's prefix; default the claim's name.
        trusted_proxies: For the IP fallback (see :func:`key_by_ip`).
    """
    prefix = f"{scope or claim}:"
    by_ip = key_by_ip(trusted_proxies=trusted_proxies)

    def key(asgi_scope: Scope) -> str | None:
        token = _bearer(asgi_scope)
        claims = jwt.decode_or_none(token) if token else None
        value = claims.get(claim) if claims else None
        if value is None or value == "":
            return by_ip(asgi_scope)
        return f"{prefix}{value}"

    return key


def key_by_jwt_subject(
    jwt: JWTUtils, *, trusted_proxies: Iterable[str] | None = None
) -> Callable[[Scope], str | None]:
    """Key requests by the user of their bearer token: ``user:<sub>``; anonymous: by IP.

    Args:
        jwt: The project's JWT utilities.
        trusted_proxies: For the IP fallback (see :func:`key_by_ip`).
    """
    return key_by_jwt_claim(jwt, "sub", scope="user", trusted_proxies=trusted_proxies)


def key_by_header(
    name: str, scope: str | None = None, *, trusted_proxies: Iterable[str] | None = None
) -> Callable[[Scope], str | None]:
    """Key requests by a header's value: ``<scope>:<value>``; without the header: by IP.

    Long values are stored as their hash, so a client cannot grow the store's keys.

    Args:
        name: The header, e.g. ``"x-api-key"`` (any case).
        scope: The key's prefix; default the header's name.
        trusted_proxies: For the IP fallback (see :func:`key_by_ip`).
    """
    header = name.strip().lower().encode("latin-1")
    if not header:
        raise ValueError("key_by_header needs a header name, e.g. 'x-api-key'")
    prefix = f"{scope or header.decode('latin-1')}:"
    by_ip = key_by_ip(trusted_proxies=trusted_proxies)

    def key(asgi_scope: Scope) -> str | None:
        value = _header(asgi_scope, header)
        if not value:
            return by_ip(asgi_scope)
        return prefix + value.decode("latin-1")

    return key


def _bounded(key: str) -> str:
    if len(key) <= _MAX_KEY_LENGTH:
        return key
    head = key.split(":", 1)[0][:32]
    return f"{head}:sha256:{hashlib.sha256(key.encode('utf-8', 'surrogatepass')).hexdigest()}"
