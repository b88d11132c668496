"""CSRF protection for cookie-authenticated APIs: a signed double-submit token.

The browser holds a CSRF cookie (readable by JavaScript) whose value is
``<nonce>.<signature>``, the signature an HMAC-SHA256 (keyed from ``SECRET_KEY``) of the
nonce and of the value of the session cookie. An unsafe request (not ``GET``, ``HEAD``,
``OPTIONS`` or ``TRACE``) must send the same value in the ``X-CSRF-Token`` header. It
passes when:

1. the header equals the cookie (compared in constant time): a page of another site can
   make the browser *send* the cookie but cannot *read* it, so it cannot copy it into a
   header (and a cross-site request with a custom header needs a CORS preflight);
2. the signature is valid for the request's session: a cookie planted by a sibling
   subdomain (``Set-Cookie: csrftoken=...; Domain=.example.com``) or copied from another
   session fails, so a token is worth nothing outside the session it was issued for;
3. when an ``Origin`` header is present, it names this host or a trusted origin; on
   HTTPS without ``Origin``, the ``Referer`` must (Django's rule).

Which requests are checked. With ``session_cookie`` set (the name of the cookie that
authenticates the user), only requests that carry it: a request without it rides on no
ambient credential, so a forger gains nothing, and API clients that authenticate with a
bearer token never need a CSRF token. (Browsers attach cookies, HTTP Basic credentials
and TLS client certificates by themselves, but never an ``Authorization: Bearer``
header.) Without ``session_cookie``, every unsafe request is checked. Paths in
``exempt_paths`` (and every path under them) are never checked: the admin, which has
its own per-session form token, and webhooks signed by their sender.

Rotation. The token is bound to the session cookie's value, so signing in (a new
session cookie) invalidates the old token by itself; the response that sets the
session cookie also sets a fresh CSRF cookie bound to the new value. A request carrying
no valid CSRF cookie for its session gets one on its response.

The token travels in a header only, never in a form field: reading a form body in a
middleware means buffering the body before the route runs. HTML forms of the project
either post with ``fetch`` and the header, or take the token per route with
:func:`make_csrf_token_dependency`.
"""

from __future__ import annotations

import base64
import hashlib
import hmac
import secrets
from collections.abc import Awaitable, Callable, Collection, Sequence
from typing import Any
from urllib.parse import urlsplit

from starlette.requests import Request, cookie_parser
from starlette.responses import JSONResponse, Response
from starlette.types import ASGIApp, Message, Receive, Scope, Send

from tempest.api.cookies import SameSite, _same_site, set_cookie
from tempest.api.error_locale import LocalizedErrorResponse
from tempest.exceptions.base import AppException

__all__ = [
    "SAFE_METHODS",
    "CSRFError",
    "CSRFMiddleware",
    "CSRFTokens",
    "make_csrf_token_dependency",
]

SAFE_METHODS: frozenset[str] = frozenset({"GET", "HEAD", "OPTIONS", "TRACE"})
"""Methods that must not change state, so never need a token (RFC 9110 section 9.2.1)."""

MIN_SECRET_BYTES = 32
_NONCE_CHARS = 24  # secrets.token_urlsafe(18)
_SIGNATURE_CHARS = 43  # base64url of 32 bytes, unpadded
_TOKEN_CHARS = _NONCE_CHARS + 1 + _SIGNATURE_CHARS
_MAX_HEADER = 200  # a token is 68 characters; anything much longer is not one
_CODE = "CSRF_FAILED"

_REASONS = {
    "missing_cookie": "The CSRF cookie is missing: fetch a page or the token route first.",
    "missing_token": "The CSRF token is missing: send the CSRF cookie's value in the {header} "
    "header.",
    "bad_cookie": "The CSRF cookie is not valid for this session: fetch a new token.",
    "token_mismatch": "The {header} header does not match the CSRF cookie.",
    "bad_origin": "The request's Origin or Referer is not this site nor a trusted origin "
    "(CSRF_TRUSTED_ORIGINS).",
}


class CSRFError(AppException):
    """A CSRF check failed: answered 403 ``CSRF_FAILED``, the reason in ``details``."""

    message = "CSRF verification failed"
    code = _CODE
    status_code = 403


def _reason_message(reason: str, header: str) -> str:
    return "CSRF verification failed. " + _REASONS[reason].format(header=header)


class CSRFTokens:
    """Issues and verifies tokens bound to a session value; shared by middleware and routes.

    Attributes:
        cookie_name: The CSRF cookie.
        header_name: The request header that carries the token.
        session_cookie: The cookie that authenticates users, or None.
    """

    def __init__(
        self,
        secret_key: str,
        *,
        cookie_name: str = "csrftoken",
        header_name: str = "X-CSRF-Token",
        session_cookie: str | None = None,
        cookie_secure: bool = True,
        cookie_samesite: SameSite | str = SameSite.LAX,
        cookie_path: str = "/",
        cookie_domain: str | None = None,
        cookie_max_age: int | None = 365 * 86400,
        trusted_origins: Sequence[str] = (),
    ) -> None:
        """Derive the signing key and check the configuration.

        Args:
            secret_key: The project's ``SECRET_KEY`` (at least 32 bytes).
            cookie_name: Name of the CSRF cookie.
            header_name: Request header carrying the token.
            session_cookie: Cookie that authenticates users: tokens are bound to its
                value, and only requests carrying it are checked. None: every unsafe
                request is checked and tokens are bound to no session.
            cookie_secure: ``Secure`` attribute of the CSRF cookie.
            cookie_samesite: ``SameSite`` attribute of the CSRF cookie.
            cookie_path: ``Path`` attribute of the CSRF cookie.
            cookie_domain: ``Domain`` attribute of the CSRF cookie.
            cookie_max_age: ``Max-Age`` of the CSRF cookie; None: a browser-session cookie.
            trusted_origins: Origins (``https://app.example.com``) allowed besides this
                host in ``Origin`` and ``Referer``.

        Raises:
            ValueError: The secret is shorter than 32 bytes, or a name or origin is invalid.
        """
        if len(secret_key.encode()) < MIN_SECRET_BYTES:
            raise ValueError(
                f"CSRF protection needs a SECRET_KEY of at least {MIN_SECRET_BYTES} bytes (got "
                f"{len(secret_key.encode())}); make one with "
                '`python -c "import secrets; print(secrets.token_urlsafe(50))"`.'
            )
        header_name.encode("ascii")  # a header name is ASCII; fail at start-up, not per request
        for origin in trusted_origins:
            parts = urlsplit(origin)
            if parts.scheme not in ("http", "https") or not parts.netloc or parts.path:
                raise ValueError(
                    f"Invalid trusted origin {origin!r} (CSRF_TRUSTED_ORIGINS): write "
                    "scheme://host[:port], for example 'https://app.example.com'."
                )
        self._key = hmac.new(secret_key.encode(), b"tempest.csrf", hashlib.sha256).digest()
        self.cookie_name = cookie_name
        self.header_name = header_name
        self.session_cookie = session_cookie
        self.cookie_secure = cookie_secure
        self.cookie_samesite = _same_site(cookie_name, cookie_samesite)
        self.cookie_path = cookie_path
        self.cookie_domain = cookie_domain
        self.cookie_max_age = cookie_max_age
        self.trusted_origins = frozenset(origin.lower().rstrip("/") for origin in trusted_origins)
        self.header_key = header_name.lower().encode("ascii")
        # Validate the cookie's name and attributes once, with a throw-away response.
        self.set_cookie(Response(), self.issue(None))

    def _signature(self, nonce: bytes, session: str | None) -> bytes:
        message = nonce + b"|" + (session or "").encode("utf-8", "surrogateescape")
        digest = hmac.digest(self._key, message, "sha256")  # one-shot: 3x cheaper than new()
        return base64.urlsafe_b64encode(digest).rstrip(b"=")

    def issue(self, session: str | None) -> str:
        """A new token bound to ``session``.

        Args:
            session: The session cookie's value, or None when there is no session.
        """
        nonce = secrets.token_urlsafe(18).encode("ascii")
        return (nonce + b"." + self._signature(nonce, session)).decode("ascii")

    def is_valid(self, token: str | None, session: str | None) -> bool:
        """Whether ``token`` was issued by this key for ``session``, in constant time.

        Args:
            token: The CSRF cookie's value (None or anything malformed is invalid).
            session: The session cookie's value, or None.
        """
        if not token or len(token) != _TOKEN_CHARS or not token.isascii():
            return False
        raw = token.encode("ascii")
        nonce, dot, signature = raw[:_NONCE_CHARS], raw[_NONCE_CHARS], raw[_NONCE_CHARS + 1 :]
        if dot != ord("."):
            return False
        return hmac.compare_digest(signature, self._signature(nonce, session))

    def set_cookie(self, response: Response, token: str) -> None:
        """Put ``token`` in the CSRF cookie of ``response`` (readable by JavaScript).

        Args:
            response: The response to add the ``Set-Cookie`` header to.
            token: The token, from :meth:`issue`.
        """
        set_cookie(
            response,
            self.cookie_name,
            token,
            max_age=self.cookie_max_age,
            path=self.cookie_path,
            domain=self.cookie_domain,
            secure=self.cookie_secure,
            http_only=False,  # the page's script reads it to send it back in the header
            same_site=self.cookie_samesite,
        )

    def cookie_header(self, token: str) -> bytes:
        """The ``Set-Cookie`` header value that stores ``token``.

        Args:
            token: The token, from :meth:`issue`.
        """
        response = Response()
        self.set_cookie(response, token)
        return response.raw_headers[-1][1]

    def failure(
        self,
        cookies: dict[str, str],
        header: str | None,
        origin: str | None,
        referer: str | None,
        scheme: str,
        host: str | None,
    ) -> str | None:
        """Why a request fails the check (a reason key), or None when it passes.

        Only the checking; whether a request is checked at all (method, path, session
        cookie) is the caller's decision.

        Args:
            cookies: The request's cookies.
            header: The token header's value, or None.
            origin: The ``Origin`` header, or None.
            referer: The ``Referer`` header, or None.
            scheme: ``http`` or ``https``, as the application sees the request.
            host: The ``Host`` header, or None.

        Returns:
            ``bad_origin``, ``missing_cookie``, ``bad_cookie``, ``missing_token``,
            ``token_mismatch``, or None.
        """
        if not self._origin_ok(origin, referer, scheme, host):
            return "bad_origin"
        cookie = cookies.get(self.cookie_name)
        if not cookie:
            return "missing_cookie"
        session = cookies.get(self.session_cookie) if self.session_cookie else None
        if not self.is_valid(cookie, session):
            return "bad_cookie"
        if not header:
            return "missing_token"
        if len(header) > _MAX_HEADER or not hmac.compare_digest(
            header.encode("utf-8", "surrogateescape"), cookie.encode("utf-8", "surrogateescape")
        ):
            return "token_mismatch"
        return None

    def _origin_ok(
        self, origin: str | None, referer: str | None, scheme: str, host: str | None
    ) -> bool:
        if origin is not None:
            if origin == "null":  # sandboxed frames, file: pages, some redirects
                return False
            return self._same_or_trusted(origin, host)
        if scheme == "https":  # Django: on HTTPS a missing Referer is a failure
            if not referer:
                return False
            try:
                parts = urlsplit(referer)
            except ValueError:  # "https://[::1" and the like
                return False
            return parts.scheme == "https" and self._same_or_trusted(
                f"{parts.scheme}://{parts.netloc}", host
            )
        return True

    def _same_or_trusted(self, origin: str, host: str | None) -> bool:
        origin = origin.lower()
        if origin in self.trusted_origins:
            return True
        # This host: compared without the scheme, which a TLS-terminating proxy hides.
        netloc = origin.partition("://")[2]
        return host is not None and netloc == host.lower()


def _headers(scope: Scope, tokens: CSRFTokens) -> tuple[str, str | None, str | None, str | None]:
    """Cookie (all Cookie headers joined), token header, Origin, Referer, decoded latin-1."""
    cookie_parts: list[bytes] = []
    token = origin = referer = None
    header_key = tokens.header_key
    for name, value in scope["headers"]:
        if name == b"cookie":
            cookie_parts.append(value)
        elif name == header_key:
            token = value.decode("latin-1")
        elif name == b"origin":
            origin = value.decode("latin-1")
        elif name == b"referer":
            referer = value.decode("latin-1")
    return b"; ".join(cookie_parts).decode("latin-1"), token, origin, referer


def _host(scope: Scope) -> str | None:
    for name, value in scope["headers"]:
        if name == b"host":
            return str(value.decode("latin-1"))
    return None


def _is_exempt(path: str, exact: frozenset[str], prefixes: tuple[str, ...]) -> bool:
    return path in exact or path.startswith(prefixes)


class CSRFMiddleware:
    """Refuse unsafe cookie-authenticated requests without a valid CSRF token (403).

    Pure ASGI; see the module docstring for the scheme. A refusal is the
    ``{detail, code, details}`` envelope with code ``CSRF_FAILED`` and
    ``details.reason`` one of ``missing_cookie``, ``missing_token``, ``bad_cookie``,
    ``token_mismatch``, ``bad_origin``.

    Example::

        app.add_middleware(
            CSRFMiddleware,
            secret_key=settings.SECRET_KEY,
            session_cookie="session",
            exempt_paths=("/admin", "/webhooks"),
        )
    """

    def __init__(
        self,
        app: ASGIApp,
        secret_key: str,
        *,
        cookie_name: str = "csrftoken",
        header_name: str = "X-CSRF-Token",
        session_cookie: str | None = None,
        cookie_secure: bool = True,
        cookie_samesite: SameSite | str = SameSite.LAX,
        cookie_path: str = "/",
        cookie_domain: str | None = None,
        trusted_origins: Sequence[str] = (),
        exempt_paths: Collection[str] = (),
    ) -> None:
        """Wrap ``app``.

        Args:
            app: The ASGI application to wrap.
            secret_key: The project's ``SECRET_KEY`` (at least 32 bytes).
            cookie_name: Name of the CSRF cookie.
            header_name: Request header carrying the token.
            session_cookie: The cookie that authenticates users; only requests carrying
                it are checked, and tokens are bound to its value. None: every unsafe
                request is checked.
            cookie_secure: ``Secure`` attribute of the CSRF cookie.
            cookie_samesite: ``SameSite`` attribute of the CSRF cookie.
            cookie_path: ``Path`` attribute of the CSRF cookie.
            cookie_domain: ``Domain`` attribute of the CSRF cookie.
            trusted_origins: Origins allowed besides this host in ``Origin``/``Referer``.
            exempt_paths: Paths never checked, each with every path under it
                (``"/admin"`` exempts ``/admin`` and ``/admin/...``).

        Raises:
            ValueError: See :class:`CSRFTokens`.
        """
        self.app = app
        self.tokens = CSRFTokens(
            secret_key,
            cookie_name=cookie_name,
            header_name=header_name,
            session_cookie=session_cookie,
            cookie_secure=cookie_secure,
            cookie_samesite=cookie_samesite,
            cookie_path=cookie_path,
            cookie_domain=cookie_domain,
            trusted_origins=trusted_origins,
        )
        stripped = [path.rstrip("/") for path in exempt_paths]
        self._exact = frozenset(path or "/" for path in stripped)
        self._prefixes = tuple(path + "/" for path in stripped)
        self._session_prefix = (session_cookie + "=").encode("latin-1") if session_cookie else None
        self._csrf_prefix = (cookie_name + "=").encode("latin-1")

    @classmethod
    def from_settings(cls, app: ASGIApp, settings: Any) -> CSRFMiddleware:
        """Build the middleware for the ``MIDDLEWARE`` setting, from the ``CSRF_*`` settings.

        The admin (``tempest.contrib.admin`` installed, under ``/admin``) is exempt: it
        checks its own per-session form token.

        Args:
            app: The ASGI application to wrap.
            settings: The project settings.

        Returns:
            The middleware.
        """
        return cls(app, **_options(settings))

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        """Check an unsafe request, and keep the CSRF cookie current on the response."""
        if scope["type"] != "http" or _is_exempt(scope["path"], self._exact, self._prefixes):
            await self.app(scope, receive, send)
            return
        tokens = self.tokens
        raw_cookies, header, origin, referer = _headers(scope, tokens)
        cookies = cookie_parser(raw_cookies) if raw_cookies else {}
        session = cookies.get(tokens.session_cookie) if tokens.session_cookie else None
        checked = tokens.session_cookie is None or session is not None
        method = scope["method"]
        current = False  # whether the request's CSRF cookie is valid for its session
        if checked and method not in SAFE_METHODS:
            reason = tokens.failure(cookies, header, origin, referer, scope["scheme"], _host(scope))
            if reason is not None:
                await _refusal(reason, tokens.header_name)(scope, receive, send)
                return
            current = True
        elif checked:
            current = tokens.is_valid(cookies.get(tokens.cookie_name), session)
        # A stale or missing cookie is replaced on the response, unless the app sets one.
        refresh = checked and not current
        await self.app(scope, receive, self._sending(send, refresh=refresh, session=session))

    def _sending(self, send: Send, *, refresh: bool, session: str | None) -> Send:
        session_prefix = self._session_prefix
        csrf_prefix = self._csrf_prefix
        tokens = self.tokens

        async def sending(message: Message) -> None:
            if message["type"] == "http.response.start":
                new_session: str | None = None
                sets_csrf = False
                for name, value in message.get("headers", ()):
                    if name.lower() != b"set-cookie":
                        continue
                    if session_prefix is not None and value.startswith(session_prefix):
                        new_session = _cookie_value(value, session_prefix)
                    elif value.startswith(csrf_prefix):
                        sets_csrf = True
                if new_session is not None:  # signed in (or out): rotate the token
                    # A token the route set is bound to the old session: replace it.
                    headers = [
                        (name, value)
                        for name, value in message.get("headers", ())
                        if not (name.lower() == b"set-cookie" and value.startswith(csrf_prefix))
                    ]
                    token = tokens.issue(new_session or None)
                    headers.append((b"set-cookie", tokens.cookie_header(token)))
                    message = {**message, "headers": headers}
                elif refresh and not sets_csrf:
                    token = tokens.issue(session)
                    headers = [
                        *message.get("headers", ()),
                        (b"set-cookie", tokens.cookie_header(token)),
                    ]
                    message = {**message, "headers": headers}
            await send(message)

        return sending


def _cookie_value(header: bytes, prefix: bytes) -> str:
    value = header[len(prefix) :].split(b";", 1)[0].strip()
    if value.startswith(b'"') and value.endswith(b'"') and len(value) >= 2:
        value = value[1:-1]
    return value.decode("latin-1")


def _refusal(reason: str, header: str) -> JSONResponse:
    return LocalizedErrorResponse(
        {"detail": _reason_message(reason, header), "code": _CODE, "details": {"reason": reason}},
        message_key=f"{_CODE}:{reason}",
        message_params={"header": header},
        status_code=403,
    )


def _options(settings: Any) -> dict[str, Any]:
    secure = getattr(settings, "CSRF_COOKIE_SECURE", None)
    exempt = list(getattr(settings, "CSRF_EXEMPT_PATHS", []) or [])
    if "tempest.contrib.admin" in (getattr(settings, "INSTALLED_APPS", None) or []):
        exempt.append("/admin")
    return {
        "secret_key": getattr(settings, "SECRET_KEY", "") or "",
        "cookie_name": settings.CSRF_COOKIE_NAME,
        "header_name": settings.CSRF_HEADER_NAME,
        "session_cookie": settings.CSRF_SESSION_COOKIE_NAME,
        "cookie_secure": (not getattr(settings, "DEBUG", False)) if secure is None else secure,
        "cookie_samesite": settings.CSRF_COOKIE_SAMESITE,
        "cookie_domain": settings.CSRF_COOKIE_DOMAIN,
        "trusted_origins": list(settings.CSRF_TRUSTED_ORIGINS),
        "exempt_paths": exempt,
    }


def make_csrf_token_dependency(
    tokens: CSRFTokens | None = None, *, verify: bool = True
) -> Callable[[Request, Response], Awaitable[str]]:
    """A dependency that gives a route the request's CSRF token, and checks it.

    For a single-page app, a ``GET /csrf`` route returns the token it depends on; the
    app sends it back in the header. Without :class:`CSRFMiddleware`, the same dependency
    on an unsafe route checks the request as the middleware would (``verify=True``).

    Example::

        csrf_token = make_csrf_token_dependency()

        @router.get("/csrf")
        async def get_csrf(token: str = Depends(csrf_token)) -> dict[str, str]:
            return {"csrf_token": token}

    Args:
        tokens: The token configuration; None reads the ``SECRET_KEY`` and ``CSRF_*``
            settings on first use.
        verify: Check unsafe requests (raise :class:`CSRFError`, answered 403).

    Returns:
        The dependency; it returns a token valid for the request's session and sets the
        CSRF cookie on the response when the request's cookie is missing or stale.
    """
    configured: list[CSRFTokens] = [tokens] if tokens is not None else []

    async def csrf_token(request: Request, response: Response) -> str:
        if not configured:
            from tempest.conf import settings

            options = _options(settings)
            options.pop("exempt_paths")
            configured.append(CSRFTokens(**options))
        current = configured[0]
        cookies = request.cookies
        session_name = current.session_cookie
        session = cookies.get(session_name) if session_name else None
        checked = session_name is None or session is not None
        if verify and checked and request.method not in SAFE_METHODS:
            headers = request.headers
            reason = current.failure(
                cookies,
                headers.get(current.header_name),
                headers.get("origin"),
                headers.get("referer"),
                request.url.scheme,
                headers.get("host"),
            )
            if reason is not None:
                raise CSRFError(
                    _reason_message(reason, current.header_name), details={"reason": reason}
                )
        token = cookies.get(current.cookie_name)
        if token is not None and current.is_valid(token, session):
            return token
        token = current.issue(session)
        current.set_cookie(response, token)
        return token

    return csrf_token
