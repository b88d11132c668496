"""The real client IP of a request behind reverse proxies, never trusting a forged header.

:func:`get_client_ip` (a Starlette/FastAPI request) and :func:`get_client_ip_from_scope`
(an ASGI scope, for middleware and websockets) read, in order:

1. ``Forwarded`` (RFC 7239): its ``for=`` values, oldest hop first;
2. else ``X-Forwarded-For``: its comma-separated addresses, oldest hop first;
3. else the socket peer (``scope["client"]``).

``trusted_header=`` names the one header the proxies write instead (``"x-forwarded-for"``,
``"forwarded"``, ``"x-real-ip"``, ``"cf-connecting-ip"``...): the others are then never
read, so a client cannot slip a ``Forwarded`` past a proxy that only writes
``X-Forwarded-For``.

A header is believed only when the socket peer is one of ``trusted_proxies``; then the
hops are walked from the right (the nearest proxy) and every trusted proxy is skipped:
the first address that is not a trusted proxy is the client. A client cannot forge its
way in, since whatever it writes at the left of the header is never reached while a
trusted proxy appended the real address after it. An entry that is not an IP address
(``unknown``, an obfuscated ``_name``, garbage) ends the walk at the last trusted hop.

Addresses come back normalized: IPv6 without brackets, port or zone, compressed;
IPv4-mapped IPv6 (``::ffff:192.0.2.1``) as IPv4. Nothing here raises on bad input: a
garbage header is ignored, and a request with no usable peer gives None.
"""

from __future__ import annotations

import ipaddress
from collections.abc import Iterable, Mapping
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    from starlette.requests import HTTPConnection

__all__ = ["get_client_ip", "get_client_ip_from_scope", "parse_trusted_proxies"]

IPAddress = ipaddress.IPv4Address | ipaddress.IPv6Address
IPNetwork = ipaddress.IPv4Network | ipaddress.IPv6Network

_MAX_HOPS = 32
"""Hops read from the right of a header; the rest (a client's padding) is ignored."""


def parse_trusted_proxies(
    trusted_proxies: Iterable[str | IPNetwork] | None,
) -> tuple[IPNetwork, ...]:
    """Parse proxy networks once, e.g. at start-up; the result is accepted as is later.

    Args:
        trusted_proxies: CIDRs (``"10.0.0.0/8"``), single addresses or networks.

    Returns:
        The networks.

    Raises:
        ValueError: An entry is not an address or a network (the message names it).
    """
    if not trusted_proxies:
        return ()
    if isinstance(trusted_proxies, str):
        trusted_proxies = [trusted_proxies]
    networks: list[IPNetwork] = []
    for entry in trusted_proxies:
        if isinstance(entry, ipaddress.IPv4Network | ipaddress.IPv6Network):
            networks.append(entry)
            continue
        try:
            networks.append(ipaddress.ip_network(str(entry).strip(), strict=False))
        except ValueError:
            raise ValueError(
                f"trusted proxy {entry!r} is not a network: use CIDRs like '10.0.0.0/8'"
            ) from None
    return tuple(networks)


def get_client_ip(
    request: HTTPConnection,
    *,
    trusted_proxies: Iterable[str | IPNetwork] | None = None,
    accept_private: bool = True,
    trusted_header: str | None = None,
) -> str | None:
    """The client's IP address of ``request`` (a ``Request`` or a ``WebSocket``).

    Args:
        request: The connection.
        trusted_proxies: Networks of the reverse proxies whose headers are believed;
            none (the default): headers are ignored and the socket peer is the client.
        accept_private: When False, a private, loopback, link-local or otherwise
            non-global address gives None.
        trusted_header: The only header to read (any case; ``forwarded`` is parsed as
            RFC 7239, any other as a comma-separated list of addresses); None: ``Forwarded``,
            else ``X-Forwarded-For``. Believed only from ``trusted_proxies`` too.

    Returns:
        The normalized address, or None when there is none (or it is refused).

    Example:
        >>> get_client_ip(request, trusted_proxies={"10.0.0.0/8"})  # doctest: +SKIP
        '203.0.113.7'
    """
    return get_client_ip_from_scope(
        request.scope,
        trusted_proxies=trusted_proxies,
        accept_private=accept_private,
        trusted_header=trusted_header,
    )


def get_client_ip_from_scope(
    scope: Mapping[str, Any],
    *,
    trusted_proxies: Iterable[str | IPNetwork] | None = None,
    accept_private: bool = True,
    trusted_header: str | None = None,
) -> str | None:
    """The client's IP address from an ASGI ``scope`` (see :func:`get_client_ip`).

    Args:
        scope: An HTTP or websocket scope.
        trusted_proxies: Networks of the reverse proxies whose headers are believed.
        accept_private: When False, a non-global address gives None.
        trusted_header: The only header to read (see :func:`get_client_ip`).

    Returns:
        The normalized address, or None.
    """
    networks = _networks(trusted_proxies)
    client = scope.get("client")
    peer = _parse(client[0]) if isinstance(client, list | tuple) and client else None
    if peer is None:
        return None
    found = peer
    if networks and _trusted(peer, networks):
        hops = _forwarded_hops(scope.get("headers") or (), trusted_header)
        for hop in reversed(hops):
            address = _parse(hop)
            if address is None:
                break
            found = address
            if not _trusted(address, networks):
                break
    if not accept_private and not found.is_global:
        return None
    return str(found)


def _networks(trusted_proxies: Iterable[str | IPNetwork] | None) -> tuple[IPNetwork, ...]:
    if isinstance(trusted_proxies, tuple) and all(
        isinstance(entry, ipaddress.IPv4Network | ipaddress.IPv6Network)
        for entry in trusted_proxies
    ):
        return trusted_proxies
    return parse_trusted_proxies(trusted_proxies)


def _trusted(address: IPAddress, networks: tuple[IPNetwork, ...]) -> bool:
    return any(address.version == network.version and address in network for network in networks)


def _forwarded_hops(headers: Iterable[Any], only: str | None = None) -> list[str]:
    """The hops of ``Forwarded`` if it names any, else of ``X-Forwarded-For``; oldest first.

    With ``only``, the hops of that header alone.
    """
    wanted = only.strip().lower().encode("latin-1") if only else None
    forwarded: list[str] = []
    x_forwarded_for: list[str] = []
    for item in headers:
        try:
            name, value = item
            name = bytes(name).lower()
            if wanted is not None and name != wanted:
                continue
            if name == b"forwarded":
                forwarded.append(bytes(value).decode("latin-1"))
            else:
                if wanted is None and name != b"x-forwarded-for":
                    continue
                x_forwarded_for.append(bytes(value).decode("latin-1"))
        except (TypeError, ValueError):
            continue
    if forwarded:
        hops = _forwarded_for(",".join(forwarded))
        if hops:
            return hops
    if not x_forwarded_for:
        return []
    return [hop.strip() for hop in ",".join(x_forwarded_for).rsplit(",", _MAX_HOPS)[-_MAX_HOPS:]]


def _forwarded_for(value: str) -> list[str]:
    """The ``for=`` value of each element of an RFC 7239 header (rightmost hops only)."""
    hops: list[str] = []
    for element in value.rsplit(",", _MAX_HOPS)[-_MAX_HOPS:]:
        for pair in element.split(";"):
            name, _, token = pair.partition("=")
            if name.strip().lower() == "for":
                hops.append(token.strip().strip('"'))
                break
    return hops


def _parse(value: object) -> IPAddress | None:
    """A host as an address: brackets, port and zone removed; None when it is not one."""
    if not isinstance(value, str) or not value or len(value) > 100:
        return None
    host = value.strip()
    if host.startswith("["):  # "[2001:db8::1]" or "[2001:db8::1]:4711"
        end = host.find("]")
        if end < 0:
            return None
        host = host[1:end]
    elif host.count(":") == 1:  # "192.0.2.1:4711"
        host = host.split(":", 1)[0]
    host = host.split("%", 1)[0]  # an IPv6 zone
    try:
        address = ipaddress.ip_address(host)
    except ValueError:
        return None
    if isinstance(address, ipaddress.IPv6Address) and address.ipv4_mapped is not None:
        return address.ipv4_mapped
    return address
