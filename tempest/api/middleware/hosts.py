"""Refuse requests for hosts the project does not serve (the ``ALLOWED_HOSTS`` setting).

Built on Starlette's :class:`~starlette.middleware.trustedhost.TrustedHostMiddleware`
(its pattern checks and its Host parser), with Django's rules and tempest's answer:

- ``".example.com"`` allows ``example.com`` and every subdomain; ``"*.example.com"``
  (Starlette's form) only the subdomains; ``"*"`` any host.
- An empty ``ALLOWED_HOSTS`` allows ``.localhost``, ``127.0.0.1`` and ``[::1]`` in DEBUG and
  no host at all otherwise.
- The refusal is the ``{detail, code, details}`` envelope with code ``DISALLOWED_HOST``.
- ``GET``/``HEAD`` of the health probes (``/health/liveness``, ``/health/readiness``)
  answer any host: load balancers and Kubernetes probe the server by its IP address.
- Under pytest, the test clients' hosts (``testserver``) are added, as Django's test
  runner does: :func:`allow_test_hosts`.

:func:`tempest.core.asgi.get_asgi_application` always puts it outermost, from the
settings; it is not a ``MIDDLEWARE`` entry, so that a project cannot drop it by editing
that list, and a refused request costs nothing further.
"""

from __future__ import annotations

import json
import logging
import re
from collections.abc import Collection, Iterable, Sequence
from typing import Any

from starlette.middleware.trustedhost import TrustedHostMiddleware
from starlette.types import ASGIApp, Receive, Scope, Send

from tempest.api.error_locale import localized_body
from tempest.api.internals import host_header_parser

__all__ = [
    "DEBUG_HOSTS",
    "HEALTH_PROBE_PATHS",
    "AllowedHostsMiddleware",
    "allow_test_hosts",
    "allowed_hosts",
]

parse_host_header = host_header_parser()  # Starlette's, a private function

DEBUG_HOSTS: tuple[str, ...] = (".localhost", "127.0.0.1", "[::1]")
"""The hosts an empty ``ALLOWED_HOSTS`` allows in DEBUG (Django's)."""

HEALTH_PROBE_PATHS: frozenset[str] = frozenset({"/health/liveness", "/health/readiness"})
"""Paths that ``GET`` and ``HEAD`` reach whatever the Host: the health router's probes."""

_test_hosts: tuple[str, ...] = ()
# Django's host syntax (RFC 1034/1035 names and bracketed IPv6), stricter than Starlette's
# parser, which also lets through characters such as ! $ ' ( ) * + , ; = % ~.
_VALID_HOST = re.compile(r"[a-z0-9.-]+|\[[a-f0-9]*:[a-f0-9.:]+\]")
_MAX_HOST_HEADER = 300  # a DNS name has at most 253 characters, plus ":port"
_MAX_CACHED = 256
_CODE = "DISALLOWED_HOST"
_DETAIL = "Invalid Host header"

logger = logging.getLogger("tempest.security.allowed_hosts")


def allow_test_hosts(*hosts: str) -> None:
    """Also allow ``hosts`` in the apps built from now on, whatever ALLOWED_HOSTS says.

    For test runs only, as Django's test runner adds ``testserver``: tempest's pytest
    plugin calls ``allow_test_hosts("testserver")`` so that the ``client`` fixture (whose
    requests say ``Host: testserver``) reaches the app with production settings.

    Args:
        hosts: Host patterns, as in ALLOWED_HOSTS; none resets the list.
    """
    global _test_hosts
    _test_hosts = tuple(host.lower() for host in hosts)


def allowed_hosts(settings: Any) -> list[str]:
    """The host patterns the app serves: ALLOWED_HOSTS, the DEBUG default, the test hosts.

    Args:
        settings: The project settings (``ALLOWED_HOSTS`` and ``DEBUG``).

    Returns:
        The patterns, in Django's syntax; empty means no host is served.
    """
    configured = list(getattr(settings, "ALLOWED_HOSTS", None) or [])
    if not configured and getattr(settings, "DEBUG", False):
        configured = list(DEBUG_HOSTS)
    return configured + [host for host in _test_hosts if host not in configured]


def _starlette_patterns(hosts: Iterable[str]) -> list[str]:
    """Django's patterns in Starlette's syntax: ``.example.com`` becomes two patterns."""
    patterns: list[str] = []
    for host in hosts:
        host = host.lower()
        if host.startswith("."):
            patterns += [host[1:], "*" + host]
        else:
            patterns.append(host.removesuffix("."))
    return patterns


class AllowedHostsMiddleware(TrustedHostMiddleware):
    """Answer 400 ``DISALLOWED_HOST`` to requests whose Host is not allowed.

    Pure ASGI. An accepted Host header value is remembered (up to 256 of them), so a
    request for a known host costs one header scan and a set lookup.
    """

    def __init__(
        self,
        app: ASGIApp,
        allowed_hosts: Sequence[str],
        *,
        debug: bool = False,
        exempt_paths: Collection[str] = HEALTH_PROBE_PATHS,
    ) -> None:
        """Wrap ``app``.

        Args:
            app: The ASGI application to wrap.
            allowed_hosts: Host patterns in Django's syntax (see the module docstring);
                empty refuses every host.
            debug: Say in the refusal which host was refused and which setting to change.
            exempt_paths: Paths that ``GET`` and ``HEAD`` reach whatever the Host.

        Raises:
            AssertionError: A pattern has a ``*`` elsewhere than in front (Starlette's check).
        """
        super().__init__(app, allowed_hosts=_starlette_patterns(allowed_hosts), www_redirect=False)
        self.debug = debug
        self.exempt_paths = frozenset(exempt_paths)
        self._exact = frozenset(p for p in self.allowed_hosts if not p.startswith("*"))
        self._suffixes = tuple(p[1:] for p in self.allowed_hosts if p.startswith("*."))
        self._accepted: set[bytes | None] = set()
        self._refusal = _body(_DETAIL, {})

    @classmethod
    def from_settings(cls, app: ASGIApp, settings: Any) -> ASGIApp:
        """Wrap ``app`` as ``ALLOWED_HOSTS`` and ``DEBUG`` say; ``["*"]`` leaves it bare.

        Args:
            app: The ASGI application to wrap.
            settings: The project settings.

        Returns:
            The wrapped application, or ``app`` itself when every host is allowed.
        """
        hosts = allowed_hosts(settings)
        if "*" in hosts:
            return app
        return cls(app, hosts, debug=bool(getattr(settings, "DEBUG", False)))

    def is_allowed(self, host_header: bytes | None) -> bool:
        """Whether a raw Host header value names an allowed host.

        Args:
            host_header: The header's bytes; None when the request has none.

        Returns:
            True for an allowed host, with any port and an optional trailing dot.
        """
        if not host_header or len(host_header) > _MAX_HOST_HEADER:
            return False
        parsed = parse_host_header(host_header.decode("latin-1"))
        if parsed is None or (parsed.port is not None and int(parsed.port) > 65535):
            return False  # urllib (request.url.port) raises on a port out of range
        host = parsed.host.lower()
        if host.endswith("."):
            host = host[:-1]
        if not _VALID_HOST.fullmatch(host):
            return False
        return host in self._exact or host.endswith(self._suffixes)

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        """Pass an allowed request on; refuse the others (see the class docstring)."""
        scope_type = scope["type"]
        if (scope_type != "http" and scope_type != "websocket") or self.allow_any:
            await self.app(scope, receive, send)
            return
        host: bytes | None = None
        for name, value in scope["headers"]:
            if name == b"host":
                if host is not None:  # two Host headers: a proxy may have routed by either
                    host = None
                    break
                host = value
        if host in self._accepted:
            await self.app(scope, receive, send)
            return
        if self.is_allowed(host):
            if len(self._accepted) < _MAX_CACHED:
                self._accepted.add(host)
            await self.app(scope, receive, send)
            return
        if self._exempt(scope):
            await self.app(scope, receive, send)
            return
        await self._refuse(scope, send, host)

    def _exempt(self, scope: Scope) -> bool:
        if scope["type"] != "http" or scope["method"] not in ("GET", "HEAD"):
            return False
        path: str = scope["path"]
        root_path: str = scope.get("root_path", "")
        if root_path and path.startswith(root_path):
            path = path[len(root_path) :]
        return path in self.exempt_paths

    async def _refuse(self, scope: Scope, send: Send, host: bytes | None) -> None:
        shown = "" if host is None else host[:100].decode("latin-1")
        logger.warning("Refused a request for the host %r: not in ALLOWED_HOSTS", shown)
        if self.debug:
            envelope = _envelope(
                f"Invalid Host header {shown!r}: add it to ALLOWED_HOSTS",
                {"host": shown, "allowed_hosts": sorted(self.allowed_hosts)},
            )
            body = localized_body(scope, envelope, f"{_CODE}:debug", {"host": repr(shown)})
        else:
            body = localized_body(scope, _envelope(_DETAIL, {}), _CODE, english=self._refusal)
        prefix = ""
        if scope["type"] == "websocket":
            if "websocket.http.response" not in scope.get("extensions", {}):
                await send({"type": "websocket.close", "code": 1008})  # the server says 403
                return
            prefix = "websocket."
        await send(
            {
                "type": prefix + "http.response.start",
                "status": 400,
                "headers": [
                    (b"content-type", b"application/json"),
                    (b"content-length", str(len(body)).encode()),
                ],
            }
        )
        await send({"type": prefix + "http.response.body", "body": body})


def _envelope(detail: str, details: dict[str, Any]) -> dict[str, Any]:
    return {"detail": detail, "code": _CODE, "details": details}


def _body(detail: str, details: dict[str, Any]) -> bytes:
    return json.dumps(_envelope(detail, details), separators=(",", ":")).encode()
