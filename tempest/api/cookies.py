r"""Cookies with safe defaults: ``HttpOnly``, ``Secure`` and ``SameSite=Lax`` unless told so.

:func:`set_cookie` and :func:`clear_cookie` write through Starlette's
:meth:`~starlette.responses.Response.set_cookie` / ``delete_cookie``; what they add is
the defaults and the refusal of names and values a browser would split or drop:

- a name must be an RFC 6265 token (no spaces, controls, ``( ) < > @ , ; : \ " / [ ] ? = { }``);
- a value must be RFC 6265 cookie-octets (no spaces, controls, ``"``, ``,``, ``;`` or
  ``\``): Python's cookie module would quote such a value, which browsers keep quotes
  and all. Encode the value first (base64url, an itsdangerous serializer...);
- ``Path`` and ``Domain`` hold no ``;`` and no control characters.

A refused cookie is a :class:`ValueError` naming the cookie, raised before any header is
written. ``SameSite.NONE`` forces ``Secure``: browsers drop a ``SameSite=None`` cookie
that is not ``Secure``.
"""

from __future__ import annotations

import re
from datetime import datetime
from typing import Literal, cast

from starlette.responses import Response

from tempest.utils.enums import BaseStrEnum

__all__ = ["SameSite", "clear_cookie", "set_cookie"]

# RFC 6265 section 4.1.1: token (RFC 2616) and cookie-octet.
_NAME = re.compile(r"[!#$%&'*+\-.^_`|~0-9A-Za-z]+")
_VALUE = re.compile(r"[\x21\x23-\x2b\x2d-\x3a\x3c-\x5b\x5d-\x7e]*")
_ATTRIBUTE = re.compile(r"[\x20-\x3a\x3c-\x7e]*")  # printable ASCII without ';'
_MAX_BYTES = 4096  # what browsers keep of one cookie (name, value and attributes)


class SameSite(BaseStrEnum):
    """The ``SameSite`` attribute of a cookie.

    ``LAX`` (the default) sends the cookie on top-level navigations from other sites but
    not on their cross-site subrequests (forms posted by ``fetch``, images, iframes);
    ``STRICT`` never sends it cross-site; ``NONE`` always does, and requires ``Secure``.
    """

    LAX = "lax"
    STRICT = "strict"
    NONE = "none"


def _check(key: str, value: str, path: str | None, domain: str | None) -> None:
    if not isinstance(key, str) or not _NAME.fullmatch(key):
        raise ValueError(
            f"Invalid cookie name {key!r}: use letters, digits and !#$%&'*+-.^_`|~ only."
        )
    if not isinstance(value, str) or not _VALUE.fullmatch(value):
        raise ValueError(
            f"Invalid value for cookie {key!r}: spaces, control characters, non-ASCII "
            'characters, ", comma, ; and \\ are not allowed; encode the value first '
            "(for example with base64.urlsafe_b64encode)."
        )
    for name, attribute in (("path", path), ("domain", domain)):
        if attribute is not None and not _ATTRIBUTE.fullmatch(attribute):
            raise ValueError(
                f"Invalid {name} for cookie {key!r}: {attribute!r} holds a ';' or a "
                "control or non-ASCII character."
            )
    if len(key) + len(value) > _MAX_BYTES:
        raise ValueError(
            f"Cookie {key!r} is {len(key) + len(value)} bytes; browsers drop cookies over "
            f"{_MAX_BYTES} bytes. Keep the state on the server and put its id in the cookie."
        )


def _same_site(key: str, same_site: SameSite | str) -> SameSite:
    try:
        return SameSite(same_site.lower() if isinstance(same_site, str) else same_site)
    except ValueError:
        raise ValueError(
            f"Invalid same_site for cookie {key!r}: {same_site!r}; use SameSite.LAX, "
            "SameSite.STRICT or SameSite.NONE."
        ) from None


def set_cookie(
    response: Response,
    key: str,
    value: str = "",
    *,
    max_age: int | None = None,
    expires: datetime | str | int | None = None,
    path: str = "/",
    domain: str | None = None,
    secure: bool = True,
    http_only: bool = True,
    same_site: SameSite | str = SameSite.LAX,
) -> None:
    """Add a ``Set-Cookie`` header to ``response``, safe by default.

    Example::

        set_cookie(response, key="session", value=token, max_age=3600)

    Args:
        response: The response (a FastAPI route can take ``response: Response``).
        key: The cookie's name (an RFC 6265 token).
        value: The cookie's value (RFC 6265 cookie-octets; encode anything else).
        max_age: Lifetime in seconds (``Max-Age``); None makes a session cookie.
        expires: ``Expires``: a datetime (UTC), an HTTP date string, or seconds from now.
        path: The URL path the browser sends the cookie to.
        domain: The domain the cookie is sent to; None keeps it to this host only.
        secure: Send only over HTTPS; forced on by ``SameSite.NONE``.
        http_only: Hide the cookie from JavaScript.
        same_site: ``SameSite.LAX`` (default), ``STRICT`` or ``NONE``.

    Raises:
        ValueError: The name, value, path, domain or same_site is invalid; the message
            names the cookie.
    """
    _check(key, value, path, domain)
    site = _same_site(key, same_site)
    response.set_cookie(
        key,
        value,
        max_age=max_age,
        expires=expires,
        path=path,
        domain=domain,
        secure=secure or site is SameSite.NONE,
        httponly=http_only,
        samesite=cast(Literal["lax", "strict", "none"], site.value),
    )


def clear_cookie(
    response: Response,
    key: str,
    *,
    path: str = "/",
    domain: str | None = None,
    secure: bool = True,
    http_only: bool = True,
    same_site: SameSite | str = SameSite.LAX,
) -> None:
    """Tell the browser to delete cookie ``key`` (empty value, ``Max-Age=0``, past ``Expires``).

    A browser deletes only the cookie with the same name, path and domain: pass those
    the cookie was set with.

    Args:
        response: The response.
        key: The cookie's name.
        path: The path the cookie was set with.
        domain: The domain the cookie was set with.
        secure: ``Secure`` attribute of the deletion; forced on by ``SameSite.NONE``.
        http_only: ``HttpOnly`` attribute of the deletion.
        same_site: ``SameSite`` attribute of the deletion.

    Raises:
        ValueError: The name, path, domain or same_site is invalid; the message names the
            cookie.
    """
    _check(key, "", path, domain)
    site = _same_site(key, same_site)
    response.delete_cookie(
        key,
        path=path,
        domain=domain,
        secure=secure or site is SameSite.NONE,
        httponly=http_only,
        samesite=cast(Literal["lax", "strict", "none"], site.value),
    )
